"""A cycle not funded by its deadline gives every debit back through Stripe refunds, and a member
who authorises a new bank account is debited again at once."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from contracts import subjects
from contracts.onboarding import MemberPaymentMethodChanged
from services.collections.domain.ledger import cycle_books_problems
from services.collections.store.ledger import transactions_of_cycle
from tests.integration.collections.support import (
    Stack,
    assert_money_checks_pass,
    eventually,
    member_with_mandate,
)
from tests.integration.collections.test_collections_cycle import _has_status, debits_out, started_cycle

pytestmark = pytest.mark.integration


async def test_a_cycle_closed_at_its_deadline_refunds_every_debit_and_closes_with_true_books(
    stack: Stack,
) -> None:
    plan, _ = await started_cycle(stack, members=2)
    intents = await debits_out(stack, plan.cycle_id, 2)
    stack.sim.advance(timedelta(seconds=3))
    first = next(
        pi
        for pi in intents
        if pi["metadata"]["contribution_id"] == str(plan.contributions[0].contribution_id)
    )
    await stack.deliver_stripe_events("payment_intent.succeeded", {first["id"]})  # the other's report is late

    async def one_collected() -> bool:
        return any(r["status"] == "succeeded" for r in await stack.contributions_of(plan.cycle_id))

    await eventually(one_collected, "one debit is collected")
    (deadline,) = await stack.timers(subjects.COLLECTIONS_CLOSE_COLLECTION)
    assert deadline["timer_id"] == f"cycle:{plan.cycle_id}:deadline"
    await stack.fire_timer(deadline)

    def refunds_made() -> list[dict[str, object]]:
        held = stack.sim.app.sim.objects.newest_first("refund", None)
        return [
            dict(r.body) for r in held if r.body.get("metadata", {}).get("cycle_id") == str(plan.cycle_id)
        ]

    async def both_refunds_made() -> bool:
        return len(refunds_made()) == 2

    await eventually(both_refunds_made, "both debits are refunded at Stripe")
    created = {e["data"]["object"]["id"]: e for e in stack.stripe_events("refund.created")}
    assert sorted(str(created[str(r["id"])]["request"]["idempotency_key"]) for r in refunds_made()) == sorted(
        f"refund-{c.contribution_id}-1" for c in plan.contributions
    )
    # The refunds land (the late debit settles first, as Stripe holds its refund until then).
    stack.sim.advance(timedelta(seconds=10))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await stack.deliver_stripe_events("refund.updated", {str(r["id"]) for r in refunds_made()})
    await eventually(lambda: _has_status(stack, plan.cycle_id, "cancelled"), "the cycle is cancelled")
    assert {r["status"] for r in await stack.contributions_of(plan.cycle_id)} == {"refunded"}
    async with stack.database.transaction() as session:
        books = await transactions_of_cycle(session, plan.cycle_id)
    assert cycle_books_problems(books, str(plan.cycle_id), "cancelled") == []
    assert await stack.cycle_facts(plan.cycle_id) == [
        "collections.evt.cycle_collecting",
        "collections.evt.cycle_cancelling",
        "collections.evt.cycle_cancelled",
    ]
    await assert_money_checks_pass(stack)


async def test_a_member_who_authorises_a_new_bank_account_is_debited_again_at_once(stack: Stack) -> None:
    lost = member_with_mandate(stack.sim, 1)
    stack.sim.deactivate_mandate(lost.mandate_id)
    plan, _ = await started_cycle(stack, members=2, replace_member_1=lost)

    async def waiting() -> bool:
        return any(r["status"] == "awaiting_mandate" for r in await stack.contributions_of(plan.cycle_id))

    await eventually(waiting, "the refused debit waits for a new mandate")
    fresh = member_with_mandate(stack.sim, 1)
    change = MemberPaymentMethodChanged(
        occurred_at=datetime.now(UTC),
        correlation_id=lost.member_id,
        member_id=lost.member_id,
        customer_id=fresh.customer_id,
        payment_method_id=fresh.payment_method_id,
        mandate_id=fresh.mandate_id,
        mandate_status="active",
        previous_payment_method_id=lost.payment_method_id,
        previous_mandate_id=lost.mandate_id,
        previous_mandate_status="inactive",
        group_ids=[plan.group_id],
    )
    await stack.publish(subjects.ONBOARDING_MEMBER_PAYMENT_METHOD_CHANGED, change)

    async def debited_again() -> bool:
        rows = await stack.contributions_of(plan.cycle_id)
        return any(r["member_id"] == lost.member_id and r["status"] == "processing" for r in rows)

    await eventually(debited_again, "the new mandate is debited")
    (second,) = [
        pi
        for pi in stack.intents_held_by_simulator(plan.cycle_id)
        if pi["metadata"]["member_id"] == lost.member_id and pi["metadata"]["attempt"] == "2"
    ]
    assert second["payment_method"] == fresh.payment_method_id
    assert uuid.UUID(second["metadata"]["contribution_id"]) == plan.contributions[0].contribution_id
