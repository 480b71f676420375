"""A cycle on real NATS, Postgres and the Stripe simulator: planned at activation, started by its
timer, debited once per member, funded by Stripe's reports, paid out, with true books."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from contracts import subjects
from contracts.onboarding import ActivatedMember
from contracts.payouts import CyclePaid
from services.collections.calendar import BecsBusinessCalendar
from services.collections.domain.ledger import AccountKind, balance_of_kind, cycle_books_problems
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.store.ledger import transactions_of_cycle
from tests.integration.collections.support import (
    Stack,
    assert_money_checks_pass,
    eventually,
    group_activated,
    member_with_mandate,
)

pytestmark = pytest.mark.integration

AMOUNT = 5_000


async def started_cycle(
    stack: Stack,
    members: int = 3,
    *,
    answers_lost: bool = False,
    stripe_down: bool = False,
    replace_member_1: ActivatedMember | None = None,
    **accounts: str,
) -> tuple[CyclePlan, dict[str, Any]]:
    """An activated group whose first cycle's start timer has fired; the plan and that timer.

    With ``answers_lost``, Stripe's API drops every connection from the start on (the requests
    still run): the simulator makes the debits, and the service never hears its answers. With
    ``stripe_down``, it answers every request 500 without running it."""
    chosen = [
        member_with_mandate(stack.sim, p, accounts.get(f"member_{p}", "000123456"))
        for p in range(1, members + 1)
    ]
    if replace_member_1 is not None:
        chosen[0] = replace_member_1
    activation = group_activated(chosen, amount=AMOUNT)
    await stack.publish(subjects.ONBOARDING_GROUP_ACTIVATED, activation)
    plans = plan_rotation(activation, BecsBusinessCalendar())
    await eventually(
        lambda: _count(stack.timers(subjects.COLLECTIONS_START_CYCLE), members),
        "every cycle's start is scheduled",
    )
    (timer,) = [
        t
        for t in await stack.timers(subjects.COLLECTIONS_START_CYCLE)
        if t["payload"]["cycle_id"] == str(plans[0].cycle_id)
    ]
    if answers_lost:
        stack.sim.faults(dropped_connection_percent=100)
    if stripe_down:
        stack.sim.faults(server_error_percent=100)
    await stack.fire_timer(timer)
    return plans[0], timer


async def _count(found: Any, expected: int) -> bool:
    return len(await found) == expected


async def debits_out(stack: Stack, cycle_id: UUID, expected: int) -> list[dict[str, Any]]:
    async def every_answer_recorded() -> bool:
        rows = await stack.contributions_of(cycle_id)
        return all(row["status"] == "processing" for row in rows)

    await eventually(every_answer_recorded, "every debit is processing")
    intents = stack.payment_intents_of_cycle(cycle_id)
    assert len(intents) == expected
    return intents


async def test_an_activated_group_is_debited_funded_and_paid_out_with_true_books(stack: Stack) -> None:
    plan, timer = await started_cycle(stack)
    assert timer["timer_id"] == f"cycle:{plan.cycle_id}:start"
    assert datetime.fromisoformat(timer["due_at"]) == plan.start_at

    intents = await debits_out(stack, plan.cycle_id, 3)
    by_contribution = {pi["metadata"]["contribution_id"]: pi for pi in intents}
    assert set(by_contribution) == {str(c.contribution_id) for c in plan.contributions}
    for planned in plan.contributions:
        intent = by_contribution[str(planned.contribution_id)]
        assert (intent["amount"], intent["currency"], intent["customer"]) == (
            AMOUNT,
            "aud",
            planned.member.customer_id,
        )
        assert intent["metadata"] == {
            "group_id": str(plan.group_id),
            "cycle_id": str(plan.cycle_id),
            "cycle_number": "1",
            "member_id": planned.member.member_id,
            "contribution_id": str(planned.contribution_id),
            "attempt": "1",
        }
        assert intent["transfer_group"] == f"cycle_{plan.cycle_id}"
    created = [
        e
        for e in stack.stripe_events("payment_intent.created")
        if e["data"]["object"]["id"] in {pi["id"] for pi in intents}
    ]
    assert sorted(e["request"]["idempotency_key"] for e in created) == sorted(
        f"contribution-{c.contribution_id}-1" for c in plan.contributions
    )

    stack.sim.advance(timedelta(seconds=3))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await eventually(
        lambda: _has_status(stack, plan.cycle_id, "paying_out"), "the cycle is funded and paying out"
    )

    (pay,) = await stack.pay_cycle_commands()
    settled = {pi["id"]: pi for pi in stack.payment_intents_of_cycle(plan.cycle_id)}
    assert {c["payment_intent_id"]: c["charge_id"] for c in pay["charges"]} == {
        pi_id: pi["latest_charge"] for pi_id, pi in settled.items()
    }
    assert pay["recipient_member_id"] == plan.recipient.member_id
    assert pay["connected_account_id"] == plan.recipient.connected_account_id
    assert pay["transfer_group"] == f"cycle_{plan.cycle_id}"
    assert [c["platform_fee"] for c in pay["charges"]] == [50, 50, 50]  # 1% of each A$50 debit
    assert pay["transfer_total"] == 3 * AMOUNT - 150
    assert all(c["transfer_amount"] + c["platform_fee"] == c["amount"] == AMOUNT for c in pay["charges"])
    assert await stack.cycle_facts(plan.cycle_id) == [
        "collections.evt.cycle_collecting",
        "collections.evt.cycle_funded",
        "collections.evt.cycle_paying_out",
    ]

    await stack.publish(
        subjects.PAYOUTS_CYCLE_PAID,
        CyclePaid(
            occurred_at=plan.start_at,
            correlation_id=str(plan.cycle_id),
            cycle_id=plan.cycle_id,
            transferred_amount=14_850,
        ),
    )
    await eventually(lambda: _has_status(stack, plan.cycle_id, "completed"), "the cycle is completed")
    async with stack.database.transaction() as session:
        books = await transactions_of_cycle(session, plan.cycle_id)
    assert cycle_books_problems(books, str(plan.cycle_id), "completed") == []
    assert sum(entry.amount for tx in books for entry in tx.entries) == 0
    assert balance_of_kind(books, AccountKind.TRANSFERS) == 14_850
    assert balance_of_kind(books, AccountKind.PLATFORM_FEES) == 150
    assert balance_of_kind(books, AccountKind.CYCLE_POT) == 0
    await assert_money_checks_pass(stack)


async def _has_status(stack: Stack, cycle_id: UUID, status: str) -> bool:
    """The cycle reached ``status`` and everything it decided on the way is published."""
    return await stack.cycle_status(cycle_id) == status and await stack.outbox_empty()
