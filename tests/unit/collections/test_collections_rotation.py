"""The rotation plan: recipients, cycle dates on BECS business days, deadlines, deterministic ids."""

import itertools
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.business_days import BusinessCalendar
from services.collections.domain.rotation import nominal_cycle_date, plan_rotation
from services.runtime.calendar import BECS_CALENDAR
from tests.unit.collections.cycle_fixtures import BECS, DEFAULT_POLICY, activation


def test_the_runtime_becs_calendar_satisfies_the_domains_calendar_interface() -> None:
    calendar: BusinessCalendar = BecsBusinessCalendar()
    # Good Friday 3 April and Easter Monday 6 April 2026 are not BECS days.
    assert calendar.add_business_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert calendar.add_business_days(date(2026, 4, 4), 0) == date(2026, 4, 7)
    # Submitted Thursday 2 April 17:00 Melbourne (before the cut-off): settles two BECS days on.
    melbourne = ZoneInfo("Australia/Melbourne")
    assert calendar.settlement_date(datetime(2026, 4, 2, 17, 0, tzinfo=melbourne)) == date(2026, 4, 8)
    # After the 18:30 cut-off the batch is the next business day's.
    assert calendar.settlement_date(datetime(2026, 4, 2, 19, 0, tzinfo=melbourne)) == date(2026, 4, 9)


def test_one_cycle_per_member_and_cycle_k_pays_the_member_at_position_k() -> None:
    group = activation(size=4)
    plans = plan_rotation(group, BECS)
    assert [plan.cycle_number for plan in plans] == [1, 2, 3, 4]
    assert [plan.recipient.member_id for plan in plans] == [member.member_id for member in group.members]
    for plan in plans:
        assert [c.member.member_id for c in plan.contributions] == [m.member_id for m in group.members]
        assert plan.transfer_group == f"cycle_{plan.cycle_id}"


def test_members_are_ordered_by_position_whatever_order_they_arrive_in() -> None:
    group = activation(size=3)
    shuffled = group.model_copy(update={"members": list(reversed(group.members))})
    assert [p.recipient.position for p in plan_rotation(shuffled, BECS)] == [1, 2, 3]


def test_positions_must_be_one_to_size_once_each() -> None:
    group = activation(size=3)
    broken = group.model_copy(update={"members": [group.members[0], group.members[0], group.members[2]]})
    with pytest.raises(ValueError, match="positions"):
        plan_rotation(broken, BECS)


def test_a_redelivered_activation_produces_the_same_plan() -> None:
    group = activation()
    assert plan_rotation(group, BECS) == plan_rotation(group.model_copy(), BECS)
    other = activation()
    assert plan_rotation(other, BECS)[0].cycle_id != plan_rotation(group, BECS)[0].cycle_id


def test_cycles_are_weekly_fortnightly_or_monthly_from_the_start_date() -> None:
    start = date(2026, 3, 16)  # a Monday
    weekly = plan_rotation(activation(size=3, cadence="weekly", start_date=start), BECS)
    fortnightly = plan_rotation(activation(size=3, cadence="fortnightly", start_date=start), BECS)
    monthly = plan_rotation(activation(size=3, cadence="monthly", start_date=start), BECS)
    assert [p.starts_on for p in weekly] == [date(2026, 3, 16), date(2026, 3, 23), date(2026, 3, 30)]
    assert [p.starts_on for p in fortnightly] == [date(2026, 3, 16), date(2026, 3, 30), date(2026, 4, 13)]
    # 16 May 2026 is a Saturday.
    assert [p.starts_on for p in monthly] == [date(2026, 3, 16), date(2026, 4, 16), date(2026, 5, 18)]
    assert monthly[2].nominal_date == date(2026, 5, 16)


def test_a_cycle_on_a_weekend_or_becs_holiday_moves_to_the_next_business_day() -> None:
    # Fortnightly from Friday 20 March 2026: cycle 2 falls on Good Friday 3 April, and BECS does
    # not settle on Easter Monday either, so it starts Tuesday 7 April.
    plans = plan_rotation(activation(size=3, cadence="fortnightly", start_date=date(2026, 3, 20)), BECS)
    assert plans[1].nominal_date == date(2026, 4, 3)
    assert plans[1].starts_on == date(2026, 4, 7)
    monthly = plan_rotation(activation(size=2, cadence="monthly", start_date=date(2026, 4, 25)), BECS)
    assert monthly[0].starts_on == date(2026, 4, 27)  # Saturday 25 April (Anzac Day) → Monday


def test_monthly_on_the_31st_falls_on_the_last_day_of_shorter_months() -> None:
    days = [nominal_cycle_date(date(2026, 1, 31), "monthly", k) for k in range(1, 6)]
    assert days == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    assert nominal_cycle_date(date(2027, 12, 31), "monthly", 3) == date(2028, 2, 29)


def test_the_deadline_is_the_collection_window_in_business_days_after_the_start() -> None:
    plan = plan_rotation(activation(policy=DEFAULT_POLICY), BECS)[0]
    assert plan.starts_on == date(2026, 3, 16)
    assert plan.deadline_on == date(2026, 3, 30)
    sydney = ZoneInfo("Australia/Sydney")
    assert plan.start_at == datetime(2026, 3, 16, 9, 0, tzinfo=sydney)
    # The deadline passes at the end of its day, after that day's settlements are reported.
    assert plan.deadline_at == datetime(2026, 3, 31, 0, 0, tzinfo=sydney)


@given(
    start=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    cadence=st.sampled_from(["weekly", "fortnightly", "monthly"]),
    window=st.integers(min_value=1, max_value=20),
)
def test_every_cycle_starts_and_ends_on_a_becs_business_day_in_order(
    start: date, cadence: str, window: int
) -> None:
    policy = DEFAULT_POLICY.model_copy(update={"collection_window_business_days": window})
    plans = plan_rotation(activation(size=4, cadence=cadence, start_date=start, policy=policy), BECS)  # type: ignore[arg-type]
    for earlier, later in itertools.pairwise(plans):
        assert earlier.starts_on < later.starts_on
    for plan in plans:
        assert plan.nominal_date <= plan.starts_on < plan.deadline_on
        assert BECS_CALENDAR.is_business_day(plan.starts_on)
        assert BECS_CALENDAR.is_business_day(plan.deadline_on)
        assert BECS_CALENDAR.business_days_between(plan.starts_on, plan.deadline_on) == window
        assert plan.start_at.timetz().replace(tzinfo=None) == time(9, 0)
