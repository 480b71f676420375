"""When a recipient can expect a pot that is still to come: the cycle's debit day (the group's start
date plus a cadence per cycle before it, moved to a BECS business day) and the debits' settlement
after it. An estimate: a retried debit or round comes later. Pure: no I/O."""

import calendar as months
from datetime import date, timedelta

from services.payouts.domain.decision import BusinessDays

# A BECS debit settles about two business days after its submission; the transfers follow at once.
SETTLEMENT_BUSINESS_DAYS = 3


def cycle_day(start: date, cadence: str, cycle_number: int) -> date:
    steps = cycle_number - 1
    if cadence == "weekly":
        return start + timedelta(weeks=steps)
    if cadence == "fortnightly":
        return start + timedelta(weeks=2 * steps)
    month_index = start.month - 1 + steps
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, months.monthrange(year, month)[1]))


def expected_pot_day(start: date, cadence: str, cycle_number: int, calendar: BusinessDays) -> date:
    debit_day = calendar.add_business_days(cycle_day(start, cadence, cycle_number), 0)
    return calendar.add_business_days(debit_day, SETTLEMENT_BUSINESS_DAYS)
