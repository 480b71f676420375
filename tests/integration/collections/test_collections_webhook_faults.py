"""Stripe's webhooks duplicated and reordered (and a fifth of its API answers lost) give the same
books as a fault-free run: the same cycle, run through the real webhook gateway on two simulators,
one with ``WEBHOOK_FAULTS``, one without."""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts import subjects
from contracts.payouts import CyclePaid
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.ledger import AccountKind, balance_of_kind, balances, cycle_books_problems
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.handlers import router
from services.collections.store.ledger import transactions_of_cycle
from tests.integration.collections.conftest import WEBHOOK_FAULTS
from tests.integration.collections.support import (
    Stack,
    assert_money_checks_pass,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.collections.test_collections_cycle import AMOUNT, _has_status

pytestmark = pytest.mark.integration

MEMBERS = 4
FEE = AMOUNT // 100  # the group's 1% platform fee
TRANSFERRED = MEMBERS * (AMOUNT - FEE)
DROPPED_PERCENT = 20.0


@dataclass(frozen=True)
class Outcome:
    """What a run left behind, with its random ids replaced by the members' positions."""

    balances: dict[str, int]
    transactions: int
    intents_per_attempt: list[int]
    contributions: list[tuple[str, str, int]]
    pay_cycle_commands: int
    pay_cycle_message_ids: int
    cycle_facts: list[str]
    status: str | None
    dead_letters: int


async def test_duplicated_and_reordered_webhooks_give_the_same_books(
    heard_stack: Stack, faulty_heard_stack: Stack
) -> None:
    assert faulty_heard_stack.sim.faults()["duplicate_percent"] == WEBHOOK_FAULTS["fault_duplicate_percent"]
    calm = await completed_cycle(heard_stack)
    under_fire = await completed_cycle(faulty_heard_stack, dropped_connection_percent=DROPPED_PERCENT)

    duplicated, reordered = delivery_faults(faulty_heard_stack)
    assert duplicated > 0, "the faulty simulator delivered no event twice"
    assert reordered, "the faulty simulator delivered every event in the order it happened"
    assert under_fire == calm
    # And the figures themselves, not only their equality.
    assert calm.status == "completed"
    assert calm.intents_per_attempt == [1] * MEMBERS
    assert calm.contributions == [(f"member-{p}", "succeeded", 1) for p in range(1, MEMBERS + 1)]
    assert calm.pay_cycle_message_ids == 1
    assert calm.dead_letters == 0
    for position in range(1, MEMBERS + 1):
        assert calm.balances[f"member_contributions:member-{position}"] == -AMOUNT
    assert calm.balances["cycle_pot:cycle"] == 0
    assert calm.balances["transfers:cycle"] == TRANSFERRED
    assert calm.balances["platform_fees:cycle"] == MEMBERS * FEE


async def completed_cycle(stack: Stack, *, dropped_connection_percent: float = 0) -> Outcome:
    """A cycle of ``MEMBERS`` started, debited, funded by Stripe's webhooks, paid and completed;
    from the start of the cycle to its end, Stripe's API loses ``dropped_connection_percent`` of
    its answers after doing the work."""
    members = [member_with_mandate(stack.sim, p) for p in range(1, MEMBERS + 1)]
    activation = group_activated(members, amount=AMOUNT)
    plan = plan_rotation(activation, BecsBusinessCalendar())[0]
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    await eventually(lambda: _scheduled(stack, plan), "the first cycle's start is scheduled")
    timer = await _timer_of(stack, plan)
    assert timer is not None
    stack.sim.faults(dropped_connection_percent=dropped_connection_percent)
    try:
        await stack.fire_timer(timer)
        await _run_to_completion(stack, plan)
    finally:
        stack.sim.faults(dropped_connection_percent=0)
    await assert_money_checks_pass(stack)
    return await outcome_of(stack, plan)


async def _scheduled(stack: Stack, plan: CyclePlan) -> bool:
    return await _timer_of(stack, plan) is not None


async def _timer_of(stack: Stack, plan: CyclePlan) -> dict[str, Any] | None:
    timers = await stack.timers(subjects.COLLECTIONS_START_CYCLE)
    return next((t for t in timers if t["payload"]["cycle_id"] == str(plan.cycle_id)), None)


async def _run_to_completion(stack: Stack, plan: CyclePlan) -> None:

    async def every_debit_processing() -> bool:
        rows = await stack.contributions_of(plan.cycle_id)
        return len(rows) == MEMBERS and all(row["status"] == "processing" for row in rows)

    await eventually(every_debit_processing, "every debit is processing", timeout=60)
    # The debits settle; each event's deliveries fall due within the out-of-order window.
    stack.sim.advance(timedelta(seconds=3))
    for _ in range(int(WEBHOOK_FAULTS["fault_out_of_order_window_seconds"]) + 2):
        stack.sim.advance(timedelta(seconds=1))
    await eventually(
        lambda: _has_status(stack, plan.cycle_id, "paying_out"), "the webhooks fund the cycle", timeout=60
    )
    await stack.publish(
        subjects.PAYOUTS_CYCLE_PAID,
        CyclePaid(
            occurred_at=plan.start_at,
            correlation_id=str(plan.cycle_id),
            cycle_id=plan.cycle_id,
            transferred_amount=TRANSFERRED,
        ),
    )
    await eventually(lambda: _has_status(stack, plan.cycle_id, "completed"), "the cycle is completed")

    # Stripe's fee on each debit is read apart from the saga, which does not wait for it; and a
    # report the service failed to apply would still be coming back.
    await eventually(lambda: everything_handled(stack), "every message is handled", timeout=60)


async def everything_handled(stack: Stack) -> bool:
    for subscription in router.subscriptions:
        if not await stack.consumers_idle(subscription.stream, subscription.durable):
            return False
    return await stack.outbox_empty()


async def outcome_of(stack: Stack, plan: CyclePlan) -> Outcome:
    async with stack.database.transaction() as session:
        books = await transactions_of_cycle(session, plan.cycle_id)
    assert cycle_books_problems(books, str(plan.cycle_id), "completed") == []
    assert balance_of_kind(books, AccountKind.CYCLE_POT) == 0
    names = {str(plan.cycle_id): "cycle"} | {
        c.member.member_id: f"member-{c.member.position}" for c in plan.contributions
    }
    pay = await stack.pay_cycle_commands()
    return Outcome(
        balances={
            f"{account.kind}:{names.get(account.key, account.key)}": amount
            for account, amount in balances(books).items()
        },
        transactions=len(books),
        intents_per_attempt=intents_per_attempt(stack, plan.cycle_id),
        contributions=sorted(
            (names[row["member_id"]], row["status"], row["attempt"])
            for row in await stack.contributions_of(plan.cycle_id)
        ),
        pay_cycle_commands=len(pay),
        pay_cycle_message_ids=len({p["message_id"] for p in pay}),
        cycle_facts=await stack.cycle_facts(plan.cycle_id),
        status=await stack.cycle_status(plan.cycle_id),
        dead_letters=len(await stack.published("DEADLETTER")),
    )


def intents_per_attempt(stack: Stack, cycle_id: UUID) -> list[int]:
    """How many PaymentIntents the simulator holds for each contribution's attempt (read from its
    store: its API drops connections)."""
    counts: dict[tuple[str, str], int] = {}
    for intent in stack.intents_held_by_simulator(cycle_id):
        metadata: dict[str, Any] = intent["metadata"]
        key = (metadata["contribution_id"], metadata["attempt"])
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts.values())


def delivery_faults(stack: Stack) -> tuple[int, bool]:
    """How many events the gateway received twice, and whether they arrived out of the order in
    which they happened."""
    happened = [event.id for event in reversed(list(stack.sim.app.sim.objects.newest_first("event", None)))]
    order = {event_id: position for position, event_id in enumerate(happened)}
    delivered = [
        d for d in sorted(stack.sim.deliveries(), key=lambda d: d["attempted_at"]) if d["status"] == 200
    ]
    sent = Counter((d["event_id"], d["endpoint_id"]) for d in delivered)
    arrival = [order[d["event_id"]] for d in delivered]
    return sum(1 for copies in sent.values() if copies > 1), arrival != sorted(arrival)
