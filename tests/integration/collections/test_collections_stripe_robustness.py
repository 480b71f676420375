"""Collections against a Stripe that charges fees, is busy, and forgets idempotency keys after 24 h."""

import uuid
from datetime import timedelta
from uuid import UUID

import pytest

from contracts import subjects
from contracts.streams import COLLECTIONS
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.ledger import (
    Account,
    AccountKind,
    Transaction,
    balance_of_kind,
    collected_into_pot,
)
from services.collections.domain.rotation import plan_rotation
from services.collections.store.ledger import transactions_of_cycle
from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.naming import Namespace
from services.runtime.request_budget import SharedRequestBudget
from services.runtime.stripe_client import BUDGET_BUCKET
from tests.integration.collections.support import (
    Stack,
    assert_money_checks_pass,
    eventually,
    group_activated,
    member_with_mandate,
)
from tests.integration.collections.test_collections_cycle import (
    AMOUNT,
    _count,
    _has_status,
    debits_out,
    started_cycle,
)

pytestmark = pytest.mark.integration


async def _books(stack: Stack, cycle_id: UUID) -> list[Transaction]:
    async with stack.database.transaction() as session:
        return await transactions_of_cycle(session, cycle_id)


def _stripe_fees_of(stack: Stack, charge_ids: list[str]) -> int:
    """What Stripe's balance transactions say it took on these charges."""
    total = 0
    for charge_id in charge_ids:
        (transaction,) = stack.stripe_get("/v1/balance_transactions", source=charge_id)["data"]
        total += transaction["fee"]
    return total


async def test_stripes_fees_on_a_funded_cycle_are_booked_once_as_a_platform_cost_apart_from_the_pot(
    stack: Stack,
) -> None:
    plan, _ = await started_cycle(stack)
    intents = await debits_out(stack, plan.cycle_id, 3)
    stack.sim.advance(timedelta(seconds=3))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await eventually(lambda: _has_status(stack, plan.cycle_id, "paying_out"), "the cycle is funded")
    charges = [pi["latest_charge"] for pi in stack.payment_intents_of_cycle(plan.cycle_id)]
    expected = _stripe_fees_of(stack, charges)
    assert expected > 0

    async def fees_booked() -> bool:
        books = await _books(stack, plan.cycle_id)
        return balance_of_kind(books, AccountKind.STRIPE_FEES) == expected

    await eventually(fees_booked, "Stripe's fees are booked")

    # Every fee read again, as a new message: booked once per charge all the same.
    reads = await stack.published(COLLECTIONS.name, subjects.COLLECTIONS_READ_CHARGE_FEE)
    assert sorted(r["charge_id"] for r in reads) == sorted(charges)
    for read in reads:
        body = {k: v for k, v in read.items() if k != "subject"}
        await stack.publish(subjects.COLLECTIONS_READ_CHARGE_FEE, {**body, "message_id": str(uuid.uuid4())})
    await eventually(
        lambda: stack.consumers_idle(COLLECTIONS.name, "collections-read-charge-fee"), "the reads are taken"
    )
    books = await _books(stack, plan.cycle_id)
    assert balance_of_kind(books, AccountKind.STRIPE_FEES) == expected
    assert len([tx for tx in books if tx.reference.startswith("debit-stripe-fee-")]) == 3
    # The platform pays them; the members' money is whole: all of it collected, and all of it
    # earmarked for the recipient and the platform's fee share, none for Stripe.
    assert balance_of_kind(books, AccountKind.PLATFORM_FUNDS) == -expected
    assert collected_into_pot(books, str(plan.cycle_id)) == 3 * AMOUNT
    key = str(plan.cycle_id)
    assert (
        sum(
            tx_entry.amount
            for tx in books
            for tx_entry in tx.entries
            if tx_entry.account
            in (Account(AccountKind.RECIPIENT_PAYABLE, key), Account(AccountKind.PLATFORM_FEES, key))
        )
        == 3 * AMOUNT
    )
    assert balance_of_kind(books, AccountKind.CYCLE_POT) == 0
    assert await stack.published("DEADLETTER") == []
    await assert_money_checks_pass(stack)


async def test_a_busy_stripe_budget_puts_debits_off_without_failing_them(slow_budget_stack: Stack) -> None:
    """Another service's burst holds the shared budget (2 requests a second) 31 s ahead, longer
    than a call may wait, as 20 debits are asked for: each waits its turn, none fails."""
    stack = slow_budget_stack
    members = [member_with_mandate(stack.sim, p) for p in range(1, 21)]
    activation = group_activated(members, amount=AMOUNT)
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    plan = plan_rotation(activation, BecsBusinessCalendar())[0]
    await eventually(
        lambda: _count(stack.timers(subjects.COLLECTIONS_START_CYCLE), 20), "every start is scheduled"
    )
    (timer,) = [
        t
        for t in await stack.timers(subjects.COLLECTIONS_START_CYCLE)
        if t["payload"]["cycle_id"] == str(plan.cycle_id)
    ]
    burst = SharedRequestBudget(
        lambda: stack.js,
        Namespace(stack.namespace).bucket(BUDGET_BUCKET),
        requests_per_second=2.0,
        max_wait_seconds=3_600,
    )
    for _ in range(62):
        await burst.reserve()
    await stack.fire_timer(timer)

    async def every_debit_out() -> bool:
        rows = await stack.contributions_of(plan.cycle_id)
        return all(row["status"] == "processing" for row in rows)

    await eventually(every_debit_out, "every debit is made", timeout=120)
    intents = stack.intents_held_by_simulator(plan.cycle_id)
    assert sorted(pi["metadata"]["contribution_id"] for pi in intents) == sorted(
        str(c.contribution_id) for c in plan.contributions
    )
    assert await stack.timers(subjects.COLLECTIONS_CREATE_PAYMENT_INTENT) == []
    assert await stack.published("DEADLETTER") == []


async def test_a_debit_tried_again_after_stripe_forgot_its_key_adopts_the_first_payment_intent(
    impatient_simulated_stack: Stack,
) -> None:
    stack = impatient_simulated_stack
    # Stripe makes both debits, but its answers are lost; after every delivery the calls wait on
    # their timers, which fire only after Stripe has forgotten the keys.
    try:
        plan, _ = await started_cycle(stack, members=2, answers_lost=True)

        async def put_back_on_timers() -> bool:
            return len(await stack.timers(subjects.COLLECTIONS_CREATE_PAYMENT_INTENT)) == 2

        await eventually(put_back_on_timers, "every debit is asked again later")
    finally:
        stack.sim.faults(dropped_connection_percent=0)
    first = {pi["id"] for pi in stack.intents_held_by_simulator(plan.cycle_id)}
    assert len(first) == 2
    stack.sim.advance(timedelta(hours=25))
    await advance_simulated_clock(
        stack.js, timedelta(hours=25), Namespace(stack.namespace).bucket(CLOCK_BUCKET)
    )
    for later in await stack.timers(subjects.COLLECTIONS_CREATE_PAYMENT_INTENT):
        await stack.fire_timer(later)

    await eventually(
        lambda: stack.consumers_idle(COLLECTIONS.name, "collections-create-payment-intent"),
        "the calls are made again",
    )
    assert {pi["id"] for pi in stack.intents_held_by_simulator(plan.cycle_id)} == first
    await eventually(
        lambda: _has_status(stack, plan.cycle_id, "paying_out"), "funded by the debits first made"
    )
    rows = await stack.contributions_of(plan.cycle_id)
    assert {r["payment_intent_id"] for r in rows} == first


async def test_a_refund_tried_again_after_stripe_forgot_its_key_adopts_the_first_refund(
    impatient_simulated_stack: Stack,
) -> None:
    stack = impatient_simulated_stack
    plan, _ = await started_cycle(stack, members=2)
    intents = await debits_out(stack, plan.cycle_id, 2)
    (deadline,) = [
        t
        for t in await stack.timers(subjects.COLLECTIONS_CLOSE_COLLECTION)
        if t["payload"]["cycle_id"] == str(plan.cycle_id)
    ]
    # The cycle is cancelled; Stripe makes both refunds, but its answers are lost, and the calls
    # wait on their timers until Stripe has forgotten the keys.
    try:
        stack.sim.faults(dropped_connection_percent=100)
        await stack.fire_timer(deadline)

        async def put_back_on_timers() -> bool:
            return len(await stack.timers(subjects.COLLECTIONS_CREATE_REFUND)) == 2

        await eventually(put_back_on_timers, "every refund is asked again later")
    finally:
        stack.sim.faults(dropped_connection_percent=0)

    def refunds() -> dict[str, list[str]]:
        return {
            pi["id"]: [r["id"] for r in stack.stripe_get("/v1/refunds", payment_intent=pi["id"])["data"]]
            for pi in intents
        }

    first = refunds()
    assert all(len(made) == 1 for made in first.values())
    stack.sim.advance(timedelta(hours=25))  # the debits settle, and so do their refunds
    await advance_simulated_clock(
        stack.js, timedelta(hours=25), Namespace(stack.namespace).bucket(CLOCK_BUCKET)
    )
    for later in await stack.timers(subjects.COLLECTIONS_CREATE_REFUND):
        await stack.fire_timer(later)

    await eventually(
        lambda: stack.consumers_idle(COLLECTIONS.name, "collections-create-refund"),
        "the calls are made again",
    )
    assert refunds() == first
    rows = await stack.contributions_of(plan.cycle_id)
    assert "refund_failed" not in {r["status"] for r in rows}
    # Stripe's reports of the debits and their refunds close the cycle, every debit given back.
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await stack.deliver_stripe_events("refund.updated", {r for made in first.values() for r in made})
    await eventually(lambda: _has_status(stack, plan.cycle_id, "cancelled"), "the cycle is cancelled")
    assert {r["status"] for r in await stack.contributions_of(plan.cycle_id)} == {"refunded"}
