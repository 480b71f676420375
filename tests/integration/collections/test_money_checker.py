"""The money checker can fail: on a cycle paid out for real (transfers made on the simulator as
payouts makes them) every invariant holds, and each kind of violation is caught, whether the books
are tampered with or a stray object is made on the simulator behind the ledger's back."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from contracts import subjects
from contracts.payouts import CyclePaid
from rosca.money_checker import MoneyReport, ViolationKind, check_money
from tests.integration.collections.support import Stack, eventually
from tests.integration.collections.test_collections_cycle import _has_status, debits_out, started_cycle
from tests.integration.stripe_sim.connect_fixtures import onboarded_account

pytestmark = pytest.mark.integration


async def checked(stack: Stack) -> MoneyReport:
    return await check_money(stack.database.url, stack.sim.client(), transfers_on_stripe=True)


async def paid_cycle(stack: Stack) -> tuple[Any, dict[str, Any], str]:
    """A two-member cycle debited, funded, and paid out by one transfer per charge on the simulator
    (as payouts makes them: transfer_group, source_transaction, key payout-<cycle>-<charge>)."""
    plan, _ = await started_cycle(stack, members=2)
    intents = await debits_out(stack, plan.cycle_id, 2)
    stack.sim.advance(timedelta(seconds=3))
    await stack.deliver_stripe_events("payment_intent.succeeded", {pi["id"] for pi in intents})
    await eventually(lambda: _has_status(stack, plan.cycle_id, "paying_out"), "the cycle is paying out")
    (pay,) = await stack.pay_cycle_commands()
    account = onboarded_account(stack.sim.client())
    for charge in pay["charges"]:
        make_transfer(stack, pay, charge, account.id)
    await stack.publish(
        subjects.PAYOUTS_CYCLE_PAID,
        CyclePaid(
            occurred_at=plan.start_at,
            correlation_id=str(plan.cycle_id),
            cycle_id=plan.cycle_id,
            transferred_amount=pay["transfer_total"],
        ),
    )
    await eventually(lambda: _has_status(stack, plan.cycle_id, "completed"), "the cycle is completed")

    async def clean() -> bool:
        return (await checked(stack)).passed

    await eventually(clean, "the books settle (Stripe's fees booked)")
    return plan, pay, account.id


def make_transfer(
    stack: Stack, pay: dict[str, Any], charge: dict[str, Any], destination: str, key: str = ""
) -> Any:
    return stack.sim.client().v1.transfers.create(
        {
            "amount": charge["transfer_amount"],
            "currency": "aud",
            "destination": destination,
            "source_transaction": charge["charge_id"],
            "transfer_group": pay["transfer_group"],
        },
        {"idempotency_key": key or f"payout-{pay['cycle_id']}-{charge['charge_id']}"},
    )


async def tamper(stack: Stack, *statements: str) -> None:
    """Edit the books as no code of rosca can: the append-only triggers are off for this session."""
    async with stack.database.transaction() as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            await session.execute(text(statement))


async def test_a_paid_cycle_passes_and_every_kind_of_tampered_books_is_caught(stack: Stack) -> None:
    plan, _, _ = await paid_cycle(stack)
    report = await checked(stack)
    assert report.passed, report.describe()
    assert (report.cycles_checked, report.stripe_objects_checked) == (2, 4)  # 2 debits, 2 transfers
    first, second = plan.contributions
    fee = f"debit-stripe-fee-{first.contribution_id}-1"

    await tamper(
        stack, f"UPDATE ledger_entries SET amount = amount + 1 WHERE reference = '{fee}' AND amount > 0"
    )
    report = await checked(stack)
    assert ViolationKind.TRANSACTION_UNBALANCED in report.kinds()
    assert [v.subject for v in report.violations if v.kind is ViolationKind.TRANSACTION_UNBALANCED] == [fee]

    # A balanced transaction that takes money out of the pot to nowhere the cycle accounts for.
    leak = f"other-leak-{uuid.uuid4()}"
    await tamper(
        stack,
        f"INSERT INTO ledger_transactions VALUES ('{leak}', '{plan.cycle_id}', 'aud', now())",
        f"INSERT INTO ledger_entries (reference, account_kind, account_key, amount, currency) VALUES "
        f"('{leak}', 'cycle_pot', '{plan.cycle_id}', -100, 'aud'), "
        f"('{leak}', 'platform_funds', '', 100, 'aud')",
    )
    report = await checked(stack)
    assert [v.subject for v in report.violations if v.kind is ViolationKind.CYCLE_MONEY_UNACCOUNTED] == [
        f"cycle {plan.cycle_id}"
    ]

    refund = f"debit-refunded-{second.contribution_id}-1"
    await tamper(
        stack,
        f"INSERT INTO ledger_transactions VALUES ('{refund}', '{plan.cycle_id}', 'aud', now())",
        f"INSERT INTO ledger_entries (reference, account_kind, account_key, amount, currency) VALUES "
        f"('{refund}', 'cycle_pot', '{plan.cycle_id}', -500, 'aud'), "
        f"('{refund}', 'refunds', '{plan.cycle_id}', 500, 'aud')",
    )
    report = await checked(stack)
    assert ViolationKind.PAID_AND_REFUNDED in report.kinds()
    assert any(
        v.kind is ViolationKind.BOOKS_DISAGREE and "refunded_differs" in v.detail for v in report.violations
    )

    collected = f"debit-collected-{second.contribution_id}-1"
    await tamper(
        stack,
        f"DELETE FROM ledger_entries WHERE reference = '{collected}'",
        f"DELETE FROM ledger_transactions WHERE reference = '{collected}'",
    )
    report = await checked(stack)
    (early,) = [v for v in report.violations if v.kind is ViolationKind.TRANSFER_BEFORE_FUNDED]
    assert str(second.contribution_id) in early.detail
    assert any(
        v.kind is ViolationKind.BOOKS_DISAGREE and "collected_differs" in v.detail for v in report.violations
    )


async def test_stray_objects_on_the_simulator_are_caught(stack: Stack) -> None:
    plan, pay, account = await paid_cycle(stack)
    stripe = stack.sim.client()
    first = pay["charges"][0]

    # A second transfer for one charge, as a payout retried under another key would make.
    make_transfer(stack, pay, {**first, "transfer_amount": 50}, account, key="another-key")
    report = await checked(stack)
    assert ViolationKind.STRIPE_OBJECT_DUPLICATED in report.kinds()
    assert any(
        v.kind is ViolationKind.BOOKS_DISAGREE and "transferred_differs" in v.detail
        for v in report.violations
    )

    # A second PaymentIntent for one contribution attempt, tagged as rosca tags its debits.
    original = stripe.v1.payment_intents.retrieve(first["payment_intent_id"])
    planned = plan.contributions[0]
    stripe.v1.payment_intents.create(
        {
            "amount": original.amount,
            "currency": "aud",
            "customer": planned.member.customer_id,
            "payment_method": planned.member.payment_method_id,
            "mandate": planned.member.mandate_id,
            "allowed_payment_method_types": ["au_becs_debit"],
            "confirm": True,
            "metadata": original.metadata.to_dict() if original.metadata else {},
        }
    )
    report = await checked(stack)
    duplicated = [v.subject for v in report.violations if v.kind is ViolationKind.STRIPE_OBJECT_DUPLICATED]
    assert f"debit of contribution {first['contribution_id']} attempt 1" in duplicated

    # A refund of a debit of the paid cycle, made at Stripe behind the ledger's back.
    stripe.v1.refunds.create({"payment_intent": first["payment_intent_id"], "amount": 700})
    stack.sim.advance(timedelta(days=6))
    report = await checked(stack)
    assert ViolationKind.PAID_AND_REFUNDED in report.kinds()
    assert any(
        v.kind is ViolationKind.BOOKS_DISAGREE and "refunded_differs" in v.detail and "Stripe 700" in v.detail
        for v in report.violations
    )


async def test_a_transfer_before_every_contribution_is_collected_is_caught(stack: Stack) -> None:
    plan, _ = await started_cycle(stack, members=2)
    intents = await debits_out(stack, plan.cycle_id, 2)
    stack.sim.advance(timedelta(seconds=3))
    collected, late = intents
    await stack.deliver_stripe_events(
        "payment_intent.succeeded", {collected["id"]}
    )  # the other's report is late

    async def one_collected() -> bool:
        return any(r["status"] == "succeeded" for r in await stack.contributions_of(plan.cycle_id))

    await eventually(one_collected, "one debit is collected")
    account = onboarded_account(stack.sim.client())
    charge = {"charge_id": collected["latest_charge"], "transfer_amount": 1_000}
    pay = {"cycle_id": str(plan.cycle_id), "transfer_group": f"cycle_{plan.cycle_id}"}
    make_transfer(stack, pay, charge, account.id)

    report = await checked(stack)
    (early,) = [v for v in report.violations if v.kind is ViolationKind.TRANSFER_BEFORE_FUNDED]
    assert early.subject == f"cycle {plan.cycle_id}"
    assert late["metadata"]["contribution_id"] in early.detail
