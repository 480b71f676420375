"""When BECS answers in realistic mode.

The day comes from the project's BECS calendar (18:30 Melbourne cut-off, then BECS business
days); the time of day is the simulator's choice: Stripe reports outcomes during the morning.
"""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from services.runtime.calendar import BECS_CALENDAR, MELBOURNE, becs_settlement_date, becs_submission_date

MELBOURNE_ZONE = ZoneInfo(MELBOURNE)
OUTCOME_TIME = time(10, 0)


def becs_settlement_at(submitted_at: datetime) -> datetime:
    return datetime.combine(becs_settlement_date(submitted_at), OUTCOME_TIME, MELBOURNE_ZONE)


def becs_business_days_after(submitted_at: datetime, days: int) -> datetime:
    """The morning ``days`` BECS business days after the batch ``submitted_at`` goes out in."""
    day = BECS_CALENDAR.add_business_days(becs_submission_date(submitted_at), days)
    return datetime.combine(day, OUTCOME_TIME, MELBOURNE_ZONE)
