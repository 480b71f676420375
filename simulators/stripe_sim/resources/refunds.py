"""Refunds of BECS debits: asynchronous, within 90 days, partial or whole.

A refund of a debit still `processing` waits for it (`pending_reason: charge_pending`) and is
`canceled` if the debit fails. Otherwise it is `pending` until the money reaches the customer's
bank, then `succeeded`, or `failed` when a test helper says so.
"""

from datetime import timedelta
from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources import balance_transactions
from simulators.stripe_sim.resources.common import find, previous_values, updated_metadata
from simulators.stripe_sim.settlement_timing import refund_lands_at
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.due_work import DueWork
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, parameter_missing
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

SETTLE_REFUND = "settle_refund"
REFUND_WINDOW = timedelta(days=90)
FAILURE_REASONS = (
    "insufficient_funds",
    "declined",
    "unknown",
    "expired_or_canceled_card",
    "lost_or_stolen_card",
)


def create_refund(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params, account = request.params, request.account
    charge = _charge_to_refund(sim, params, account)
    _check_refundable(sim, charge)
    remaining = charge.body["amount"] - charge.body["amount_refunded"]
    amount: int = params.get("amount", remaining)
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge.id} has already been refunded.", code="charge_already_refunded", param="charge"
        )
    if amount <= 0 or amount > remaining:
        raise invalid_request(
            f"Refund amount (A${amount / 100:.2f}) is greater than unrefunded amount on charge "
            f"(A${remaining / 100:.2f})",
            code="amount_too_large",
            param="amount",
        )
    body: dict[str, Any] = {
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge.id,
        "created": sim.timestamp(),
        "currency": charge.body["currency"],
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "payment_intent": charge.body["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "pending",
        "transfer_reversal": None,
    }
    refund = sim.objects.create("refund", "re", body, account=account)
    charge.body.update(amount_refunded=charge.body["amount_refunded"] + amount)
    charge.body["refunded"] = charge.body["amount_refunded"] == charge.body["amount"]
    sim.objects.save(charge)
    if charge.body["status"] == "pending":
        refund.body["pending_reason"] = "charge_pending"
    else:
        _send_to_bank(sim, refund)
    emit_event(sim, "refund.created", refund.body, account=account)
    emit_event(
        sim,
        "charge.refunded",
        charge.body,
        account=account,
        previous_attributes={"amount_refunded": charge.body["amount_refunded"] - amount},
    )
    return refund.body


def _charge_to_refund(sim: Simulator, params: dict[str, Any], account: str | None) -> StoredObject:
    if charge_id := params.get("charge"):
        return find(sim, "charge", charge_id, account, param="charge")
    if intent_id := params.get("payment_intent"):
        intent = find(sim, "payment_intent", intent_id, account, param="payment_intent")
        if intent.body["latest_charge"] is None:
            raise invalid_request(
                f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
                param="payment_intent",
            )
        return find(sim, "charge", intent.body["latest_charge"], account, param="payment_intent")
    raise parameter_missing("charge")


def _check_refundable(sim: Simulator, charge: StoredObject) -> None:
    # Unconfirmed: Stripe's exact answer; the money goes back by reversing the transfer.
    if charge.body.get("source_transfer") is not None:
        raise invalid_request(
            f"Charge {charge.id} was made by transfer {charge.body['source_transfer']}; reverse "
            "the transfer to take the money back.",
            code="charge_not_refundable",
            param="charge",
        )
    if charge.body["status"] == "failed":
        raise invalid_request(
            f"Charge {charge.id} has failed and cannot be refunded.",
            code="charge_not_refundable",
            param="charge",
        )
    if charge.body["disputed"]:
        raise invalid_request(
            f"Charge {charge.id} has been charged back; it cannot be refunded.",
            code="charge_disputed",
            param="charge",
        )
    # Unconfirmed: Stripe's code for a refund past the 90-day window; this is its generic one.
    if charge.body["created"] < (sim.now() - REFUND_WINDOW).timestamp():
        raise invalid_request(
            f"Charge {charge.id} is more than 90 days old; BECS Direct Debit payments can be "
            "refunded only within 90 days.",
            code="charge_not_refundable",
            param="charge",
        )


def _send_to_bank(sim: Simulator, refund: StoredObject) -> None:
    """The money leaves the balance now and reaches the customer's bank later."""
    entry = balance_transactions.record(
        sim,
        refund.account,
        amount=-refund.body["amount"],
        kind="payment_refund",
        reporting_category="refund",
        source=refund.id,
        description="REFUND FOR PAYMENT",
    )
    refund.body["balance_transaction"] = entry.id
    refund.body.pop("pending_reason", None)
    sim.objects.save(refund)
    lands = refund_lands_at(sim.settings, sim.now())
    sim.due_work.schedule(lands.timestamp(), SETTLE_REFUND, {"refund": refund.id})


def on_charge_succeeded(sim: Simulator, charge: StoredObject) -> None:
    for refund in _waiting_on(sim, charge):
        before = dict(refund.body)
        _send_to_bank(sim, refund)
        _announce_update(sim, refund, before)


def on_charge_failed(sim: Simulator, charge: StoredObject) -> None:
    for refund in _waiting_on(sim, charge):
        before = dict(refund.body)
        refund.body["status"] = "canceled"
        refund.body.pop("pending_reason", None)
        sim.objects.save(refund)
        _give_back_to_charge(sim, refund)
        _announce_update(sim, refund, before)


def _waiting_on(sim: Simulator, charge: StoredObject) -> list[StoredObject]:
    return [
        refund
        for refund in sim.objects.newest_first("refund", charge.account)
        if refund.body["charge"] == charge.id and refund.body.get("pending_reason") == "charge_pending"
    ]


def settle_refund(sim: Simulator, work: DueWork) -> None:
    refund = sim.objects.get(work.payload["refund"], "refund")
    if refund is None or refund.body["status"] != "pending":
        return
    failure_reason = refund.internal.get("fail_with")
    if failure_reason is not None:
        fail_refund(sim, refund, failure_reason)
        return
    before = dict(refund.body)
    refund.body["status"] = "succeeded"
    sim.objects.save(refund)
    _announce_update(sim, refund, before)


def fail_refund(sim: Simulator, refund: StoredObject, reason: str) -> None:
    before = dict(refund.body)
    entry = balance_transactions.record(
        sim,
        refund.account,
        amount=refund.body["amount"],
        kind="refund_failure",
        reporting_category="refund_failure",
        source=refund.id,
        description="REFUND FAILURE",
    )
    refund.body.update(status="failed", failure_reason=reason, failure_balance_transaction=entry.id)
    sim.objects.save(refund)
    _give_back_to_charge(sim, refund)
    _announce_update(sim, refund, before)
    emit_event(sim, "refund.failed", refund.body, account=refund.account)


def _give_back_to_charge(sim: Simulator, refund: StoredObject) -> None:
    charge = sim.objects.get(refund.body["charge"], "charge")
    assert charge is not None
    charge.body["amount_refunded"] -= refund.body["amount"]
    charge.body["refunded"] = False
    sim.objects.save(charge)


def _announce_update(sim: Simulator, refund: StoredObject, before: dict[str, Any]) -> None:
    changed = previous_values(before, refund.body)
    for event_type in ("refund.updated", "charge.refund.updated"):
        emit_event(sim, event_type, refund.body, account=refund.account, previous_attributes=changed)


def fail_refund_on_request(sim: Simulator, refund_id: str, reason: str) -> dict[str, Any]:
    """Test helper: the customer's bank returns the refund (at once if it is on its way)."""
    if reason not in FAILURE_REASONS:
        raise invalid_request(f"reason must be one of {', '.join(FAILURE_REASONS)}", param="reason")
    refund = sim.objects.get(refund_id, "refund")
    if refund is None:
        raise invalid_request(f"No such refund: '{refund_id}'", code="resource_missing", status=404)
    if refund.body["status"] != "pending":
        raise invalid_request(f"The refund is {refund.body['status']}; only a pending refund can fail.")
    if refund.body.get("pending_reason") == "charge_pending":
        refund.internal["fail_with"] = reason
        sim.objects.save(refund)
    else:
        fail_refund(sim, refund, reason)
    return refund.body


def retrieve_refund(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return find(sim, "refund", request.path_params["refund"], request.account, param="refund").body


def update_refund(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    refund = find(sim, "refund", request.path_params["refund"], request.account, param="refund")
    if "metadata" in request.params:
        before = dict(refund.body)
        refund.body["metadata"] = updated_metadata(refund.body["metadata"], request.params["metadata"])
        sim.objects.save(refund)
        if changed := previous_values(before, refund.body):
            emit_event(
                sim, "refund.updated", refund.body, account=refund.account, previous_attributes=changed
            )
    return refund.body


def cancel_refund(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    refund = find(sim, "refund", request.path_params["refund"], request.account, param="refund")
    # Stripe cancels only refunds awaiting customer action; a BECS refund never does.
    raise invalid_request(
        f"You can't cancel refund {refund.id} because it has a status of {refund.body['status']}. "
        "Only refunds with a status of requires_action can be canceled.",
        param="refund",
    )


def list_refunds(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    charge, intent = params.get("charge"), params.get("payment_intent")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("refund", request.account),
        params,
        "/v1/refunds",
        lambda r: (
            in_range(r)
            and (charge is None or r.body["charge"] == charge)
            and (intent is None or r.body["payment_intent"] == intent)
        ),
    )


def refunds_of_charge(sim: Simulator, charge: dict[str, Any]) -> dict[str, Any]:
    """`charge.refunds`, which Stripe leaves out of a charge unless it is expanded."""
    stored = sim.objects.get(charge["id"], "charge")
    account = stored.account if stored is not None else None
    return list_page(
        sim.objects.newest_first("refund", account),
        {},
        f"/v1/charges/{charge['id']}/refunds",
        lambda r: r.body["charge"] == charge["id"],
    )


def add_routes(router: Router) -> None:
    router.include("charge", "refunds", refunds_of_charge)
    router.add("post", "/v1/refunds", create_refund)
    router.add("get", "/v1/refunds", list_refunds)
    router.add("get", "/v1/refunds/{refund}", retrieve_refund)
    router.add("post", "/v1/refunds/{refund}", update_refund)
    router.add("post", "/v1/refunds/{refund}/cancel", cancel_refund)
