"""What collections needs from the BECS business-day calendar, as an interface the runtime fills."""

from datetime import date, datetime
from typing import Protocol


class BusinessCalendar(Protocol):
    """BECS business days, passed in so the domain stays pure (the real calendar reads holiday data).

    ``services/collections/calendar.py`` adapts the runtime's BECS calendar to this interface.
    """

    def add_business_days(self, day: date, count: int) -> date:
        """``day`` rolled forward to a business day (itself if it is one), then ``count`` business
        days on; ``count = 0`` only rolls forward."""
        ...

    def settlement_date(self, submitted_at: datetime) -> date:
        """The day a BECS debit submitted at ``submitted_at`` settles: its batch's business day
        (the 18:30 Melbourne cut-off decides which) plus two business days."""
        ...
