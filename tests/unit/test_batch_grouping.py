"""How a batch is put together: which of its messages the runtime applies, and which contribution
and attempt rows a batch of saga steps leaves (what one step at a time would have left)."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from contracts.messages import Message
from services.collections.domain.contribution import Contribution, ContributionStatus
from services.collections.domain.cycle import CycleState
from services.collections.store.cycle_batches import projection_rows
from services.collections.store.cycles import changed_contributions
from services.runtime.consumer import Delivered, to_apply
from tests.unit.collections.cycle_fixtures import CycleRun, first_cycle

NOW = datetime(2026, 3, 16, 0, 0, tzinfo=UTC)


class Noted(Message):
    text: str


def delivered(message: Noted, delivery: int = 1) -> Delivered[Noted]:
    return Delivered(message, "tests.evt.noted", delivery)


def noted(text: str) -> Noted:
    return Noted(occurred_at=NOW, correlation_id="batch", text=text)


def test_a_batch_applies_the_messages_the_inbox_had_not_seen_in_the_order_received() -> None:
    first, seen, third = noted("first"), noted("seen before"), noted("third")
    received = [delivered(third), delivered(seen), delivered(first)]

    applied = to_apply(received, fresh={first.message_id, third.message_id})

    assert [d.message.text for d in applied] == ["third", "first"]


def test_a_second_copy_of_a_message_in_the_same_batch_is_a_duplicate() -> None:
    once = noted("once")
    copy = Noted.model_validate(once.model_dump())  # same message id, parsed again
    received = [delivered(once), delivered(noted("other")), delivered(copy, delivery=2)]

    applied = to_apply(received, fresh={once.message_id, received[1].message.message_id})

    assert [(d.message.text, d.delivery) for d in applied] == [("once", 1), ("other", 1)]


def test_nothing_fresh_applies_nothing() -> None:
    assert to_apply([delivered(noted("old"))], fresh=set()) == []


def test_steps_of_a_batch_leave_each_contribution_its_latest_row() -> None:
    run = CycleRun(first_cycle(), NOW)
    run.start()
    written: list[tuple[CycleState, Contribution]] = []
    steps: list[Callable[[], object]] = [
        lambda: run.processing(0),
        lambda: run.processing(1),
        lambda: run.succeed(0),
    ]
    for step in steps:
        before = run.state
        step()
        written.extend((run.state, c) for c in changed_contributions(before, run.state))

    contribution_rows, attempt_rows = projection_rows(written, NOW)

    first, second = run.contribution(0), run.contribution(1)
    assert set(contribution_rows) == {first.contribution_id, second.contribution_id}
    assert contribution_rows[first.contribution_id][1]["status"] == "succeeded"
    assert contribution_rows[second.contribution_id][1]["status"] == "processing"
    assert attempt_rows[(first.contribution_id, 1)][1]["status"] == "succeeded"
    assert contribution_rows[first.contribution_id][0]["cycle_id"] == run.state.plan.cycle_id


def test_an_attempt_replaced_within_a_batch_keeps_the_row_its_last_step_wrote() -> None:
    run = CycleRun(first_cycle(), NOW)
    run.start()
    state = run.state
    contribution = state.contributions[0]
    failed = replace(
        contribution, status=ContributionStatus.RETRY_SCHEDULED, last_failure_code="refer_to_customer"
    )
    retried = replace(failed, status=ContributionStatus.PENDING, attempt=2, payment_intent_id=None)
    written = [(state.with_contribution(failed), failed), (state.with_contribution(retried), retried)]

    contribution_rows, attempt_rows = projection_rows(written, NOW)

    assert contribution_rows[contribution.contribution_id][1]["attempt"] == 2
    assert attempt_rows[(contribution.contribution_id, 1)][1]["failure_code"] == "refer_to_customer"
    assert attempt_rows[(contribution.contribution_id, 2)][1]["status"] == "pending"


def test_a_contribution_never_charged_has_no_attempt_row() -> None:
    state = first_cycle()
    contribution = state.contributions[0]
    assert contribution.attempt == 0

    _, attempt_rows = projection_rows([(state, contribution)], NOW)

    assert attempt_rows == {}
