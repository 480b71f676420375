"""Australian business days: public holidays by state, and the days BECS settles.

Holidays come from the maintained ``holidays`` package, built once per year and cached, so a
lookup is a weekday test and a set membership test. Three kinds of calendar:

- ``BusinessCalendar()``: national. The package's national list leaves out substitute days
  (Monday 27 January 2025 for a Sunday Australia Day), so a national holiday here is a weekday
  that every state and territory keeps as a public holiday.
- ``BusinessCalendar("VIC")`` and the like: that state's or territory's public holidays.
- ``BECS_CALENDAR``: the days BECS settles. Direct entry settles across Exchange Settlement
  Accounts in RITS, which the Reserve Bank opens on days when banks are generally open in
  Sydney or Melbourne and closes on the public holidays observed in both NSW and Victoria. So
  BECS does not settle on a weekday that is a public holiday in both states: New Year's Day,
  Australia Day, Good Friday, Easter Monday, Anzac Day, King's Birthday, Christmas Day and Boxing
  Day, their shared substitute days, and one-offs such as the 2022 National Day of Mourning.
  A holiday kept by one state alone (Melbourne Cup Day, NSW Labour Day, NSW's Monday after a
  weekend Anzac Day in 2026) is a settlement day.

A BECS debit submitted before the 18:30 Melbourne cut-off on a BECS business day goes out in that
day's batch, otherwise in the next business day's, and settles two business days after that.

Years 1801 to 2100 are supported, the range the ``holidays`` package covers; a date outside it
raises ``ValueError`` rather than being treated as free of holidays.
"""

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import holidays
from holidays.countries.australia import Australia

SUBDIVISIONS: Final = ("ACT", "NSW", "NT", "QLD", "SA", "TAS", "VIC", "WA")
MELBOURNE: Final = "Australia/Melbourne"
BECS_CUTOFF: Final = time(18, 30)
BECS_SETTLEMENT_BUSINESS_DAYS: Final = 2
FIRST_SUPPORTED_YEAR: Final[int] = Australia.start_year
LAST_SUPPORTED_YEAR: Final[int] = Australia.end_year

_ONE_DAY: Final = timedelta(days=1)
_SATURDAY: Final = 5


class BusinessCalendar:
    """Weekdays that are not public holidays, nationally or in one state or territory.

    ``add_business_days(day, n)`` first rolls ``day`` forward to a business day (itself if it
    is one), then steps ``n`` business days on. So ``n = 0`` rolls forward, two business days
    from a Saturday is the Wednesday, and ``add(add(d, a), b) == add(d, a + b)`` for every
    ``d``. It does not go backwards: a negative ``n`` raises ``ValueError``.
    ``business_days_between(start, end)`` counts business days in ``[start, end)``, negative
    when ``end`` is before ``start``, so that ``business_days_between(d, add_business_days(d, n))
    == n`` for every ``d``.
    """

    def __init__(self, subdivision: str | None = None) -> None:
        if subdivision is not None and subdivision not in SUBDIVISIONS:
            raise ValueError(
                f"unknown subdivision {subdivision!r}: expected one of {', '.join(SUBDIVISIONS)}"
                " or None for national holidays only"
            )
        self._subdivision = subdivision

    def __repr__(self) -> str:
        return f"BusinessCalendar({self._subdivision!r})"

    def is_business_day(self, day: date) -> bool:
        _require_date(day)
        return day.weekday() < _SATURDAY and day not in self._weekday_holidays(day.year)

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        following = day + _ONE_DAY
        while not self.is_business_day(following):
            following += _ONE_DAY
        return following

    def add_business_days(self, day: date, count: int) -> date:
        if count < 0:
            raise ValueError(f"cannot add a negative number of business days ({count})")
        result = day
        while not self.is_business_day(result):
            result += _ONE_DAY
        for _ in range(count):
            result = self.next_business_day(result)
        return result

    def business_days_between(self, start: date, end: date) -> int:
        _require_date(start)
        _require_date(end)
        if end < start:
            return -self.business_days_between(end, start)
        full_weeks, extra_days = divmod((end - start).days, 7)
        weekdays = full_weeks * 5 + sum(
            (start.weekday() + offset) % 7 < _SATURDAY for offset in range(extra_days)
        )
        holidays_in_range = sum(
            start <= holiday < end
            for year in range(start.year, end.year + 1)
            for holiday in self._weekday_holidays(year)
        )
        return weekdays - holidays_in_range

    def next_business_day_at(self, moment: datetime, at: time, tz: str = MELBOURNE) -> datetime:
        """The first instant strictly after ``moment`` that reads ``at`` in ``tz`` on a
        business day, in UTC.

        Where a daylight-saving change repeats the wall time, the answer is whichever of the two
        instants comes first after ``moment``; where it skips the wall time, that day has no
        such instant and a later day is chosen.
        (Melbourne changes at 2 or 3 am on a Sunday, so neither happens there.)
        """
        _require_aware(moment, "moment")
        if at.tzinfo is not None:
            raise ValueError("`at` is a wall-clock time in `tz`: give it without a tzinfo")
        zone = ZoneInfo(tz)
        day = moment.astimezone(zone).date()
        while True:
            if self.is_business_day(day):
                for instant in _instants_reading(day, at, zone):
                    if instant > moment:
                        return instant
            day += _ONE_DAY

    def _weekday_holidays(self, year: int) -> frozenset[date]:
        if self._subdivision is None:
            return _national_weekday_holidays(year)
        return _weekday_holidays(self._subdivision, year)


class BecsCalendar(BusinessCalendar):
    """The days BECS settles: weekdays except public holidays kept in both NSW and Victoria."""

    def __init__(self) -> None:
        super().__init__()

    def __repr__(self) -> str:
        return "BecsCalendar()"

    def _weekday_holidays(self, year: int) -> frozenset[date]:
        return _becs_non_settlement_weekdays(year)


BECS_CALENDAR: Final = BecsCalendar()


def becs_submission_date(submitted_at: datetime) -> date:
    """The business day whose batch carries a debit created at ``submitted_at``."""
    _require_aware(submitted_at, "submitted_at")
    local = submitted_at.astimezone(ZoneInfo(MELBOURNE))
    if BECS_CALENDAR.is_business_day(local.date()) and local.time() < BECS_CUTOFF:
        return local.date()
    return BECS_CALENDAR.next_business_day(local.date())


def becs_settlement_date(submitted_at: datetime) -> date:
    return BECS_CALENDAR.add_business_days(becs_submission_date(submitted_at), BECS_SETTLEMENT_BUSINESS_DAYS)


@functools.cache
def _weekday_holidays(subdivision: str, year: int) -> frozenset[date]:
    if not FIRST_SUPPORTED_YEAR <= year <= LAST_SUPPORTED_YEAR:
        raise ValueError(
            f"no holiday data for {year}: supported years are {FIRST_SUPPORTED_YEAR} to {LAST_SUPPORTED_YEAR}"
        )
    public_holidays = holidays.country_holidays("AU", subdiv=subdivision, years=year)
    return frozenset(day for day in public_holidays if day.weekday() < _SATURDAY)


@functools.cache
def _national_weekday_holidays(year: int) -> frozenset[date]:
    return frozenset.intersection(*(_weekday_holidays(state, year) for state in SUBDIVISIONS))


@functools.cache
def _becs_non_settlement_weekdays(year: int) -> frozenset[date]:
    return _weekday_holidays("NSW", year) & _weekday_holidays("VIC", year)


def _instants_reading(day: date, at: time, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants, earliest first, at which the wall clock in ``zone`` reads ``at`` on
    ``day``: none in a daylight-saving gap, two in a repeated hour, otherwise one."""
    instants = set()
    for fold in (0, 1):
        instant = datetime.combine(day, at, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        wall = instant.astimezone(zone)
        if wall.date() == day and wall.time() == at:
            instants.add(instant)
    return sorted(instants)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got the naive {moment.isoformat()}")


def _require_date(day: date) -> None:
    # A datetime is a date to the type checker but never equal to one, so it would slip past
    # every holiday unnoticed.
    if isinstance(day, datetime):
        raise TypeError(f"expected a date, got the datetime {day.isoformat()}; use .date()")
