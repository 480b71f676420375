"""Disputes: a BECS dispute is final the moment it is raised (no evidence, no appeal)."""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.fees import DISPUTE_FEE
from simulators.stripe_sim.resources import balance_transactions
from simulators.stripe_sim.resources.common import find, previous_values, updated_metadata
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.copies import json_copy
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

_EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
    "uncategorized_file", "uncategorized_text",
)  # fmt: skip


def open_dispute(sim: Simulator, charge: StoredObject) -> StoredObject:
    body: dict[str, Any] = {
        "object": "dispute",
        "amount": charge.body["amount"],
        "balance_transactions": [],
        "charge": charge.id,
        "created": sim.timestamp(),
        "currency": charge.body["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {**dict.fromkeys(_EVIDENCE_FIELDS), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": None,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge.body["payment_intent"],
        "reason": "debit_not_authorized",
        # Chosen: a BECS dispute cannot be contested, so it is lost as it opens.
        "status": "lost",
    }
    dispute = sim.objects.create("dispute", "dp", body, account=charge.account)
    # The disputed amount and the dispute fee leave the balance at once.
    withdrawal = balance_transactions.record(
        sim,
        charge.account,
        amount=-charge.body["amount"],
        fee=DISPUTE_FEE,
        fee_description="Dispute fee",
        kind="adjustment",
        reporting_category="dispute",
        source=dispute.id,
        description=f"Chargeback withdrawal for {charge.id}",
    )
    dispute.body["balance_transactions"] = [withdrawal.body]
    charge.body["disputed"] = True
    sim.objects.save(charge)
    emit_event(sim, "charge.dispute.created", dispute.body, account=charge.account)
    emit_event(sim, "charge.dispute.closed", dispute.body, account=charge.account)
    return dispute


def win_dispute(sim: Simulator, dispute: StoredObject) -> StoredObject:
    """The bank decides a dispute for the platform after all (for BECS a rare reversal, say the
    member withdrew their claim): the disputed amount comes back to the balance (the dispute fee does
    not), `charge.dispute.funds_reinstated` and `charge.dispute.closed` with status `won`.

    Chosen: a `lost` dispute may turn `won` this way, since the simulator opens every BECS dispute
    `lost`; whether Stripe ever reports such a reversal so is unconfirmed."""
    if dispute.body["status"] == "won":
        raise invalid_request(f"Dispute {dispute.id} has already been won.")
    reinstatement = balance_transactions.record(
        sim,
        dispute.account,
        amount=dispute.body["amount"],
        kind="adjustment",
        reporting_category="dispute_reversal",
        source=dispute.id,
        description=f"Chargeback reversal for {dispute.body['charge']}",
        currency=dispute.body["currency"],
    )
    dispute.body["balance_transactions"] = [*dispute.body["balance_transactions"], reinstatement.body]
    dispute.body["status"] = "won"
    sim.objects.save(dispute)
    emit_event(sim, "charge.dispute.funds_reinstated", dispute.body, account=dispute.account)
    emit_event(sim, "charge.dispute.closed", dispute.body, account=dispute.account)
    return dispute


def retrieve_dispute(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return _find(sim, request).body


def update_dispute(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    """Metadata at any time; evidence never: a BECS dispute is closed (lost) as it opens.

    Unconfirmed: Stripe's exact answer to evidence on a closed dispute; this is the simulator's.
    """
    dispute = _find(sim, request)
    params = request.params
    if "evidence" in params or params.get("submit"):
        raise invalid_request(
            f"This dispute is {dispute.body['status']}: evidence can no longer be submitted "
            "(a BECS Direct Debit dispute cannot be contested).",
            param="evidence",
        )
    before = json_copy(dispute.body)
    if "metadata" in params:
        dispute.body["metadata"] = updated_metadata(dispute.body["metadata"], params["metadata"])
    sim.objects.save(dispute)
    if changed := previous_values(before, dispute.body):
        emit_event(
            sim, "charge.dispute.updated", dispute.body, account=dispute.account, previous_attributes=changed
        )
    return dispute.body


def close_dispute(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    """Accepting the loss. Every dispute here is `lost` already, so it stays as it is, no event.

    Unconfirmed: whether Stripe answers closing a lost dispute so, or with an error.
    """
    return _find(sim, request).body


def _find(sim: Simulator, request: ApiRequest) -> StoredObject:
    return find(sim, "dispute", request.path_params["dispute"], request.account, param="dispute")


def list_disputes(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    charge, intent = params.get("charge"), params.get("payment_intent")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("dispute", request.account),
        params,
        "/v1/disputes",
        lambda d: (
            in_range(d)
            and (charge is None or d.body["charge"] == charge)
            and (intent is None or d.body["payment_intent"] == intent)
        ),
    )


def add_routes(router: Router) -> None:
    router.add("get", "/v1/disputes", list_disputes)
    router.add("get", "/v1/disputes/{dispute}", retrieve_dispute)
    router.add("post", "/v1/disputes/{dispute}", update_dispute)
    router.add("post", "/v1/disputes/{dispute}/close", close_dispute)
