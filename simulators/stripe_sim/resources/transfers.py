"""Transfers from the platform to connected accounts (separate charges and transfers), and
their reversals.

A transfer succeeds or fails when it is created. With `source_transaction` its funds follow the
charge's: pending on both sides until the charge's funds are available. Without it the
platform's available balance must cover it. On the connected account a transfer arrives as a
`py_` payment (`transfer.destination_payment`, a `payment` balance transaction there); a reversal
refunds that payment (`reversal.destination_payment_refund`, a `payment_refund` there).
"""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources import balance_transactions, capabilities
from simulators.stripe_sim.resources.charges import new_destination_payment
from simulators.stripe_sim.resources.common import find, previous_values, updated_metadata
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, parameter_missing, resource_missing
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

KIND = "transfer"


def create_transfer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    if request.account is not None:
        raise invalid_request("Transfers are made by the platform, without a Stripe-Account header.")
    if "amount" not in params:
        raise parameter_missing("amount")
    amount: int = params["amount"]
    if amount <= 0:
        raise invalid_request("Amount must be at least 1 cent.", param="amount")
    if str(params["currency"]).lower() != "aud":
        raise invalid_request("The simulator's balances hold aud only.", param="currency")
    destination = _destination(sim, params["destination"])
    source = params.get("source_transaction")
    available_on = _funds_from(sim, source, amount) if source else _from_available_balance(sim, amount)
    body: dict[str, Any] = {
        "object": KIND,
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": None,
        "created": sim.timestamp(),
        "currency": "aud",
        "description": params.get("description"),
        "destination": destination.id,
        "destination_payment": None,
        "livemode": False,
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "reversals": {},
        "reversed": False,
        "source_transaction": source,
        "source_type": params.get("source_type", "bank_account"),
        "transfer_group": params.get("transfer_group"),
    }
    transfer = sim.objects.create(KIND, "tr", body, account=None)
    transfer.body["reversals"] = _reversal_list(sim, transfer)
    out = balance_transactions.record(
        sim, None, amount=-amount, kind="transfer", reporting_category="transfer",
        source=transfer.id, available_on=available_on,
    )  # fmt: skip
    payment = new_destination_payment(sim, transfer, available_on=available_on)
    transfer.body.update(balance_transaction=out.id, destination_payment=payment.id)
    sim.objects.save(transfer)
    emit_event(sim, "transfer.created", transfer.body, account=None)
    return transfer.body


def _destination(sim: Simulator, account_id: str) -> StoredObject:
    account = sim.objects.get(account_id, "account")
    if account is None or account.internal.get("deleted"):
        raise resource_missing("destination", account_id, "destination")
    # Unconfirmed: Stripe's code here; this is the one its error-code list gives for it.
    if not capabilities.is_active(account, "transfers"):
        raise invalid_request(
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            code="insufficient_capabilities_for_transfer",
            param="destination",
        )
    return account


def _funds_from(sim: Simulator, charge_id: str, amount: int) -> int:
    """When the funds of a transfer from this charge become available: when the charge's do."""
    charge = find(sim, "charge", charge_id, None, param="source_transaction")
    if charge.body["status"] != "succeeded" or charge.body["balance_transaction"] is None:
        raise invalid_request(
            f"The source_transaction {charge.id} has not succeeded; transfer from it once it has.",
            param="source_transaction",
        )
    transferred: int = charge.internal.get("transferred", 0)
    left = charge.body["amount"] - charge.body["amount_refunded"] - transferred
    if amount > left:
        raise invalid_request(
            f"The transfer amount exceeds what remains of source_transaction {charge.id} "
            f"(A${left / 100:.2f}).",
            code="balance_insufficient",
            param="amount",
        )
    charge.internal["transferred"] = transferred + amount
    sim.objects.save(charge)
    entry = sim.objects.get(charge.body["balance_transaction"], "balance_transaction")
    assert entry is not None
    available_on: int = entry.body["available_on"]
    return available_on


def _from_available_balance(sim: Simulator, amount: int) -> int:
    available, _ = balance_transactions.available_and_pending(sim, None)
    if amount > available:
        raise invalid_request(
            "You have insufficient available funds in your Stripe account. Try adding funds "
            "directly to your available balance, or pass source_transaction to transfer funds "
            "that are still pending.",
            code="balance_insufficient",
            param="amount",
        )
    return sim.timestamp()


def create_reversal(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    transfer = _find(sim, request, "id")
    params = request.params
    remaining = transfer.body["amount"] - transfer.body["amount_reversed"]
    amount: int = params.get("amount", remaining)
    if remaining <= 0 or not 0 < amount <= remaining:
        raise invalid_request(
            f"Transfer {transfer.id} has only A${remaining / 100:.2f} left to reverse.",
            code="amount_too_large" if remaining > 0 else "transfer_already_reversed",
            param="amount",
        )
    body: dict[str, Any] = {
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": None,
        "created": sim.timestamp(),
        "currency": transfer.body["currency"],
        "destination_payment_refund": None,
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "source_refund": None,
        "transfer": transfer.id,
    }
    reversal = sim.objects.create("transfer_reversal", "trr", body, account=None)
    back = balance_transactions.record(
        sim, None, amount=amount, kind="transfer_refund", reporting_category="transfer_reversal",
        source=reversal.id,
    )  # fmt: skip
    refund = _refund_destination_payment(sim, transfer, amount)
    reversal.body.update(balance_transaction=back.id, destination_payment_refund=refund.id)
    # The refund's side of the pair: the reversal that made it (its charge came from the platform).
    refund.body["source_transfer_reversal"] = reversal.id
    sim.objects.save(refund)
    sim.objects.save(reversal)
    before = dict(transfer.body)
    transfer.body["amount_reversed"] += amount
    transfer.body["reversed"] = transfer.body["amount_reversed"] == transfer.body["amount"]
    transfer.body["reversals"] = _reversal_list(sim, transfer)
    sim.objects.save(transfer)
    changed = {k: v for k, v in previous_values(before, transfer.body).items() if k != "reversals"}
    emit_event(sim, "transfer.reversed", transfer.body, account=None, previous_attributes=changed)
    return reversal.body


def _refund_destination_payment(sim: Simulator, transfer: StoredObject, amount: int) -> StoredObject:
    """The `pyr_` refund of the transfer's payment that takes the money back from the connected
    account: at once, and (as Stripe allows) even below a zero balance."""
    payment = sim.objects.get(transfer.body["destination_payment"], "charge")
    assert payment is not None
    body: dict[str, Any] = {
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": payment.id,
        "created": sim.timestamp(),
        "currency": payment.body["currency"],
        "metadata": {},
        "payment_intent": None,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    refund = sim.objects.create("refund", "pyr", body, account=payment.account)
    entry = balance_transactions.record(
        sim, payment.account, amount=-amount, kind="payment_refund",
        reporting_category="transfer_reversal", source=refund.id,
    )  # fmt: skip
    refund.body["balance_transaction"] = entry.id
    payment.body["amount_refunded"] += amount
    payment.body["refunded"] = payment.body["amount_refunded"] == payment.body["amount"]
    sim.objects.save(payment)
    return refund


def _reversal_list(sim: Simulator, transfer: StoredObject) -> dict[str, Any]:
    reversals = [r.body for r in _reversals_of(sim, transfer)]
    return {
        "object": "list",
        "data": reversals,
        "has_more": False,
        "url": f"/v1/transfers/{transfer.id}/reversals",
    }


def _reversals_of(sim: Simulator, transfer: StoredObject) -> list[StoredObject]:
    return [
        r for r in sim.objects.newest_first("transfer_reversal", None) if r.body["transfer"] == transfer.id
    ]


def list_reversals(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    transfer = _find(sim, request, "id")
    return list_page(_reversals_of(sim, transfer), request.params, f"/v1/transfers/{transfer.id}/reversals")


def retrieve_reversal(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    transfer = _find(sim, request, "transfer")
    reversal = find(sim, "transfer_reversal", request.path_params["id"], None)
    if reversal.body["transfer"] != transfer.id:
        raise resource_missing("transfer_reversal", reversal.id)
    return reversal.body


def _find(sim: Simulator, request: ApiRequest, name: str) -> StoredObject:
    if request.account is not None:
        raise resource_missing("transfer", request.path_params[name], name)
    return find(sim, KIND, request.path_params[name], None, param=name)


def retrieve_transfer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return _find(sim, request, "transfer").body


def update_transfer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    transfer = _find(sim, request, "transfer")
    params = request.params
    before = dict(transfer.body)
    if "metadata" in params:  # first: it may still refuse the request (too many keys)
        transfer.body["metadata"] = updated_metadata(transfer.body["metadata"], params["metadata"])
    if "description" in params:
        transfer.body["description"] = params["description"] or None
    sim.objects.save(transfer)
    if changed := previous_values(before, transfer.body):
        emit_event(sim, "transfer.updated", transfer.body, account=None, previous_attributes=changed)
    return transfer.body


def list_transfers(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    destination, group = params.get("destination"), params.get("transfer_group")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first(KIND, None) if request.account is None else [],
        params,
        "/v1/transfers",
        lambda t: (
            in_range(t)
            and (destination is None or t.body["destination"] == destination)
            and (group is None or t.body["transfer_group"] == group)
        ),
    )


def add_routes(router: Router) -> None:
    router.add("post", "/v1/transfers", create_transfer)
    router.add("get", "/v1/transfers", list_transfers)
    router.add("get", "/v1/transfers/{transfer}", retrieve_transfer)
    router.add("post", "/v1/transfers/{transfer}", update_transfer)
    router.add("post", "/v1/transfers/{id}/reversals", create_reversal)
    router.add("get", "/v1/transfers/{id}/reversals", list_reversals)
    router.add("get", "/v1/transfers/{transfer}/reversals/{id}", retrieve_reversal)
