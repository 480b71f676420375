"""Charges: one per confirmation attempt of a PaymentIntent; read-only through the API."""

from typing import Any

from simulators.stripe_sim.fees import becs_fee
from simulators.stripe_sim.resources import balance_transactions
from simulators.stripe_sim.resources.common import empty_address, find
from simulators.stripe_sim.settlement_timing import funds_available_at
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router


def new_charge(
    sim: Simulator,
    intent: StoredObject,
    method: StoredObject,
    *,
    mandate_id: str,
    expected_debit_date: str,
) -> StoredObject:
    pi = intent.body
    body: dict[str, Any] = {
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"],
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": method.body["billing_details"],
        "calculated_statement_descriptor": pi["statement_descriptor"] or "ROSCA",
        "captured": True,
        "created": sim.timestamp(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": pi["on_behalf_of"],
        "outcome": None,
        "paid": False,
        "payment_intent": intent.id,
        "payment_method": method.id,
        "payment_method_details": {
            "au_becs_debit": {
                **method.body["au_becs_debit"],
                "expected_debit_date": expected_debit_date,
                "mandate": mandate_id,
            },
            "type": "au_becs_debit",
        },
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
        "status": "pending",
        "transfer_data": None,
        "transfer_group": pi["transfer_group"],
    }
    return sim.objects.create("charge", "py", body, account=intent.account)


def new_destination_payment(sim: Simulator, transfer: StoredObject, *, available_on: int) -> StoredObject:
    """The `py_` payment a transfer makes on its connected account, booked there as a `payment`."""
    amount: int = transfer.body["amount"]
    body: dict[str, Any] = {
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": {
            "address": empty_address(),
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        },
        "calculated_statement_descriptor": None,
        "captured": True,
        "created": sim.timestamp(),
        "currency": transfer.body["currency"],
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": None,
        "paid": True,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": {"stripe_account": {}, "type": "stripe_account"},
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "review": None,
        "shipping": None,
        "source_transfer": transfer.id,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": transfer.body["transfer_group"],
    }
    account: str = transfer.body["destination"]
    payment = sim.objects.create("charge", "py", body, account=account)
    entry = balance_transactions.record(
        sim, account, amount=amount, kind="payment", reporting_category="transfer",
        source=payment.id, available_on=available_on,
    )  # fmt: skip
    payment.body["balance_transaction"] = entry.id
    sim.objects.save(payment)
    return payment


def mark_succeeded(sim: Simulator, charge: StoredObject) -> None:
    """The debit arrived: its funds are pending on the balance until they become available."""
    amount: int = charge.body["amount"]
    entry = balance_transactions.record(
        sim,
        charge.account,
        amount=amount,
        fee=becs_fee(amount),
        kind="payment",
        reporting_category="charge",
        source=charge.id,
        available_on=int(funds_available_at(sim.settings, sim.now()).timestamp()),
        description=charge.body["description"],
    )
    charge.body.update(
        balance_transaction=entry.id,
        status="succeeded",
        paid=True,
        outcome={
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "not_assessed",
            "seller_message": "Payment complete.",
            "type": "authorized",
        },
    )
    sim.objects.save(charge)


def mark_failed(sim: Simulator, charge: StoredObject, code: str, message: str) -> None:
    charge.body.update(
        status="failed",
        paid=False,
        captured=False,
        amount_captured=0,
        failure_code=code,
        failure_message=message,
        outcome={
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": code,
            "risk_level": "not_assessed",
            "seller_message": "The bank returned the debit.",
            "type": "issuer_declined",
        },
    )
    sim.objects.save(charge)


def retrieve_charge(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return find(sim, "charge", request.path_params["charge"], request.account, param="charge").body


def list_charges(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    customer, intent = params.get("customer"), params.get("payment_intent")
    group = params.get("transfer_group")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("charge", request.account),
        params,
        "/v1/charges",
        lambda c: (
            in_range(c)
            and (customer is None or c.body["customer"] == customer)
            and (intent is None or c.body["payment_intent"] == intent)
            and (group is None or c.body["transfer_group"] == group)
        ),
    )


def add_routes(router: Router) -> None:
    router.add("get", "/v1/charges", list_charges)
    router.add("get", "/v1/charges/{charge}", retrieve_charge)
