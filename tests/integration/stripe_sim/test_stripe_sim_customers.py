"""Customers: e-mail addresses and metadata are checked as Stripe checks them."""

from typing import Any, cast

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import unique_email
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator


@pytest.mark.parametrize("email", ["not-an-email", "member@", "two words@example.com", "member@nodot"])
def test_a_malformed_email_is_refused_naming_email(email: str) -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create({"email": email})

    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        "email_invalid",
        "email",
    )
    assert client.v1.customers.list({"email": email}).data == []


def test_a_malformed_email_is_refused_on_update_too_and_the_customer_is_unchanged() -> None:
    client = shared_simulator().client()
    email = unique_email()
    customer = client.v1.customers.create({"email": email})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.update(customer.id, {"email": "nope", "name": "Changed"})

    assert refused.value.param == "email"
    assert (client.v1.customers.retrieve(customer.id).email, customer.name) == (email, None)


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({"k" * 41: "v"}, "Invalid key: " + "k" * 41),
        ({"note": "v" * 501}, "Metadata values can have up to 500 characters"),
        ({f"key{i}": "v" for i in range(51)}, "Metadata can have up to 50 keys, but you've set 51"),
    ],
)
def test_metadata_beyond_stripes_limits_is_refused(metadata: dict[str, str], named: str) -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create({"email": unique_email(), "metadata": metadata})

    assert (refused.value.http_status, refused.value.param) == (400, "metadata")
    assert named in str(refused.value.user_message)


def test_metadata_at_stripes_limits_is_accepted() -> None:
    client = shared_simulator().client()
    metadata = {f"{i:02d}" + "k" * 38: "v" * 500 for i in range(50)}

    customer = client.v1.customers.create({"email": unique_email(), "metadata": metadata})

    assert customer.metadata is not None
    assert customer.metadata.to_dict() == metadata


def test_an_update_that_would_make_more_than_50_keys_is_refused_and_changes_nothing() -> None:
    client = shared_simulator().client()
    customer = client.v1.customers.create(
        {"email": unique_email(), "metadata": {f"old{i}": "v" for i in range(30)}}
    )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.update(
            customer.id, {"name": "Changed", "metadata": {f"new{i}": "v" for i in range(21)}}
        )

    assert "you've set 51" in str(refused.value.user_message)
    again = client.v1.customers.retrieve(customer.id)
    assert again.metadata is not None
    assert (len(again.metadata.to_dict()), again.name) == (30, None)


def test_nested_metadata_is_checked_too() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.setup_intents.create(
            cast(
                Any,
                {
                    "payment_method_data": {
                        "type": "au_becs_debit",
                        "au_becs_debit": {"bsb_number": "000000", "account_number": "000123456"},
                        "metadata": {"k" * 41: "v"},
                    },
                },
            )
        )

    assert refused.value.param == "payment_method_data[metadata]"
