"""PaymentIntents for BECS debits: create, confirm (off-session, on a saved mandate), cancel."""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources.becs_debits import submit_debit
from simulators.stripe_sim.resources.common import find, previous_values, updated_metadata
from simulators.stripe_sim.resources.mandates import create_mandate, mandate_of
from simulators.stripe_sim.resources.payment_methods import (
    ALLOWED_TYPES_PARAM,
    USED_AFTER_DETACH,
    new_payment_method,
    requested_method_types,
    resolve_payment_method,
    was_detached,
)
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.ids import new_id
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, unexpected_state
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

MINIMUM_AMOUNT = 50  # AUD 0.50
MAXIMUM_AMOUNT = 99_999_999  # eight digits; BECS's own, lower limit is checked at confirmation
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
_CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_UPDATABLE_FIELDS = ("description", "receipt_email", "statement_descriptor", "transfer_group")


def create_payment_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params, account = request.params, request.account
    amount: int = params["amount"]
    currency = str(params["currency"]).lower()
    _check_amount(amount)
    method_types = requested_method_types(params)
    if currency != "aud":
        raise invalid_request(
            f"The currency provided ({currency}) is invalid. Payments with au_becs_debit "
            "support the following currencies: aud.",
            param="currency",
        )
    if customer := params.get("customer"):
        find(sim, "customer", customer, account, param="customer")
    body: dict[str, Any] = {
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "application": None,
        "application_fee_amount": params.get("application_fee_amount"),
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": "",
        "confirmation_method": params.get("confirmation_method", "automatic"),
        "created": sim.timestamp(),
        "currency": currency,
        "customer": customer or None,
        "description": params.get("description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "next_action": None,
        "on_behalf_of": params.get("on_behalf_of"),
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {"au_becs_debit": {}},
        "payment_method_types": method_types,
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "review": None,
        "setup_future_usage": params.get("setup_future_usage"),
        "shipping": None,
        "statement_descriptor": params.get("statement_descriptor"),
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": params.get("transfer_group"),
    }
    intent = sim.objects.create("payment_intent", "pi", body, account=account)
    intent.body["client_secret"] = f"{intent.id}_secret_{new_id('x')[2:]}"
    _take_payment_method(sim, intent, params)
    emit_event(sim, "payment_intent.created", intent.body, account=account)
    if params.get("confirm"):
        _confirm(sim, intent, params)
    return intent.body


def confirm_payment_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    intent = _find(sim, request)
    if intent.body["status"] not in _CONFIRMABLE:
        raise _cannot("confirm", intent)
    _take_payment_method(sim, intent, request.params)
    _confirm(sim, intent, request.params)
    return intent.body


def _take_payment_method(sim: Simulator, intent: StoredObject, params: dict[str, Any]) -> None:
    if reference := params.get("payment_method"):
        method = resolve_payment_method(sim, reference, intent.account)
    elif method_data := params.get("payment_method_data"):
        method = new_payment_method(sim, method_data, intent.account, "payment_method_data")
    else:
        return
    intent.body.update(payment_method=method.id, status="requires_confirmation")
    sim.objects.save(intent)


def _confirm(sim: Simulator, intent: StoredObject, params: dict[str, Any]) -> None:
    if intent.body["status"] not in _CONFIRMABLE:
        raise _cannot("confirm", intent)
    method_id = intent.body["payment_method"]
    if method_id is None:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "To confirm the PaymentIntent, provide a payment_method.",
            param="payment_method",
        )
    method = find(sim, "payment_method", method_id, intent.account, param="payment_method")
    _check_customer(intent, method)
    mandate = _usable_mandate(sim, intent, method, params)
    submit_debit(sim, intent, method, mandate)


def _check_customer(intent: StoredObject, method: StoredObject) -> None:
    owner, customer = method.body["customer"], intent.body["customer"]
    if was_detached(method):
        raise invalid_request(USED_AFTER_DETACH, param="payment_method")
    if owner is not None and customer is None:
        raise invalid_request(USED_AFTER_DETACH, param="customer")
    if owner is not None and owner != customer:
        raise invalid_request(
            f"The provided PaymentMethod belongs to a different Customer than {customer}.",
            param="payment_method",
        )


def _usable_mandate(
    sim: Simulator, intent: StoredObject, method: StoredObject, params: dict[str, Any]
) -> StoredObject:
    if mandate_data := params.get("mandate_data"):
        single_use = None
        if intent.body["setup_future_usage"] is None:
            single_use = (intent.body["amount"], intent.body["currency"])
        return create_mandate(
            sim,
            method,
            mandate_data,
            account=intent.account,
            on_behalf_of=intent.body["on_behalf_of"],
            single_use=single_use,
        )
    if mandate_id := params.get("mandate"):
        mandate = find(sim, "mandate", mandate_id, intent.account, param="mandate")
        if mandate.body["payment_method"] != method.id:
            raise invalid_request(
                f"The mandate {mandate_id} does not belong to the PaymentMethod {method.id}.",
                param="mandate",
            )
    else:
        found = mandate_of(sim, method)
        if found is None:
            raise invalid_request(
                "A mandate is required to debit a BECS account: pass mandate_data, or use a "
                "PaymentMethod saved with a SetupIntent.",
                code="parameter_missing",
                param="mandate_data",
            )
        mandate = found
    # Unconfirmed: Stripe's exact error for an inactive mandate; this is its documented code.
    if mandate.body["status"] != "active":
        raise invalid_request(
            f"The mandate {mandate.id} is {mandate.body['status']} and cannot be used for "
            "this payment. Collect a new mandate from the customer.",
            code="payment_intent_mandate_invalid",
            param="mandate",
        )
    if intent.body["on_behalf_of"] != mandate.body.get("on_behalf_of"):
        raise invalid_request(
            "This mandate was collected for a different on_behalf_of account.",
            code="payment_intent_mandate_invalid",
            param="mandate",
        )
    return mandate


def retrieve_payment_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return _find(sim, request).body


def update_payment_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    intent = _find(sim, request)
    params = request.params
    if intent.body["status"] in ("processing", "succeeded", "canceled") and set(params) - {
        "metadata",
        "description",
        "expand",
    }:
        raise _cannot("update", intent)
    if "amount" in params:
        _check_amount(params["amount"])
    before = dict(intent.body)
    if "metadata" in params:  # first: it may still refuse the request (too many keys)
        intent.body["metadata"] = updated_metadata(intent.body["metadata"], params["metadata"])
    for field in _UPDATABLE_FIELDS:
        if field in params:
            intent.body[field] = params[field] or None
    if "amount" in params:
        intent.body["amount"] = params["amount"]
    _take_payment_method(sim, intent, params)
    sim.objects.save(intent)
    if changed := previous_values(before, intent.body):
        emit_event(
            sim,
            "payment_intent.updated",
            intent.body,
            account=intent.account,
            previous_attributes=changed,
        )
    return intent.body


def cancel_payment_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    intent = _find(sim, request)
    if intent.body["status"] not in _CANCELABLE:
        raise _cannot("cancel", intent)
    intent.body.update(
        status="canceled",
        canceled_at=sim.timestamp(),
        cancellation_reason=request.params.get("cancellation_reason"),
    )
    sim.objects.save(intent)
    emit_event(sim, "payment_intent.canceled", intent.body, account=intent.account)
    return intent.body


def list_payment_intents(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    customer = params.get("customer")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("payment_intent", request.account),
        params,
        "/v1/payment_intents",
        lambda p: in_range(p) and (customer is None or p.body["customer"] == customer),
    )


def _find(sim: Simulator, request: ApiRequest) -> StoredObject:
    return find(sim, "payment_intent", request.path_params["intent"], request.account, param="intent")


def _check_amount(amount: int) -> None:
    if amount < MINIMUM_AMOUNT:
        raise invalid_request("Amount must be at least $0.50 aud", code="amount_too_small", param="amount")
    if amount > MAXIMUM_AMOUNT:
        raise invalid_request(
            "Amount must be no more than $999,999.99 aud", code="amount_too_large", param="amount"
        )


def _cannot(action: str, intent: StoredObject) -> Exception:
    return unexpected_state(
        f"You cannot {action} this PaymentIntent because it has a status of {intent.body['status']}."
    )


def add_routes(router: Router) -> None:
    router.add("post", "/v1/payment_intents", create_payment_intent, ALLOWED_TYPES_PARAM)
    router.add("get", "/v1/payment_intents", list_payment_intents)
    router.add("get", "/v1/payment_intents/{intent}", retrieve_payment_intent)
    router.add("post", "/v1/payment_intents/{intent}", update_payment_intent)
    router.add("post", "/v1/payment_intents/{intent}/confirm", confirm_payment_intent)
    router.add("post", "/v1/payment_intents/{intent}/cancel", cancel_payment_intent)
