"""SetupIntents: save a BECS account with the customer's mandate for later off-session debits.

BECS setup does not contact the bank, so confirming with mandate data succeeds at once; the
test accounts' failures show up on the first debit, as on Stripe.
"""

from typing import Any

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources.common import find, updated_metadata
from simulators.stripe_sim.resources.mandates import create_mandate
from simulators.stripe_sim.resources.payment_methods import (
    ALLOWED_TYPES_PARAM,
    USED_AFTER_DETACH,
    attach,
    new_payment_method,
    requested_method_types,
    resolve_payment_method,
    was_detached,
)
from simulators.stripe_sim.resources.setup_attempts import record_attempt
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.ids import new_id
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, parameter_missing
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

_CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
_CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def create_setup_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params, account = request.params, request.account
    if customer := params.get("customer"):
        find(sim, "customer", customer, account, param="customer")
    method_types = requested_method_types(params)
    body: dict[str, Any] = {
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": "",
        "created": sim.timestamp(),
        "customer": customer or None,
        "description": params.get("description"),
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "next_action": None,
        "on_behalf_of": params.get("on_behalf_of"),
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": method_types,
        "single_use_mandate": None,
        "status": "requires_payment_method",
        "usage": params.get("usage", "off_session"),
    }
    intent = sim.objects.create("setup_intent", "seti", body, account=account)
    intent.body["client_secret"] = f"{intent.id}_secret_{new_id('x')[2:]}"
    _take_payment_method(sim, intent, params, account)
    emit_event(sim, "setup_intent.created", intent.body, account=account)
    if params.get("confirm"):
        _confirm(sim, intent, params, account)
    return intent.body


def confirm_setup_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    intent = find(sim, "setup_intent", request.path_params["intent"], request.account, param="intent")
    _take_payment_method(sim, intent, request.params, request.account)
    _confirm(sim, intent, request.params, request.account)
    return intent.body


def _take_payment_method(
    sim: Simulator, intent: StoredObject, params: dict[str, Any], account: str | None
) -> None:
    if reference := params.get("payment_method"):
        method = resolve_payment_method(sim, reference, account)
    elif method_data := params.get("payment_method_data"):
        method = new_payment_method(sim, method_data, account, "payment_method_data")
    else:
        return
    intent.body["payment_method"] = method.id
    intent.body["status"] = "requires_confirmation"
    sim.objects.save(intent)


def _confirm(sim: Simulator, intent: StoredObject, params: dict[str, Any], account: str | None) -> None:
    if intent.body["status"] not in _CONFIRMABLE:
        raise invalid_request(
            f"You cannot confirm this SetupIntent because it has a status of {intent.body['status']}.",
            code="setup_intent_unexpected_state",
        )
    method_id = intent.body["payment_method"]
    if method_id is None:
        raise invalid_request(
            "You cannot confirm this SetupIntent because it's missing a payment method. "
            "Update it with a payment method and then confirm it again.",
            code="setup_intent_unexpected_state",
            param="payment_method",
        )
    mandate_data = params.get("mandate_data")
    if not isinstance(mandate_data, dict):
        raise parameter_missing("mandate_data")
    method = find(sim, "payment_method", method_id, account, param="payment_method")
    if was_detached(method):  # before the mandate, so a refusal leaves nothing behind
        raise invalid_request(USED_AFTER_DETACH, param="payment_method")
    mandate = create_mandate(
        sim, method, mandate_data, account=account, on_behalf_of=intent.body["on_behalf_of"]
    )
    if intent.body["customer"] is not None:
        attach(sim, method, intent.body["customer"], account)
    attempt = record_attempt(sim, intent, method, "succeeded")
    intent.body.update(latest_attempt=attempt.id, mandate=mandate.id, status="succeeded")
    sim.objects.save(intent)
    emit_event(sim, "setup_intent.succeeded", intent.body, account=account)


def retrieve_setup_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return find(sim, "setup_intent", request.path_params["intent"], request.account, param="intent").body


def cancel_setup_intent(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    intent = find(sim, "setup_intent", request.path_params["intent"], request.account, param="intent")
    if intent.body["status"] not in _CANCELABLE:
        raise invalid_request(
            f"You cannot cancel this SetupIntent because it has a status of {intent.body['status']}.",
            code="setup_intent_unexpected_state",
        )
    intent.body["status"] = "canceled"
    intent.body["cancellation_reason"] = request.params.get("cancellation_reason")
    sim.objects.save(intent)
    emit_event(sim, "setup_intent.canceled", intent.body, account=request.account)
    return intent.body


def list_setup_intents(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    customer, method = params.get("customer"), params.get("payment_method")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("setup_intent", request.account),
        params,
        "/v1/setup_intents",
        lambda s: (
            in_range(s)
            and (customer is None or s.body["customer"] == customer)
            and (method is None or s.body["payment_method"] == method)
        ),
    )


def add_routes(router: Router) -> None:
    router.add("post", "/v1/setup_intents", create_setup_intent, ALLOWED_TYPES_PARAM)
    router.add("get", "/v1/setup_intents", list_setup_intents)
    router.add("get", "/v1/setup_intents/{intent}", retrieve_setup_intent)
    router.add("post", "/v1/setup_intents/{intent}/confirm", confirm_setup_intent)
    router.add("post", "/v1/setup_intents/{intent}/cancel", cancel_setup_intent)
