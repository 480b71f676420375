"""A BECS debit from submission to the bank's answer, with each test account's outcome."""

from typing import Any

from simulators.stripe_sim.becs_test_accounts import (
    FAILURE_MESSAGES,
    PERMANENT_FAILURE_CODES,
    TRANSACTION_LIMIT,
    BecsTestAccount,
    Outcome,
    behaviour_of,
)
from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources import refunds
from simulators.stripe_sim.resources.charges import mark_failed, mark_succeeded, new_charge
from simulators.stripe_sim.resources.disputes import open_dispute
from simulators.stripe_sim.resources.mandates import make_inactive
from simulators.stripe_sim.settlement_timing import expected_debit_date, settles_at
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.due_work import DueWork
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import bank_debit_declined

SETTLE_BECS_DEBIT = "settle_becs_debit"


def submit_debit(sim: Simulator, intent: StoredObject, method: StoredObject, mandate: StoredObject) -> None:
    """Confirmation: a pending charge now, the bank's answer later (or a refusal right away)."""
    behaviour = behaviour_of(method.internal["bsb_number"], method.internal["account_number"])
    if intent.body["amount"] > TRANSACTION_LIMIT:
        behaviour = BecsTestAccount("", "", Outcome.REFUSED_AT_CONFIRM, "charge_exceeds_transaction_limit")
    account = intent.account
    settles = settles_at(sim.settings, sim.now(), delayed=behaviour.delayed)
    charge = new_charge(
        sim, intent, method, mandate_id=mandate.id, expected_debit_date=expected_debit_date(settles)
    )
    intent.body.update(latest_charge=charge.id, payment_method=method.id, last_payment_error=None)
    intent.internal["mandate"] = mandate.id
    if behaviour.outcome is Outcome.REFUSED_AT_CONFIRM:
        assert behaviour.failure_code is not None
        _fail(sim, intent, charge, method, behaviour.failure_code)
        raise bank_debit_declined(
            FAILURE_MESSAGES[behaviour.failure_code],
            behaviour.failure_code,
            {
                "charge": charge.id,
                "payment_intent": intent.body,
                "payment_method": method.body,
                "payment_method_type": "au_becs_debit",
            },
        )
    intent.body["status"] = "processing"
    sim.objects.save(intent)
    emit_event(sim, "charge.pending", charge.body, account=account)
    emit_event(sim, "payment_intent.processing", intent.body, account=account)
    sim.due_work.schedule(settles.timestamp(), SETTLE_BECS_DEBIT, {"charge": charge.id})


def settle_becs_debit(sim: Simulator, work: DueWork) -> None:
    charge = sim.objects.get(work.payload["charge"], "charge")
    if charge is None or charge.body["status"] != "pending":
        return
    intent = sim.objects.get(charge.body["payment_intent"], "payment_intent")
    method = sim.objects.get(charge.body["payment_method"], "payment_method")
    assert intent is not None
    assert method is not None
    behaviour = behaviour_of(method.internal["bsb_number"], method.internal["account_number"])
    if behaviour.outcome is Outcome.FAILS:
        assert behaviour.failure_code is not None
        _fail(sim, intent, charge, method, behaviour.failure_code)
        return
    mark_succeeded(sim, charge)
    intent.body.update(status="succeeded", amount_received=intent.body["amount"])
    sim.objects.save(intent)
    emit_event(sim, "charge.succeeded", charge.body, account=charge.account)
    emit_event(sim, "payment_intent.succeeded", intent.body, account=intent.account)
    refunds.on_charge_succeeded(sim, charge)
    if behaviour.disputed:
        open_dispute(sim, charge)


def _fail(
    sim: Simulator, intent: StoredObject, charge: StoredObject, method: StoredObject, code: str
) -> None:
    message = FAILURE_MESSAGES[code]
    mark_failed(sim, charge, code, message)
    error: dict[str, Any] = {
        "charge": charge.id,
        "code": code,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": message,
        "payment_method": method.body,
        "payment_method_type": "au_becs_debit",
        "type": "card_error",
    }
    # As on Stripe, a failed attempt detaches the PaymentMethod from the intent: a retry names it.
    intent.body.update(status="requires_payment_method", last_payment_error=error, payment_method=None)
    sim.objects.save(intent)
    emit_event(sim, "charge.failed", charge.body, account=charge.account)
    emit_event(sim, "payment_intent.payment_failed", intent.body, account=intent.account)
    refunds.on_charge_failed(sim, charge)
    mandate = sim.objects.get(intent.internal.get("mandate", ""), "mandate")
    if mandate is not None and code in PERMANENT_FAILURE_CODES:
        make_inactive(sim, mandate)
