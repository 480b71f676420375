"""PaymentMethods of type au_becs_debit, Stripe's `pm_auBecsDebit_*` test tokens, attach/detach."""

import hashlib
from typing import Any

from simulators.stripe_sim.becs_test_accounts import TEST_BSB, account_for_token
from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources.common import empty_address, find, updated_metadata
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.state.objects import StoredObject
from simulators.stripe_sim.wire.errors import invalid_request, parameter_missing
from simulators.stripe_sim.wire.listing import list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

SUPPORTED_TYPES = ("au_becs_debit",)
# SDK 16 (API 2026-10-28) names `payment_method_types` `allowed_payment_method_types` on create.
ALLOWED_TYPES_PARAM: dict[str, dict[str, object]] = {
    "allowed_payment_method_types": {"type": "array", "items": {"type": "string"}}
}


def requested_method_types(params: dict[str, object]) -> list[str]:
    requested = params.get("allowed_payment_method_types") or params.get("payment_method_types")
    types = [str(t) for t in requested] if isinstance(requested, list) else ["au_becs_debit"]
    for method_type in types:
        if method_type not in SUPPORTED_TYPES:
            raise invalid_request(
                f"The simulator supports only au_becs_debit, not {method_type}.",
                param="payment_method_types",
            )
    return types


def new_payment_method(
    sim: Simulator, details: dict[str, Any], account: str | None, param_prefix: str = ""
) -> StoredObject:
    """A PaymentMethod from `type`/`au_becs_debit`/`billing_details` (create or *_data params)."""
    method_type = details.get("type")
    if method_type is None:
        raise parameter_missing(_name(param_prefix, "type"))
    if method_type not in SUPPORTED_TYPES:
        raise invalid_request(
            f"The simulator supports only au_becs_debit payment methods, not {method_type}.",
            param=_name(param_prefix, "type"),
        )
    bank = details.get("au_becs_debit")
    if not isinstance(bank, dict):
        raise parameter_missing(_name(param_prefix, "au_becs_debit"))
    bsb = str(bank.get("bsb_number", "")).replace("-", "")
    account_number = str(bank.get("account_number", ""))
    if not (len(bsb) == 6 and bsb.isdigit()):
        raise invalid_request(
            "Invalid BSB number: it must be 6 digits.",
            param=_name(param_prefix, "au_becs_debit[bsb_number]"),
        )
    if not (5 <= len(account_number) <= 9 and account_number.isdigit()):
        raise invalid_request(
            "Invalid account number: it must be 5 to 9 digits.",
            param=_name(param_prefix, "au_becs_debit[account_number]"),
        )
    return _store(sim, bsb, account_number, details, account)


def payment_method_from_token(sim: Simulator, token: str, account: str | None) -> StoredObject | None:
    """Using a test token makes a fresh PaymentMethod, as Stripe does with `pm_card_visa`."""
    test_account = account_for_token(token)
    if test_account is None:
        return None
    return _store(sim, TEST_BSB, test_account.account_number, {}, account)


def _store(
    sim: Simulator, bsb: str, account_number: str, details: dict[str, Any], account: str | None
) -> StoredObject:
    billing = details.get("billing_details", {})
    body: dict[str, Any] = {
        "object": "payment_method",
        "allow_redisplay": details.get("allow_redisplay", "unspecified"),
        "au_becs_debit": {
            "bsb_number": bsb,
            "fingerprint": hashlib.sha256(f"{bsb}:{account_number}".encode()).hexdigest()[:16],
            "last4": account_number[-4:],
        },
        "billing_details": {
            "address": {**empty_address(), **(billing.get("address") or {})},
            "email": billing.get("email") or None,
            "name": billing.get("name") or None,
            "phone": billing.get("phone") or None,
            "tax_id": None,
        },
        "created": sim.timestamp(),
        "customer": None,
        "livemode": False,
        "metadata": updated_metadata({}, details.get("metadata", {})),
        "type": "au_becs_debit",
    }
    internal = {"bsb_number": bsb, "account_number": account_number}
    return sim.objects.create("payment_method", "pm", body, account=account, internal=internal)


def resolve_payment_method(
    sim: Simulator, reference: str, account: str | None, param: str = "payment_method"
) -> StoredObject:
    from_token = payment_method_from_token(sim, reference, account)
    if from_token is not None:
        return from_token
    return find(sim, "payment_method", reference, account, param=param)


# Stripe's answers to a PaymentMethod used again after it was detached from its customer.
USED_AFTER_DETACH = (
    "The provided PaymentMethod was previously used with a PaymentIntent without Customer "
    "attachment, shared with a connected account without Customer attachment, or was detached from "
    "a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach "
    "it to a Customer first."
)
_ATTACHED_AFTER_DETACH = (
    "This PaymentMethod was previously used without being attached to a Customer or was detached "
    "from a Customer, and may not be used again."
)


def was_detached(method: StoredObject) -> bool:
    return bool(method.internal.get("detached"))


def attach(sim: Simulator, method: StoredObject, customer_id: str, account: str | None) -> None:
    if method.body["customer"] == customer_id:
        return
    if was_detached(method):
        raise invalid_request(_ATTACHED_AFTER_DETACH, param="payment_method")
    if method.body["customer"] is not None:
        raise invalid_request(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
            param="payment_method",
        )
    method.body["customer"] = customer_id
    sim.objects.save(method)
    emit_event(sim, "payment_method.attached", method.body, account=account)


def create_payment_method(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return new_payment_method(sim, request.params, request.account).body


def retrieve_payment_method(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    reference = request.path_params["payment_method"]
    return find(sim, "payment_method", reference, request.account).body


def attach_payment_method(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    method = resolve_payment_method(sim, request.path_params["payment_method"], request.account, "id")
    customer_id: str = request.params["customer"]
    find(sim, "customer", customer_id, request.account, param="customer")
    attach(sim, method, customer_id, request.account)
    return method.body


def detach_payment_method(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    method = find(sim, "payment_method", request.path_params["payment_method"], request.account)
    if method.body["customer"] is None:
        raise invalid_request(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    method.body["customer"] = None
    method.internal["detached"] = True
    sim.objects.save(method)
    emit_event(sim, "payment_method.detached", method.body, account=request.account)
    return method.body


def list_payment_methods(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    customer, method_type = params.get("customer"), params.get("type")
    return list_page(
        sim.objects.newest_first("payment_method", request.account),
        params,
        "/v1/payment_methods",
        lambda m: (
            (customer is None or m.body["customer"] == customer)
            and (method_type is None or m.body["type"] == method_type)
        ),
    )


def list_customer_payment_methods(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    customer = find(sim, "customer", request.path_params["customer"], request.account, param="customer")
    method_type = request.params.get("type")
    return list_page(
        sim.objects.newest_first("payment_method", request.account),
        request.params,
        f"/v1/customers/{customer.id}/payment_methods",
        lambda m: (
            m.body["customer"] == customer.id and (method_type is None or m.body["type"] == method_type)
        ),
    )


def _name(prefix: str, field: str) -> str:
    if not prefix:
        return field
    head, _, rest = field.partition("[")
    return f"{prefix}[{head}]" + (f"[{rest}" if rest else "")


def add_routes(router: Router) -> None:
    router.add("post", "/v1/payment_methods", create_payment_method)
    router.add("get", "/v1/payment_methods", list_payment_methods)
    router.add("get", "/v1/payment_methods/{payment_method}", retrieve_payment_method)
    router.add("post", "/v1/payment_methods/{payment_method}/attach", attach_payment_method)
    router.add("post", "/v1/payment_methods/{payment_method}/detach", detach_payment_method)
    router.add("get", "/v1/customers/{customer}/payment_methods", list_customer_payment_methods)
