"""The rotation saga on real NATS, Postgres and the Stripe simulator: fed by every cycle's step,
it completes a rotation, holds the later cycles when a round is cancelled, runs a retried round
under a new start timer, stops every debit when the group is dissolved, and holds a payout while
its recipient owes."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from contracts import subjects
from contracts.onboarding import GroupActivated
from contracts.payouts import CyclePaid
from contracts.streams import COLLECTIONS, NOTIFY, PAYOUTS, SCHEDULER
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.ledger import AccountKind, balance_of_kind
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.domain.rotation_errors import DecisionNotExpectedError, NotGroupAdminError
from services.collections.domain.rotation_messages import ReceivableOpened
from services.collections.domain.rotation_schedule import round_cycle_id, start_timer_id
from services.collections.service_layer import rotation_decisions
from services.collections.service_layer.rotation_steps import apply_to_rotation
from services.collections.store import queries
from services.collections.store.ledger import transactions_of_cycle
from services.collections.store.rotation_state import state_of
from services.collections.store.tables import rotations
from tests.integration.collections.support import (
    Stack,
    assert_money_checks_pass,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.collections.test_collections_cycle import _has_status, debits_out

pytestmark = pytest.mark.integration

AMOUNT = 5_000


async def activated(stack: Stack, members: int) -> tuple[GroupActivated, tuple[CyclePlan, ...]]:
    activation = group_activated(
        [member_with_mandate(stack.sim, p) for p in range(1, members + 1)], amount=AMOUNT
    )
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    plans = plan_rotation(activation, BecsBusinessCalendar())

    async def every_start_scheduled() -> bool:
        return len(await stack.timers(subjects.COLLECTIONS_START_CYCLE)) == members

    await eventually(every_start_scheduled, "every cycle's start is scheduled")
    return activation, plans


async def start_timer(stack: Stack, timer_id: str) -> dict[str, Any]:
    (timer,) = [t for t in await stack.timers(subjects.COLLECTIONS_START_CYCLE) if t["timer_id"] == timer_id]
    return timer


async def start(
    stack: Stack, cycle_id: UUID, members: int, timer_id: str | None = None
) -> list[dict[str, Any]]:
    """Fire the cycle's start timer; its debits, once every one is processing."""
    await stack.fire_timer(await start_timer(stack, timer_id or start_timer_id(cycle_id, 0)))
    return await debits_out(stack, cycle_id, members)


async def pay(stack: Stack, cycle_id: UUID, intents: list[dict[str, Any]]) -> None:
    """Every debit succeeds, and payouts answers the payout (it does not exist yet)."""
    stack.sim.advance(timedelta(seconds=3))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await eventually(lambda: _has_status(stack, cycle_id, "paying_out"), "the cycle is paying out")
    (pay_cycle,) = [p for p in await stack.pay_cycle_commands() if p["cycle_id"] == str(cycle_id)]
    paid = CyclePaid(
        occurred_at=datetime.now(UTC),
        correlation_id=str(cycle_id),
        cycle_id=cycle_id,
        transferred_amount=pay_cycle["transfer_total"],
    )
    await stack.publish(subjects.PAYOUTS_CYCLE_PAID, paid)
    await eventually(lambda: _has_status(stack, cycle_id, "completed"), "the cycle is completed")


def refunds_of(stack: Stack, cycle_id: UUID) -> list[dict[str, Any]]:
    held = stack.sim.app.sim.objects.newest_first("refund", None)
    return [dict(r.body) for r in held if r.body.get("metadata", {}).get("cycle_id") == str(cycle_id)]


async def refunds_land(stack: Stack, cycle_id: UUID, intents: list[dict[str, Any]]) -> None:
    """The cycle's debits, all refunded while processing, settle, and so do their refunds."""

    async def every_debit_refunded() -> bool:
        return len(refunds_of(stack, cycle_id)) == len(intents)

    await eventually(every_debit_refunded, "every debit is refunded at Stripe")
    stack.sim.advance(timedelta(seconds=10))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await stack.deliver_stripe_events("refund.updated", {str(r["id"]) for r in refunds_of(stack, cycle_id)})


async def cancel_at_deadline(stack: Stack, cycle_id: UUID, intents: list[dict[str, Any]]) -> None:
    """The cycle's deadline passes while its debits are still processing: it is cancelled."""
    (deadline,) = [
        t
        for t in await stack.timers(subjects.COLLECTIONS_CLOSE_COLLECTION)
        if t["payload"]["cycle_id"] == str(cycle_id)
    ]
    await stack.fire_timer(deadline)
    await refunds_land(stack, cycle_id, intents)
    await eventually(lambda: _has_status(stack, cycle_id, "cancelled"), "the cycle is cancelled")


async def rotation_status(stack: Stack, group_id: UUID) -> str:
    async with stack.database.transaction() as session:
        document = await session.scalar(select(rotations.c.state).where(rotations.c.group_id == group_id))
    assert document is not None
    return str(state_of(document).status)


async def facts_named(stack: Stack, group_id: UUID, name: str) -> list[dict[str, Any]]:
    """The group's rotation facts ``name``, once everything decided so far is published."""
    await eventually(stack.outbox_empty, "the outbox is drained")
    return [f for f in await stack.rotation_facts(group_id) if f["subject"] == f"collections.evt.{name}"]


async def cancelled_starts(stack: Stack) -> set[str]:
    return {c["timer_id"] for c in await stack.published(SCHEDULER.name, subjects.SCHEDULER_CANCEL)}


async def test_a_two_member_rotation_runs_both_cycles_and_completes_once(stack: Stack) -> None:
    activation, (first, second) = await activated(stack, 2)
    assert await rotation_status(stack, activation.group_id) == "running"

    await pay(stack, first.cycle_id, await start(stack, first.cycle_id, 2))
    assert await rotation_status(stack, activation.group_id) == "running"
    with pytest.raises(DecisionNotExpectedError):  # no round was cancelled
        async with stack.database.transaction() as session:
            await rotation_decisions.dissolve(
                session,
                activation.group_id,
                first.cycle_id,
                decided_by=activation.admin_member_id,
                now=datetime.now(UTC),
            )
    assert await facts_named(stack, activation.group_id, "rotation_completed") == []

    await pay(stack, second.cycle_id, await start(stack, second.cycle_id, 2))
    assert await rotation_status(stack, activation.group_id) == "completed"
    (completed,) = await facts_named(stack, activation.group_id, "rotation_completed")
    assert completed["recipients"] == [
        {"cycle_number": 1, "member_id": first.recipient.member_id},
        {"cycle_number": 2, "member_id": second.recipient.member_id},
    ]
    assert [f["subject"] for f in await stack.rotation_facts(activation.group_id)] == [
        "collections.evt.rotation_completed"
    ]
    await assert_money_checks_pass(stack)


async def test_a_cancelled_round_holds_the_rotation_until_the_admin_retries_it(stack: Stack) -> None:
    activation, (first, second) = await activated(stack, 2)
    group_id = activation.group_id
    await cancel_at_deadline(stack, first.cycle_id, await start(stack, first.cycle_id, 2))

    assert await rotation_status(stack, group_id) == "awaiting_admin_decision"
    async with stack.database.transaction() as session:  # as the rotation view reads it, unlocked
        held = await queries.rotation_of(session, group_id)
    assert held is not None
    assert held.status == "awaiting_admin_decision"
    (awaiting,) = await facts_named(stack, group_id, "rotation_awaiting_admin_decision")
    assert awaiting["cycle_id"] == str(first.cycle_id)
    assert await cancelled_starts(stack) == {start_timer_id(second.cycle_id, 0)}
    notices = await stack.published(NOTIFY.name, "notify.member.rotation_round_cancelled")
    assert {n["member_id"] for n in notices} == {m.member_id for m in activation.members}

    not_admin = activation.members[1].member_id
    with pytest.raises(NotGroupAdminError):
        async with stack.database.transaction() as session:
            await rotation_decisions.retry_round(
                session, group_id, first.cycle_id, decided_by=not_admin, now=datetime.now(UTC)
            )
    assert await rotation_status(stack, group_id) == "awaiting_admin_decision"
    async with stack.database.transaction() as session:
        state = await rotation_decisions.retry_round(
            session, group_id, first.cycle_id, decided_by=activation.admin_member_id, now=datetime.now(UTC)
        )
    assert str(state.status) == "running"
    retried = round_cycle_id(group_id, 1, 2)
    (round_retried,) = await facts_named(stack, group_id, "rotation_round_retried")
    assert round_retried["cycle_id"] == str(retried)
    new_timer = start_timer_id(retried, 1)
    assert new_timer != start_timer_id(first.cycle_id, 0)

    async def rescheduled() -> bool:
        timer_ids = {t["timer_id"] for t in await stack.timers(subjects.COLLECTIONS_START_CYCLE)}
        return {new_timer, start_timer_id(second.cycle_id, 1)} <= timer_ids

    await eventually(rescheduled, "the retried round and the held cycle are scheduled again")
    assert await stack.cycle_status(retried) == "scheduled"

    await pay(stack, retried, await start(stack, retried, 2, new_timer))
    await pay(
        stack, second.cycle_id, await start(stack, second.cycle_id, 2, start_timer_id(second.cycle_id, 1))
    )
    assert await rotation_status(stack, group_id) == "completed"
    async with stack.database.transaction() as session:  # the retried round stands for cycle 1
        shown = await queries.cycles_of_group(session, group_id)
        cycle_one = await queries.cycle_of_group(session, group_id, 1)
    assert [view.state.plan.cycle_id for view in shown] == [retried, second.cycle_id]
    assert cycle_one is not None
    assert cycle_one.state.plan.cycle_id == retried
    (completed,) = await facts_named(stack, group_id, "rotation_completed")
    assert completed["recipients"] == [
        {"cycle_number": 1, "member_id": first.recipient.member_id},
        {"cycle_number": 2, "member_id": second.recipient.member_id},
    ]
    await assert_money_checks_pass(stack)


async def test_dissolving_the_group_stops_every_debit(stack: Stack) -> None:
    activation, (first, second, third) = await activated(stack, 3)
    group_id = activation.group_id
    first_debits = await start(stack, first.cycle_id, 3)
    second_debits = await start(stack, second.cycle_id, 3)  # a short cadence: the cycles overlap
    await cancel_at_deadline(stack, first.cycle_id, first_debits)
    assert await rotation_status(stack, group_id) == "awaiting_admin_decision"
    assert await cancelled_starts(stack) == {start_timer_id(third.cycle_id, 0)}

    async with stack.database.transaction() as session:
        await rotation_decisions.dissolve(
            session, group_id, first.cycle_id, decided_by=activation.admin_member_id, now=datetime.now(UTC)
        )
    assert await rotation_status(stack, group_id) == "dissolved"
    (dissolved,) = await facts_named(stack, group_id, "rotation_dissolved")
    assert dissolved["dropped_cycle_numbers"] == [1, 3]

    # The cycle collecting is closed at once and gives back what it collected.
    await refunds_land(stack, second.cycle_id, second_debits)
    await eventually(
        lambda: _has_status(stack, second.cycle_id, "cancelled"), "the second cycle is cancelled"
    )
    # The cycle not started never starts, even should its cancelled start timer still fire.
    assert await stack.cycle_status(third.cycle_id) == "dropped"
    await stack.fire_timer(await start_timer(stack, start_timer_id(third.cycle_id, 0)))
    await eventually(
        lambda: stack.consumers_idle(COLLECTIONS.name, "collections-start-cycle"), "the start is handled"
    )
    assert await stack.cycle_status(third.cycle_id) == "dropped"
    assert stack.intents_held_by_simulator(third.cycle_id) == []
    assert len(stack.intents_held_by_simulator(second.cycle_id)) == 3
    # A member's own contributions leave out the dropped cycle, as the rotation does.
    async with stack.database.transaction() as session:
        mine = await queries.contributions_of_member(
            session, activation.members[0].member_id, after=None, limit=100
        )
    assert {row.cycle_id for row in mine} == {first.cycle_id, second.cycle_id}
    await assert_money_checks_pass(stack)


async def test_a_debt_holds_the_recipients_payout_until_the_admin_writes_it_off(stack: Stack) -> None:
    activation, (_, second) = await activated(stack, 2)
    group_id = activation.group_id
    owing = second.recipient.member_id
    async with stack.database.transaction() as session:
        # As a cycle step feeds it when a dispute of a debit already paid out is booked.
        opened = ReceivableOpened(datetime.now(UTC), owing, "dp_rotation_test", AMOUNT)
        await apply_to_rotation(session, group_id, opened, datetime.now(UTC), cause=None)
    await eventually(stack.outbox_empty, "the hold is published")
    (hold,) = await stack.published(PAYOUTS.name, subjects.PAYOUTS_HOLD_CYCLE)
    assert (hold["cycle_id"], hold["recipient_member_id"]) == (str(second.cycle_id), owing)

    for _ in range(2):  # the same decision asked again changes nothing
        async with stack.database.transaction() as session:
            await rotation_decisions.write_off(
                session, group_id, owing, decided_by=activation.admin_member_id, now=datetime.now(UTC)
            )
    await eventually(stack.outbox_empty, "the release is published")
    (release,) = await stack.published(PAYOUTS.name, subjects.PAYOUTS_RELEASE_CYCLE)
    assert (release["cycle_id"], release["recipient_member_id"]) == (str(second.cycle_id), owing)
    async with stack.database.transaction() as session:
        books = await transactions_of_cycle(session, group_id)  # the rotation's own, filed by group
    assert [(t.reference, sum(e.amount for e in t.entries)) for t in books] == [
        ("write-off-dp_rotation_test", 0)
    ]
    assert balance_of_kind(books, AccountKind.WRITE_OFF) == AMOUNT
    async with stack.database.transaction() as session:  # what members see of the group's books
        entries = await queries.ledger_entries_of_group(session, group_id, after=None, limit=50)
        balances = await queries.ledger_balances_of_group(session, group_id)
    assert {(e.reference, e.cycle_number) for e in entries} == {("write-off-dp_rotation_test", None)}
    assert any(b.account_kind == AccountKind.WRITE_OFF and b.balance == AMOUNT for b in balances)
