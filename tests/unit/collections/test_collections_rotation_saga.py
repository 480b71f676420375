"""The rotation saga: cycles in order to completion, and a cancelled round held for the admin."""

from datetime import date, timedelta

import pytest

from services.collections.domain.rotation_commands import (
    CancelCycleStart,
    DropCycle,
    MemberBalance,
    MembersRemoved,
    NotifyRotationMember,
    PlanCycle,
    RotationAwaitingAdminDecision,
    RotationCompleted,
    RotationDissolved,
    RotationNoticeKind,
    RotationResumed,
    RoundRetried,
    ScheduleCycleStart,
    StopCycle,
)
from services.collections.domain.rotation_errors import (
    DecisionNotExpectedError,
    InvalidDecisionError,
    NotGroupAdminError,
)
from services.collections.domain.rotation_messages import DissolveGroup, RemoveMembers, RetryRound
from services.collections.domain.rotation_schedule import round_cycle_id, start_timer_id
from services.collections.domain.rotation_state import CycleProgress, RotationStatus
from tests.unit.collections.cycle_fixtures import BECS, activation
from tests.unit.collections.rotation_fixtures import (
    SHORT_WINDOW,
    RotationRun,
    cancelled_first_round,
    member,
    rotation,
)


def test_activation_plans_every_cycle_with_the_start_timer_the_activation_handler_schedules() -> None:
    run = rotation()
    assert [c.plan.cycle_number for c in run.state.cycles] == [1, 2, 3]
    assert [c.start_timer_id for c in run.state.cycles] == [
        f"cycle:{c.cycle_id}:start" for c in run.state.cycles
    ]
    assert run.status() is RotationStatus.RUNNING


def test_a_paid_cycle_asks_for_nothing_since_the_next_start_is_already_scheduled() -> None:
    run = rotation()
    decision = run.pay(run.cycle(0))
    assert decision.commands == ()
    assert run.state.cycles[0].progress is CycleProgress.COMPLETED
    assert run.state.cycles[1].start_timer_id is not None
    assert run.status() is RotationStatus.RUNNING


def test_after_the_last_cycle_is_paid_the_rotation_completes_once_naming_every_recipient() -> None:
    run = rotation()
    for _ in range(3):
        run.pay(run.cycle(0))
    assert run.status() is RotationStatus.COMPLETED
    [completed] = run.sent_of(RotationCompleted)
    assert completed.recipients == tuple((n, member(run, n)) for n in (1, 2, 3))
    again = run.report(run.state.cycles[2], "completed")
    assert again.commands == ()


def test_a_cycle_cancelled_at_its_deadline_holds_every_later_start_and_asks_the_admin() -> None:
    run = rotation()
    later_timers = [c.start_timer_id for c in run.state.cycles[1:]]
    cancelled_first_round(run, member(run, 2))
    assert run.status() is RotationStatus.AWAITING_ADMIN_DECISION
    assert [c.timer_id for c in run.sent_of(CancelCycleStart)] == later_timers
    assert all(c.start_timer_id is None for c in run.state.cycles)
    [awaiting] = run.sent_of(RotationAwaitingAdminDecision)
    assert (awaiting.cycle_number, awaiting.defaulting_member_ids) == (1, (member(run, 2),))
    notices = run.sent_of(NotifyRotationMember)
    assert {n.member_id: n.defaulted for n in notices} == {
        member(run, 1): False,
        member(run, 2): True,
        member(run, 3): False,
    }
    assert {n.kind for n in notices} == {RotationNoticeKind.ROUND_CANCELLED}


def test_a_repeated_cancelled_report_holds_nothing_twice() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    again = run.report(run.state.cycles[0], "cancelled", member(run, 2))
    assert again.commands == ()


def test_a_cycle_already_running_when_another_is_cancelled_goes_on() -> None:
    run = rotation()
    second, third = run.cycle(1), run.cycle(2)
    run.report(second, "collecting")
    cancelled_first_round(run, member(run, 2))
    assert [c.timer_id for c in run.sent_of(CancelCycleStart)] == [f"cycle:{third.cycle_id}:start"]
    assert run.state.cycles[1].progress is CycleProgress.RUNNING
    run.retry(run.state.cycles[0])
    assert {p.plan.cycle_id for p in run.sent_of(PlanCycle)} == {run.state.cycles[1].cycle_id, third.cycle_id}


def test_retry_runs_the_same_cycle_and_recipient_as_a_new_round_from_the_next_business_day() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    first = run.state.cycles[0]
    run.sent.clear()
    run.retry(first)
    new_round = run.state.cycles[1]
    assert new_round.cycle_id == round_cycle_id(run.state.group_id, 1, 2) != first.cycle_id
    assert (new_round.plan.cycle_number, new_round.round, new_round.recipient_id) == (1, 2, member(run, 1))
    assert run.state.cycles[0].progress is CycleProgress.RETRIED
    # Cancelled at midnight starting Tuesday 24 March (Sydney): Wednesday is the next BECS day.
    assert new_round.plan.starts_on == date(2026, 3, 25)
    assert run.sent_of(RoundRetried)[0].cycle_id == new_round.cycle_id
    planned = {p.plan.cycle_id: p for p in run.sent_of(PlanCycle)}
    assert planned[new_round.cycle_id].round == 2
    assert len(planned[new_round.cycle_id].plan.contributions) == 3
    timers = {s.cycle_id: s.timer_id for s in run.sent_of(ScheduleCycleStart)}
    assert set(timers) == {c.cycle_id for c in run.state.cycles[1:]}
    assert timers[new_round.cycle_id] == start_timer_id(new_round.cycle_id, 1)
    assert timers[new_round.cycle_id] != start_timer_id(first.cycle_id, 0)
    # The held cycles' timers were cancelled for good: their new timers have new ids.
    assert timers[run.state.cycles[2].cycle_id] != f"cycle:{run.state.cycles[2].cycle_id}:start"
    assert run.status() is RotationStatus.RUNNING
    [resumed] = run.sent_of(RotationResumed)
    assert resumed.starts_on == date(2026, 3, 25)


def test_retry_moves_every_later_cycle_by_the_delay_keeping_the_cadence() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    run.retry(run.state.cycles[0], date(2026, 4, 13))
    starts = [c.plan.starts_on for c in run.state.cycles[1:]]
    assert starts == [date(2026, 4, 13), date(2026, 4, 27), date(2026, 5, 11)]
    for cycle in run.state.cycles[1:]:
        assert cycle.plan.deadline_on == BECS.add_business_days(cycle.plan.starts_on, 5)


def test_a_date_the_admin_gives_rolls_to_a_business_day_and_one_in_the_past_is_refused() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    before = run.state
    with pytest.raises(InvalidDecisionError, match="in the past"):
        run.retry(run.state.cycles[0], run.now.date() - timedelta(days=2))
    assert run.state == before
    run.retry(run.state.cycles[0], date(2026, 4, 3))  # Good Friday
    assert run.state.cycles[1].plan.starts_on == date(2026, 4, 7)


def test_only_the_groups_admin_decides() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    before = run.state
    for decision in (
        RetryRound(run.now, member(run, 2), run.state.cycles[0].cycle_id),
        DissolveGroup(run.now, member(run, 3), run.state.cycles[0].cycle_id),
    ):
        with pytest.raises(NotGroupAdminError):
            run.apply(decision)
    assert run.state == before


def test_a_decision_the_rotation_does_not_await_is_refused() -> None:
    run = rotation()
    with pytest.raises(DecisionNotExpectedError, match="not awaiting"):
        run.retry(run.state.cycles[0])
    cancelled_first_round(run, member(run, 2))
    with pytest.raises(DecisionNotExpectedError, match="not a cancelled round"):
        run.retry(run.state.cycles[1])


def test_the_same_decision_again_changes_nothing_and_another_one_after_it_is_refused() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    first = run.state.cycles[0]
    run.retry(first)
    after = run.state
    run.pass_days(1)
    again = run.retry(first)
    assert (again.new_state, again.commands) == (after, ())
    with pytest.raises(DecisionNotExpectedError):
        run.dissolve(first)


def test_removing_a_member_who_has_not_received_drops_their_cycle_and_later_cycles_move_up() -> None:
    run = rotation(size=4)
    third = member(run, 3)
    cancelled_first_round(run, third)
    run.sent.clear()
    run.remove(run.state.cycles[0], third)
    assert third not in run.state.member_ids
    [dropped] = run.sent_of(DropCycle)
    assert (dropped.cycle_number, dropped.reason) == (3, "recipient_removed")
    running = [c for c in run.state.cycles if c.progress is CycleProgress.PLANNED]
    assert [(c.plan.cycle_number, c.round) for c in running] == [(1, 2), (2, 1), (4, 1)]
    # Cycle 4 takes the date cycle 3 would have had: two fortnights after the new round.
    assert [c.plan.starts_on for c in running] == [date(2026, 3, 25), date(2026, 4, 8), date(2026, 4, 22)]


def test_after_a_removal_each_member_pays_the_same_so_every_later_pot_is_smaller() -> None:
    group = activation(size=4, policy=SHORT_WINDOW, amount=5_000)
    run = RotationRun.of(group)
    third = member(run, 3)
    cancelled_first_round(run, third)
    run.remove(run.state.cycles[0], third)
    for plan in (p.plan for p in run.sent_of(PlanCycle)):
        assert plan.contribution_amount == 5_000
        assert third not in [c.member.member_id for c in plan.contributions]
        assert plan.contribution_amount * len(plan.contributions) == 15_000  # was 20 000


def test_removing_a_member_who_already_received_publishes_what_they_owe_the_members_who_paid() -> None:
    run = rotation(size=4)
    first_recipient = member(run, 1)
    run.pay(run.cycle(0))
    second = run.cycle(0)
    run.now = second.plan.deadline_at
    run.cancel(second, first_recipient)
    run.remove(run.state.cycle(second.cycle_id) or second, first_recipient)
    [removed] = run.sent_of(MembersRemoved)
    assert removed.dropped_cycle_numbers == ()
    assert removed.balances == (MemberBalance(first_recipient, paid_in=5_000, received=20_000),)
    assert removed.balances[0].owes_the_group == 15_000
    retried = [c for c in run.state.cycles if c.plan.cycle_number == 2 and c.round == 2]
    assert [c.member.member_id for c in retried[0].plan.contributions] == [member(run, n) for n in (2, 3, 4)]
    assert first_recipient not in run.state.member_ids


def test_removing_the_recipient_of_the_cancelled_round_drops_it_and_the_next_cycle_takes_its_place() -> None:
    run = rotation()
    recipient = member(run, 1)
    cancelled_first_round(run, recipient)
    run.remove(run.state.cycles[0], recipient)
    assert run.state.cycles[0].progress is CycleProgress.DROPPED
    assert not run.sent_of(RoundRetried)
    assert run.state.cycles[1].plan.starts_on == date(2026, 3, 25)
    assert run.sent_of(MembersRemoved)[0].dropped_cycle_numbers == (1,)


def test_a_member_who_did_not_default_cannot_be_removed() -> None:
    run = rotation()
    cancelled_first_round(run, member(run, 2))
    with pytest.raises(InvalidDecisionError, match="defaulting"):
        run.remove(run.state.cycles[0], member(run, 3))
    with pytest.raises(InvalidDecisionError):
        run.apply(RemoveMembers(run.now, run.admin, run.state.cycles[0].cycle_id, ()))


def test_the_rotation_completes_when_every_remaining_member_has_received_after_a_removal() -> None:
    run = rotation()
    last = member(run, 3)
    cancelled_first_round(run, last)
    run.remove(run.state.cycles[0], last)
    run.pay(run.cycle(0))
    run.pay(run.cycle(0))
    assert run.status() is RotationStatus.COMPLETED
    [completed] = run.sent_of(RotationCompleted)
    assert completed.recipients == ((1, member(run, 1)), (2, member(run, 2)))


def test_dissolving_drops_every_cycle_not_started_stops_one_collecting_and_then_sends_nothing() -> None:
    run = rotation()
    second = run.cycle(1)
    run.report(second, "collecting")
    cancelled_first_round(run, member(run, 2))
    run.sent.clear()
    run.dissolve(run.state.cycles[0])
    assert run.status() is RotationStatus.DISSOLVED
    assert [d.cycle_number for d in run.sent_of(DropCycle)] == [3]
    assert [s.cycle_id for s in run.sent_of(StopCycle)] == [second.cycle_id]
    [dissolved] = run.sent_of(RotationDissolved)
    assert dissolved.dropped_cycle_numbers == (1, 3)
    assert all(b.paid_in == b.received == 0 for b in dissolved.balances)
    assert {n.kind for n in run.sent_of(NotifyRotationMember)} == {RotationNoticeKind.GROUP_DISSOLVED}
    assert run.report(second, "cancelling").commands == ()
    assert run.report(second, "cancelled", member(run, 3)).commands == ()
    assert run.status() is RotationStatus.DISSOLVED
    assert run.dissolve(run.state.cycles[0]).commands == ()  # the same decision again


def test_dissolving_publishes_who_received_more_than_they_paid_in() -> None:
    run = rotation()
    run.pay(run.cycle(0))
    second = run.cycle(0)
    run.now = second.plan.deadline_at
    run.cancel(second, member(run, 1))
    run.dissolve(run.state.cycle(second.cycle_id) or second)
    [dissolved] = run.sent_of(RotationDissolved)
    assert [(b.member_id, b.owes_the_group) for b in dissolved.balances] == [
        (member(run, 1), 10_000),
        (member(run, 2), -5_000),
        (member(run, 3), -5_000),
    ]


def test_while_another_cancelled_round_awaits_a_decision_every_cycle_not_started_stays_held() -> None:
    run = rotation(size=4)
    first, second = run.cycle(0), run.cycle(1)
    run.report(second, "collecting")
    cancelled_first_round(run, member(run, 2))
    run.now = second.plan.deadline_at
    run.cancel(second, member(run, 3))
    run.sent.clear()
    run.retry(first)
    assert run.status() is RotationStatus.AWAITING_ADMIN_DECISION
    assert not run.sent_of(ScheduleCycleStart)
    assert not run.sent_of(PlanCycle)
    run.retry(second)
    assert run.status() is RotationStatus.RUNNING
    scheduled = run.sent_of(ScheduleCycleStart)
    assert [(s.cycle_number, s.at.date()) for s in scheduled] == [
        (1, date(2026, 4, 10)),  # the next BECS day after the last decision (cycle 2's deadline)
        (2, date(2026, 4, 24)),
        (3, date(2026, 5, 8)),
        (4, date(2026, 5, 22)),
    ]


def test_a_decision_applied_again_to_the_same_state_makes_the_same_ids_and_commands() -> None:
    run = rotation(size=4)
    cancelled_first_round(run, member(run, 3))
    before = run.state
    decision = RemoveMembers(run.now, run.admin, run.state.cycles[0].cycle_id, (member(run, 3),))
    once, twice = run.apply(decision), RotationRun(before, run.now).apply(decision)
    assert once == twice
