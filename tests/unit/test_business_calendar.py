"""The Australian business-day calendar: its laws, known holidays, and BECS settlement dates."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.runtime.calendar import (
    BECS_CALENDAR,
    BECS_CUTOFF,
    MELBOURNE,
    SUBDIVISIONS,
    BusinessCalendar,
    becs_settlement_date,
    becs_submission_date,
)

MELBOURNE_ZONE = ZoneInfo(MELBOURNE)
NATIONAL = BusinessCalendar()
VIC = BusinessCalendar("VIC")
QLD = BusinessCalendar("QLD")
WA = BusinessCalendar("WA")
ACT = BusinessCalendar("ACT")

# Each calendar with the states whose public holidays it must all share, for an oracle taken
# straight from the holidays package.
CALENDARS_AND_STATES = [
    (NATIONAL, SUBDIVISIONS),
    (BECS_CALENDAR, ("NSW", "VIC")),
    *((BusinessCalendar(state), (state,)) for state in SUBDIVISIONS),
]

calendars_and_states = st.sampled_from(CALENDARS_AND_STATES)
calendars = st.sampled_from([calendar for calendar, _ in CALENDARS_AND_STATES])
# Far enough from 2100, the last year with holiday data, for the largest step below.
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 6, 30))
steps = st.integers(min_value=0, max_value=40)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 6, 30),
    timezones=st.sampled_from([UTC, MELBOURNE_ZONE, ZoneInfo("Australia/Perth")]),
    allow_imaginary=False,
)
wall_times = st.times()
zones = st.sampled_from([MELBOURNE, "Australia/Sydney", "Australia/Perth", "Australia/Adelaide"])


def holiday_in_all(states: tuple[str, ...], day: date) -> bool:
    return all(day in holidays.country_holidays("AU", subdiv=state, years=day.year) for state in states)


# Laws


@settings(max_examples=150)
@given(calendar=calendars, day=days, count=steps, more=st.integers(min_value=1, max_value=20))
def test_adding_more_business_days_lands_strictly_later(
    calendar: BusinessCalendar, day: date, count: int, more: int
) -> None:
    assert calendar.add_business_days(day, count) < calendar.add_business_days(day, count + more)


@settings(max_examples=150)
@given(
    calendar=calendars,
    day=days,
    later_by=st.integers(min_value=0, max_value=30),
    count=steps,
)
def test_adding_to_a_later_date_never_lands_earlier(
    calendar: BusinessCalendar, day: date, later_by: int, count: int
) -> None:
    later = day + timedelta(days=later_by)
    assert calendar.add_business_days(day, count) <= calendar.add_business_days(later, count)


@settings(max_examples=150)
@given(calendar_and_states=calendars_and_states, day=days, count=steps)
def test_adding_business_days_never_lands_on_a_weekend_or_holiday(
    calendar_and_states: tuple[BusinessCalendar, tuple[str, ...]], day: date, count: int
) -> None:
    calendar, states = calendar_and_states
    result = calendar.add_business_days(day, count)
    assert result.weekday() < 5
    assert not holiday_in_all(states, result)


@settings(max_examples=150)
@given(calendar=calendars, day=days, first=steps, second=steps)
def test_adding_business_days_in_two_steps_equals_adding_them_at_once(
    calendar: BusinessCalendar, day: date, first: int, second: int
) -> None:
    in_two_steps = calendar.add_business_days(calendar.add_business_days(day, first), second)
    assert in_two_steps == calendar.add_business_days(day, first + second)


@settings(max_examples=150)
@given(calendar=calendars, day=days, count=steps)
def test_counting_business_days_undoes_adding_them(calendar: BusinessCalendar, day: date, count: int) -> None:
    result = calendar.add_business_days(day, count)
    assert calendar.business_days_between(day, result) == count


@settings(max_examples=150)
@given(calendar=calendars, start=days, span=st.integers(min_value=0, max_value=400))
def test_counting_business_days_agrees_with_checking_each_day(
    calendar: BusinessCalendar, start: date, span: int
) -> None:
    end = start + timedelta(days=span)
    by_hand = sum(calendar.is_business_day(start + timedelta(days=d)) for d in range(span))
    assert calendar.business_days_between(start, end) == by_hand
    assert calendar.business_days_between(end, start) == -by_hand
    assert calendar.add_business_days(start, by_hand) == calendar.add_business_days(end, 0)


@settings(max_examples=150)
@given(calendar=calendars, moment=moments, at=wall_times, tz=zones)
def test_next_business_day_at_is_the_first_later_instant_reading_that_wall_time(
    calendar: BusinessCalendar, moment: datetime, at: time, tz: str
) -> None:
    result = calendar.next_business_day_at(moment, at, tz)
    local = result.astimezone(ZoneInfo(tz))
    assert result.tzinfo is UTC
    assert result > moment
    assert local.time() == at
    assert calendar.is_business_day(local.date())
    skipped = moment.astimezone(ZoneInfo(tz)).date()
    while skipped < local.date():
        at_that_day = datetime.combine(skipped, at, tzinfo=ZoneInfo(tz))
        assert not calendar.is_business_day(skipped) or at_that_day <= moment
        skipped += timedelta(days=1)


@settings(max_examples=200)
@given(submitted_at=moments)
def test_settlement_is_a_becs_business_day_at_least_two_business_days_after_submission(
    submitted_at: datetime,
) -> None:
    settles_on = becs_settlement_date(submitted_at)
    submitted_on = submitted_at.astimezone(MELBOURNE_ZONE).date()
    assert BECS_CALENDAR.is_business_day(settles_on)
    business_days_after = BECS_CALENDAR.business_days_between(
        submitted_on + timedelta(days=1), settles_on + timedelta(days=1)
    )
    assert business_days_after >= 2


@settings(max_examples=150)
@given(submitted_at=moments, later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)))
def test_a_later_submission_never_settles_earlier(submitted_at: datetime, later_by: timedelta) -> None:
    assert becs_settlement_date(submitted_at) <= becs_settlement_date(submitted_at + later_by)


# Known holidays

HOLIDAYS = [
    pytest.param(NATIONAL, date(2025, 12, 25), id="christmas-day"),
    pytest.param(NATIONAL, date(2025, 12, 26), id="boxing-day"),
    pytest.param(NATIONAL, date(2026, 12, 28), id="boxing-day-on-saturday-observed-monday"),
    pytest.param(NATIONAL, date(2026, 1, 1), id="new-years-day"),
    pytest.param(NATIONAL, date(2026, 1, 26), id="australia-day-on-a-monday"),
    pytest.param(NATIONAL, date(2025, 1, 27), id="australia-day-on-sunday-observed-monday"),
    pytest.param(NATIONAL, date(2030, 1, 28), id="australia-day-on-saturday-observed-monday"),
    pytest.param(NATIONAL, date(2026, 4, 3), id="good-friday"),
    pytest.param(NATIONAL, date(2026, 4, 6), id="easter-monday"),
    pytest.param(NATIONAL, date(2025, 4, 25), id="anzac-day"),
    pytest.param(ACT, date(2026, 4, 27), id="act-anzac-day-on-saturday-observed-monday"),
    pytest.param(VIC, date(2026, 6, 8), id="vic-kings-birthday-second-monday-of-june"),
    pytest.param(QLD, date(2026, 10, 5), id="qld-kings-birthday-first-monday-of-october"),
    pytest.param(WA, date(2026, 9, 28), id="wa-kings-birthday-last-monday-of-september"),
    pytest.param(VIC, date(2026, 11, 3), id="vic-melbourne-cup-first-tuesday-of-november"),
    pytest.param(BECS_CALENDAR, date(2026, 6, 8), id="becs-kings-birthday"),
    pytest.param(BECS_CALENDAR, date(2025, 1, 27), id="becs-australia-day-observed"),
    pytest.param(BECS_CALENDAR, date(2022, 9, 22), id="becs-national-day-of-mourning"),
]

WORKING_DAYS = [
    pytest.param(NATIONAL, date(2026, 4, 2), id="thursday-before-good-friday"),
    pytest.param(NATIONAL, date(2026, 4, 7), id="tuesday-after-easter-monday"),
    pytest.param(NATIONAL, date(2026, 4, 27), id="anzac-day-on-saturday-is-not-moved"),
    pytest.param(NATIONAL, date(2026, 6, 8), id="kings-birthday-is-not-national"),
    pytest.param(QLD, date(2026, 6, 8), id="qld-works-on-vic-kings-birthday"),
    pytest.param(WA, date(2026, 6, 8), id="wa-works-on-vic-kings-birthday"),
    pytest.param(VIC, date(2026, 10, 5), id="vic-works-on-qld-kings-birthday"),
    pytest.param(BusinessCalendar("NSW"), date(2026, 11, 3), id="nsw-works-on-melbourne-cup"),
    pytest.param(BECS_CALENDAR, date(2026, 11, 3), id="becs-settles-on-melbourne-cup"),
    pytest.param(BECS_CALENDAR, date(2026, 10, 5), id="becs-settles-on-nsw-labour-day"),
    pytest.param(BECS_CALENDAR, date(2026, 4, 27), id="becs-settles-on-nsw-only-anzac-monday"),
]


@pytest.mark.parametrize(("calendar", "day"), HOLIDAYS)
def test_known_holidays_are_not_business_days(calendar: BusinessCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert not calendar.is_business_day(day)


@pytest.mark.parametrize(("calendar", "day"), WORKING_DAYS)
def test_known_working_days_are_business_days(calendar: BusinessCalendar, day: date) -> None:
    assert calendar.is_business_day(day)


def test_weekends_are_not_business_days() -> None:
    assert not NATIONAL.is_business_day(date(2026, 3, 14))
    assert not NATIONAL.is_business_day(date(2026, 3, 15))
    assert NATIONAL.is_business_day(date(2026, 3, 16))


def test_adding_zero_rolls_a_weekend_forward_and_keeps_a_business_day() -> None:
    assert NATIONAL.add_business_days(date(2026, 3, 14), 0) == date(2026, 3, 16)
    assert NATIONAL.add_business_days(date(2026, 3, 16), 0) == date(2026, 3, 16)


def test_adding_from_a_saturday_counts_from_the_monday() -> None:
    assert NATIONAL.add_business_days(date(2026, 3, 14), 2) == date(2026, 3, 18)


def test_next_business_day_skips_good_friday_and_easter_monday() -> None:
    assert NATIONAL.next_business_day(date(2026, 4, 2)) == date(2026, 4, 7)


# BECS settlement


def melbourne(wall_time: str) -> datetime:
    return datetime.fromisoformat(wall_time).replace(tzinfo=MELBOURNE_ZONE)


def test_settlement_skips_good_friday_and_easter_monday() -> None:
    assert becs_settlement_date(melbourne("2026-04-02 10:00")) == date(2026, 4, 8)


def test_submission_after_the_cutoff_before_easter_settles_after_easter() -> None:
    assert becs_submission_date(melbourne("2026-04-02 19:00")) == date(2026, 4, 7)
    assert becs_settlement_date(melbourne("2026-04-02 19:00")) == date(2026, 4, 9)


def test_settlement_skips_christmas_and_the_observed_boxing_day() -> None:
    assert becs_settlement_date(melbourne("2026-12-24 12:00")) == date(2026, 12, 30)


def test_settlement_skips_new_years_day() -> None:
    just_before_cutoff = melbourne("2026-12-30 18:29:59")
    assert becs_settlement_date(just_before_cutoff) == date(2027, 1, 4)


def test_a_debit_submitted_at_the_cutoff_goes_in_the_next_batch() -> None:
    at_cutoff = datetime.combine(date(2026, 12, 30), BECS_CUTOFF, tzinfo=MELBOURNE_ZONE)
    assert becs_submission_date(at_cutoff) == date(2026, 12, 31)
    assert becs_settlement_date(at_cutoff) == date(2027, 1, 5)


def test_a_weekend_submission_goes_in_mondays_batch() -> None:
    assert becs_submission_date(melbourne("2026-03-14 09:00")) == date(2026, 3, 16)
    assert becs_settlement_date(melbourne("2026-03-14 09:00")) == date(2026, 3, 18)


def test_cutoff_follows_melbourne_daylight_saving() -> None:
    # 07:45 UTC is 17:45 on Friday in standard time (UTC+10), before the cut-off, but 18:45 on
    # the Monday after daylight saving starts (UTC+11), after it.
    friday_before = datetime(2026, 10, 2, 7, 45, tzinfo=UTC)
    monday_after = datetime(2026, 10, 5, 7, 45, tzinfo=UTC)
    assert becs_submission_date(friday_before) == date(2026, 10, 2)
    assert becs_settlement_date(friday_before) == date(2026, 10, 6)
    assert becs_submission_date(monday_after) == date(2026, 10, 6)
    assert becs_settlement_date(monday_after) == date(2026, 10, 8)


# Wall-clock times


def test_next_business_day_at_crosses_the_daylight_saving_change() -> None:
    friday_evening = melbourne("2026-10-02 20:00")
    monday_nine_am = NATIONAL.next_business_day_at(friday_evening, time(9, 0))
    assert monday_nine_am == datetime(2026, 10, 4, 22, 0, tzinfo=UTC)


def test_next_business_day_at_is_today_when_the_time_is_still_ahead() -> None:
    tuesday_morning = melbourne("2026-03-17 08:00")
    assert NATIONAL.next_business_day_at(tuesday_morning, time(9, 0)) == datetime(
        2026, 3, 16, 22, 0, tzinfo=UTC
    )


def test_next_business_day_at_is_strictly_after_the_moment() -> None:
    nine_am = melbourne("2026-03-17 09:00")
    assert NATIONAL.next_business_day_at(nine_am, time(9, 0)) == datetime(2026, 3, 17, 22, 0, tzinfo=UTC)


def test_a_wall_time_lost_to_a_daylight_saving_gap_moves_to_the_next_business_day() -> None:
    # Tehran's clocks jumped from 00:00 to 01:00 on Monday 22 March 2021.
    sunday = datetime(2021, 3, 21, 12, 0, tzinfo=UTC)
    result = NATIONAL.next_business_day_at(sunday, time(0, 30), "Asia/Tehran")
    assert result == datetime(2021, 3, 22, 20, 0, tzinfo=UTC)


def test_a_repeated_wall_time_after_its_first_occurrence_is_its_second() -> None:
    # Tehran's clocks went back from midnight to 23:00 on Tuesday 21 September 2021.
    between_the_two = datetime(2021, 9, 21, 19, 30, tzinfo=UTC)
    result = NATIONAL.next_business_day_at(between_the_two, time(23, 30), "Asia/Tehran")
    assert result == datetime(2021, 9, 21, 20, 0, tzinfo=UTC)


# Rejected input


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        becs_settlement_date(datetime(2026, 4, 2, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        NATIONAL.next_business_day_at(datetime(2026, 4, 2, 10, 0), time(9, 0))


def test_negative_business_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        NATIONAL.add_business_days(date(2026, 4, 2), -1)


def test_unknown_subdivisions_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown subdivision"):
        BusinessCalendar("Victoria")


def test_years_without_holiday_data_are_rejected() -> None:
    with pytest.raises(ValueError, match="no holiday data for 2101"):
        NATIONAL.is_business_day(date(2101, 1, 3))


def test_a_datetime_is_not_taken_for_a_date() -> None:
    with pytest.raises(TypeError, match="expected a date"):
        NATIONAL.is_business_day(melbourne("2026-12-25 09:00"))
