"""Customers: who is debited."""

import secrets
import string
from typing import Any

from email_validator import EmailNotValidError, validate_email

from simulators.stripe_sim.events import emit_event
from simulators.stripe_sim.resources.common import find, previous_values, updated_metadata
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.wire.errors import invalid_request
from simulators.stripe_sim.wire.listing import created_filter, list_page
from simulators.stripe_sim.wire.router import ApiRequest, Router

_PLAIN_FIELDS = ("description", "email", "name", "phone")


def _check_email(params: dict[str, Any]) -> None:
    """Stripe refuses a malformed address (an empty one clears it); it does not ask the domain."""
    email = params.get("email")
    if not email:
        return
    try:
        validate_email(email, check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        message = f"Invalid email address: {email}"
        raise invalid_request(message, code="email_invalid", param="email") from None


def create_customer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    _check_email(params)
    body: dict[str, Any] = {
        "object": "customer",
        "address": params.get("address") or None,
        "balance": params.get("balance", 0),
        "created": sim.timestamp(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": "".join(secrets.choice(string.ascii_uppercase) for _ in range(8)),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": updated_metadata({}, params.get("metadata", {})),
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": params.get("preferred_locales", []),
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    customer = sim.objects.create("customer", "cus", body, account=request.account)
    emit_event(sim, "customer.created", customer.body, account=request.account)
    return customer.body


def retrieve_customer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    return find(sim, "customer", request.path_params["customer"], request.account).body


def update_customer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    customer = find(sim, "customer", request.path_params["customer"], request.account)
    params = request.params
    _check_email(params)
    before = dict(customer.body)
    if "metadata" in params:  # first: it may still refuse the request (too many keys)
        customer.body["metadata"] = updated_metadata(customer.body["metadata"], params["metadata"])
    for field in _PLAIN_FIELDS:
        if field in params:
            customer.body[field] = params[field] or None
    if "invoice_settings" in params and "default_payment_method" in params["invoice_settings"]:
        settings = dict(customer.body["invoice_settings"])
        settings["default_payment_method"] = params["invoice_settings"]["default_payment_method"] or None
        customer.body["invoice_settings"] = settings
    changed = previous_values(before, customer.body)
    sim.objects.save(customer)
    if changed:
        emit_event(
            sim, "customer.updated", customer.body, account=request.account, previous_attributes=changed
        )
    return customer.body


def delete_customer(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    customer = find(sim, "customer", request.path_params["customer"], request.account)
    customer.internal["deleted"] = True
    sim.objects.save(customer)
    emit_event(sim, "customer.deleted", customer.body, account=request.account)
    return {"id": customer.id, "object": "customer", "deleted": True}


def list_customers(sim: Simulator, request: ApiRequest) -> dict[str, Any]:
    params = request.params
    email = params.get("email")
    in_range = created_filter(params)
    return list_page(
        sim.objects.newest_first("customer", request.account),
        params,
        "/v1/customers",
        lambda c: (
            not c.internal.get("deleted") and in_range(c) and (email is None or c.body["email"] == email)
        ),
    )


def add_routes(router: Router) -> None:
    router.add("post", "/v1/customers", create_customer)
    router.add("get", "/v1/customers", list_customers)
    router.add("get", "/v1/customers/{customer}", retrieve_customer)
    router.add("post", "/v1/customers/{customer}", update_customer)
    router.add("delete", "/v1/customers/{customer}", delete_customer)
