"""Timer rules: schedule, move, cancel and fire, each final state final, oldest due first."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import subjects
from contracts.scheduler import CancelTimer, ScheduleTimer
from services.scheduler import domain
from services.scheduler.domain import CancelOutcome, ScheduleOutcome, Timer, TimerStatus
from services.scheduler.settings import SchedulerSettings

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
TARGET = subjects.notify_member("contribution_due")


def a_schedule(
    timer_id: str = "cycle:grp_1:3:start",
    *,
    due_at: datetime = T0 + timedelta(days=7),
    issued_at: datetime = T0,
    target_subject: str = TARGET,
    payload: dict[str, Any] | None = None,
) -> ScheduleTimer:
    return ScheduleTimer(
        occurred_at=issued_at,
        correlation_id="grp_1",
        timer_id=timer_id,
        due_at=due_at,
        target_subject=target_subject,
        payload=payload if payload is not None else {"cycle": 3},
    )


def a_cancel(timer_id: str = "cycle:grp_1:3:start") -> CancelTimer:
    return CancelTimer(occurred_at=T0, correlation_id="grp_1", timer_id=timer_id)


def scheduled(command: ScheduleTimer | None = None) -> Timer:
    timer = domain.schedule(None, command or a_schedule(), T0).timer
    assert timer is not None
    return timer


def test_a_new_timer_is_pending_at_its_due_time_with_its_target_and_payload() -> None:
    command = a_schedule()
    change = domain.schedule(None, command, T0)
    assert change.outcome is ScheduleOutcome.CREATED
    assert change.timer == Timer(
        timer_id=command.timer_id,
        status=TimerStatus.PENDING,
        correlation_id="grp_1",
        due_at=command.due_at,
        target_subject=TARGET,
        payload={"cycle": 3},
        generation=1,
        created_at=T0,
        scheduled_by=command.message_id,
        scheduled_at=T0,
    )


def test_scheduling_the_same_timer_again_changes_nothing() -> None:
    timer = scheduled()
    again = a_schedule(issued_at=T0 + timedelta(minutes=1))
    assert domain.schedule(timer, again, T0) == domain.Change(ScheduleOutcome.UNCHANGED, None)


def test_rescheduling_a_pending_timer_moves_it_and_counts_a_generation() -> None:
    timer = scheduled()
    later = T0 + timedelta(days=9)
    move = a_schedule(due_at=later, issued_at=T0 + timedelta(hours=1), payload={"cycle": 3, "retry": 1})
    change = domain.schedule(timer, move, T0)
    assert change.outcome is ScheduleOutcome.MOVED
    assert change.timer is not None
    assert (change.timer.due_at, change.timer.payload, change.timer.generation) == (
        later,
        {"cycle": 3, "retry": 1},
        2,
    )
    assert change.timer.scheduled_by == move.message_id
    assert change.timer.created_at == timer.created_at


def test_a_schedule_older_than_the_one_that_set_the_timer_is_ignored() -> None:
    timer = scheduled(a_schedule(issued_at=T0 + timedelta(hours=2)))
    late_redelivery = a_schedule(due_at=T0 + timedelta(days=1), issued_at=T0 + timedelta(hours=1))
    assert domain.schedule(timer, late_redelivery, T0).outcome is ScheduleOutcome.STALE


def test_a_schedule_issued_at_the_same_instant_still_moves_the_timer() -> None:
    # The simulated clock stands still between advances: equal times must not count as stale.
    timer = scheduled()
    same_instant = a_schedule(due_at=T0 + timedelta(days=2), issued_at=T0)
    assert domain.schedule(timer, same_instant, T0).outcome is ScheduleOutcome.MOVED


def test_a_fired_timer_is_never_rescheduled() -> None:
    fired = domain.fire(scheduled(), T0 + timedelta(days=8))
    change = domain.schedule(fired, a_schedule(due_at=T0 + timedelta(days=30)), T0)
    assert change == domain.Change(ScheduleOutcome.ALREADY_FIRED, None)


def test_cancelling_a_pending_timer_is_final() -> None:
    change = domain.cancel(scheduled(), a_cancel(), T0 + timedelta(hours=1))
    assert change.outcome is CancelOutcome.CANCELLED
    assert change.timer is not None
    assert change.timer.status is TimerStatus.CANCELLED
    assert change.timer.cancelled_at == T0 + timedelta(hours=1)
    assert domain.schedule(change.timer, a_schedule(), T0).outcome is ScheduleOutcome.ALREADY_CANCELLED
    with pytest.raises(domain.TimerNotPendingError):
        domain.fire(change.timer, T0 + timedelta(days=30))


def test_a_payload_too_large_to_publish_is_refused() -> None:
    with pytest.raises(domain.PayloadTooLargeError, match="payload of"):
        domain.schedule(None, a_schedule(payload={"notes": "x" * domain.MAX_PAYLOAD_BYTES}), T0)
    fits = {"notes": "x" * (domain.MAX_PAYLOAD_BYTES - len('{"notes":""}'))}
    assert domain.schedule(None, a_schedule(payload=fits), T0).outcome is ScheduleOutcome.CREATED


def test_a_cancel_that_overtakes_its_schedule_leaves_a_tombstone_the_schedule_cannot_revive() -> None:
    change = domain.cancel(None, a_cancel(), T0)
    assert change.outcome is CancelOutcome.TOMBSTONED
    assert change.timer is not None
    assert (change.timer.status, change.timer.due_at, change.timer.generation) == (
        TimerStatus.CANCELLED,
        None,
        0,
    )
    assert domain.schedule(change.timer, a_schedule(), T0).outcome is ScheduleOutcome.ALREADY_CANCELLED


def test_cancelling_a_fired_timer_changes_nothing() -> None:
    fired = domain.fire(scheduled(), T0 + timedelta(days=7))
    assert domain.cancel(fired, a_cancel(), T0) == domain.Change(CancelOutcome.ALREADY_FIRED, None)
    cancelled = domain.cancel(scheduled(), a_cancel(), T0).timer
    assert cancelled is not None
    assert domain.cancel(cancelled, a_cancel(), T0).outcome is CancelOutcome.ALREADY_CANCELLED


def test_a_timer_fires_only_once_it_is_due_and_only_once() -> None:
    timer = scheduled()
    assert timer.due_at is not None
    with pytest.raises(domain.TimerNotDueError):
        domain.fire(timer, timer.due_at - timedelta(microseconds=1))
    fired = domain.fire(timer, timer.due_at)
    assert (fired.status, fired.fired_at) == (TimerStatus.FIRED, timer.due_at)
    with pytest.raises(domain.TimerNotPendingError):
        domain.fire(fired, timer.due_at + timedelta(days=1))


def test_firing_order_is_oldest_due_first_then_by_id_with_tombstones_last() -> None:
    def at(timer_id: str, days: int) -> Timer:
        return scheduled(a_schedule(timer_id, due_at=T0 + timedelta(days=days)))

    tombstone = domain.cancel(None, a_cancel("gone"), T0).timer
    assert tombstone is not None
    ordered = domain.firing_order([at("c", 2), tombstone, at("b", 1), at("a", 2), at("z", 0)])
    assert [timer.timer_id for timer in ordered] == ["z", "b", "a", "c", "gone"]


def test_the_fired_message_ids_depend_only_on_the_timer_id() -> None:
    assert domain.fired_message_id("cycle:grp_1:3:start") == "timer:cycle:grp_1:3:start"
    assert domain.fired_outbox_id("a") == domain.fired_outbox_id("a")
    assert domain.fired_outbox_id("a") != domain.fired_outbox_id("b")


Step = tuple[str, int]


@given(
    st.lists(
        st.tuples(st.sampled_from(["schedule", "cancel", "fire"]), st.integers(min_value=0, max_value=10)),
        max_size=30,
    )
)
def test_whatever_the_commands_a_timer_fires_at_most_once_and_never_after_a_cancel(steps: list[Step]) -> None:
    timer: Timer | None = None
    fires = 0
    cancelled = False
    for kind, day in steps:
        moment = T0 + timedelta(days=day)
        if kind == "schedule":
            timer = domain.schedule(timer, a_schedule(due_at=moment, issued_at=moment), T0).timer or timer
        elif kind == "cancel":
            timer = domain.cancel(timer, a_cancel(), moment).timer or timer
            cancelled = True
        elif timer is not None and timer.status is TimerStatus.PENDING and timer.due_at is not None:
            if timer.due_at > moment:
                continue
            assert not cancelled
            timer = domain.fire(timer, moment)
            fires += 1
        if timer is not None and timer.status is not TimerStatus.PENDING:
            final = timer.status
            assert domain.schedule(timer, a_schedule(due_at=moment, issued_at=moment), T0).timer is None
            assert domain.cancel(timer, a_cancel(), moment).timer is None
            assert timer.status is final
    assert fires <= 1


@pytest.mark.parametrize(
    "target",
    [
        "stripe.payment_intent.succeeded",
        "scheduler.cmd.schedule",
        "deadletter.collections.x",
        "collections",
        "collections.>",
        "collections.*",
        "collections..cmd",
        "collections.cmd start",
        "notifications.member.x",
    ],
)
def test_a_timer_may_only_target_command_and_notification_subjects(target: str) -> None:
    with pytest.raises(ValidationError, match="target_subject"):
        a_schedule(target_subject=target)


@pytest.mark.parametrize(
    "target",
    [
        "collections.cmd.start_cycle",
        "payouts.cmd.pay_cycle",
        subjects.notify_member("debit_failed"),
        "onboarding.evt.group_activated",
    ],
)
def test_commands_and_notifications_of_every_owner_are_valid_targets(target: str) -> None:
    assert a_schedule(target_subject=target).target_subject == target


@pytest.mark.parametrize("timer_id", ["", " x", "a b", "x\r\nNats-Msg-Id: y", "-leading", "é"])
def test_timer_ids_are_plain_header_safe_text(timer_id: str) -> None:
    with pytest.raises(ValidationError, match="timer_id"):
        a_schedule(timer_id)
    with pytest.raises(ValidationError, match="timer_id"):
        a_cancel(timer_id)


def test_a_schedule_needs_an_aware_due_time_and_a_json_object_payload() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        a_schedule(due_at=datetime(2027, 3, 8, 9))
    with pytest.raises(ValidationError, match="payload"):
        ScheduleTimer.model_validate(
            {
                "occurred_at": T0,
                "correlation_id": "grp_1",
                "timer_id": "x",
                "due_at": T0,
                "target_subject": TARGET,
                "payload": [1, 2],
            }
        )


def settings(**values: str) -> SchedulerSettings:
    return SchedulerSettings.model_validate({"database_url": "postgresql://u@127.0.0.1/s", **values})


def test_the_operator_token_has_no_default_and_an_empty_one_counts_as_unset() -> None:
    assert settings().operator_token is None
    assert settings(operator_token="").operator_token is None
    token = settings(operator_token="x" * 16).operator_token
    assert token is not None
    assert token.get_secret_value() == "x" * 16


def test_a_short_operator_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="operator_token"):
        settings(operator_token="short")
