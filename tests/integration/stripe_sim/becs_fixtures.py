"""Shared steps of BECS scenarios, driven only through the official SDK."""

import uuid
from typing import Any

import stripe

# Any: the same acceptance fits the SetupIntent and PaymentIntent TypedDicts alike.
MANDATE_DATA: Any = {
    "customer_acceptance": {
        "type": "online",
        "online": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (rosca tests)"},
    }
}


def unique_email() -> str:
    return f"member-{uuid.uuid4().hex[:12]}@example.com"


def saved_becs_customer(
    client: stripe.StripeClient,
    account_number: str = "000123456",
    options: stripe.RequestOptions | None = None,
) -> tuple[stripe.Customer, stripe.SetupIntent]:
    """A customer with a BECS account saved by a confirmed SetupIntent (mandate active)."""
    email = unique_email()
    customer = client.v1.customers.create({"email": email, "name": "Test Member"}, options)
    setup = client.v1.setup_intents.create(
        {
            "customer": customer.id,
            "allowed_payment_method_types": ["au_becs_debit"],
            "payment_method_data": {
                "type": "au_becs_debit",
                "au_becs_debit": {"bsb_number": "000000", "account_number": account_number},
                "billing_details": {"name": "Test Member", "email": email},
            },
            "mandate_data": MANDATE_DATA,
            "confirm": True,
        },
        options,
    )
    return customer, setup


def contribution(
    client: stripe.StripeClient,
    customer: stripe.Customer,
    payment_method: str,
    amount: int = 5_000,
    options: stripe.RequestOptions | None = None,
) -> stripe.PaymentIntent:
    """The debit our collections service makes: off-session, confirmed at creation."""
    return client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "aud",
            "customer": customer.id,
            "payment_method": payment_method,
            "allowed_payment_method_types": ["au_becs_debit"],
            "confirm": True,
            "off_session": True,
            "transfer_group": f"cycle_{uuid.uuid4().hex[:8]}",
            "metadata": {"contribution_id": uuid.uuid4().hex, "attempt": "1"},
        },
        options,
    )


def event_types_for(client: stripe.StripeClient, object_id: str) -> list[str]:
    """Types of the events about one object, oldest first."""
    events = client.v1.events.list({"limit": 100})
    return [e.type for e in reversed(events.data) if e.data.object.to_dict().get("id") == object_id]
