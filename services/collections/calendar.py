"""The runtime's BECS calendar, in the shape the collections domain asks for."""

from datetime import date, datetime

from services.runtime.calendar import BECS_CALENDAR, becs_settlement_date


class BecsBusinessCalendar:
    """Satisfies ``domain.business_days.BusinessCalendar`` with the runtime's BECS calendar."""

    def add_business_days(self, day: date, count: int) -> date:
        return BECS_CALENDAR.add_business_days(day, count)

    def settlement_date(self, submitted_at: datetime) -> date:
        return becs_settlement_date(submitted_at)
