"""Wire compatibility: keys, errors, parameters, pagination, connected-account scoping."""

import uuid
from typing import Any, cast

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, saved_becs_customer, unique_email
from tests.integration.stripe_sim.connect_fixtures import express_account
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator


def test_a_key_that_is_not_a_test_secret_key_is_refused_with_401() -> None:
    sim = shared_simulator()
    client = stripe.StripeClient("sk_live_nope", base_addresses={"api": sim.base_url})

    with pytest.raises(stripe.AuthenticationError) as refused:
        client.v1.customers.list()

    assert refused.value.http_status == 401
    assert "Invalid API Key" in str(refused.value.user_message)


def test_an_unknown_parameter_is_a_400_naming_it() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create(cast(Any, {"email": unique_email(), "favourite_colour": "red"}))

    assert (refused.value.http_status, refused.value.code, refused.value.param) == (
        400,
        "parameter_unknown",
        "favourite_colour",
    )


def test_a_missing_required_parameter_is_a_400_naming_it() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create({"amount": 1000})  # type: ignore[typeddict-item]

    assert (refused.value.code, refused.value.param) == ("parameter_missing", "currency")


def test_an_unknown_id_is_a_404_resource_missing() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.retrieve("pi_doesnotexist")

    assert (refused.value.http_status, refused.value.code) == (404, "resource_missing")


def test_ids_carry_stripes_prefixes() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    assert customer.id.startswith("cus_")
    assert setup.id.startswith("seti_")
    assert str(setup.payment_method).startswith("pm_")
    assert str(setup.mandate).startswith("mandate_")
    assert intent.id.startswith("pi_")
    assert intent.client_secret is not None
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    # Bank-debit charges are `py_` objects on Stripe, card charges `ch_`.
    assert str(intent.latest_charge).startswith("py_")


def test_lists_page_newest_first_with_has_more_and_starting_after() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    created = [contribution(client, customer, str(setup.payment_method)).id for _ in range(5)]

    first = client.v1.payment_intents.list({"customer": customer.id, "limit": 2})
    second = client.v1.payment_intents.list(
        {"customer": customer.id, "limit": 2, "starting_after": first.data[-1].id}
    )
    everything = list(
        client.v1.payment_intents.list({"customer": customer.id, "limit": 2}).auto_paging_iter()
    )

    assert [pi.id for pi in first.data] == created[::-1][:2]
    assert first.has_more is True
    assert [pi.id for pi in second.data] == created[::-1][2:4]
    assert [pi.id for pi in everything] == created[::-1]


def test_ending_before_pages_backwards() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    created = [contribution(client, customer, str(setup.payment_method)).id for _ in range(4)]

    page = client.v1.payment_intents.list({"customer": customer.id, "limit": 2, "ending_before": created[0]})

    assert [pi.id for pi in page.data] == [created[2], created[1]]


def test_expand_replaces_an_id_with_its_object() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    expanded = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge", "customer"]})

    assert isinstance(expanded.latest_charge, stripe.Charge)
    assert expanded.latest_charge.payment_intent == intent.id
    assert isinstance(expanded.customer, stripe.Customer)


def test_objects_of_a_connected_account_are_invisible_to_the_platform() -> None:
    client = shared_simulator().client()
    account = express_account(client).id
    customer = client.v1.customers.create({"email": unique_email()}, {"stripe_account": account})

    assert client.v1.customers.retrieve(customer.id, {}, {"stripe_account": account}).id == customer.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer.id)


def test_stripe_version_is_echoed() -> None:
    client = shared_simulator().client()

    customer = client.v1.customers.create({"email": unique_email()}, {"stripe_version": "2026-10-28.endive"})

    assert customer.last_response is not None
    assert customer.last_response.headers["stripe-version"] == "2026-10-28.endive"
    assert customer.last_response.request_id is not None
    assert customer.last_response.request_id.startswith("req_")


def test_metadata_and_transfer_group_round_trip() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    again = client.v1.payment_intents.retrieve(intent.id)
    charge = client.v1.charges.retrieve(str(intent.latest_charge))

    assert again.metadata == intent.metadata
    assert again.transfer_group == intent.transfer_group
    assert charge.transfer_group == intent.transfer_group
    assert charge.metadata == intent.metadata


def test_a_stripe_account_header_naming_no_account_is_refused_with_403() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.customers.list({}, {"stripe_account": f"acct_{uuid.uuid4().hex[:16]}"})

    assert refused.value.http_status == 403
    assert refused.value.error is not None
    assert refused.value.error.code == "account_invalid"


def test_an_unknown_stripe_version_is_refused_with_400() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.list({}, {"stripe_version": "2099-01-01.nonesuch"})

    assert refused.value.http_status == 400
    assert str(refused.value.user_message) == "Invalid Stripe API version: 2099-01-01.nonesuch"


def test_the_specs_own_version_is_known() -> None:
    client = shared_simulator().client()

    listed = client.v1.customers.list({"limit": 1}, {"stripe_version": "2026-05-27.dahlia"})

    assert listed.last_response is not None
    assert listed.last_response.headers["stripe-version"] == "2026-05-27.dahlia"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("nonsense", "This property cannot be expanded (nonsense)."),
        ("metadata", "This property cannot be expanded (metadata)."),
        ("latest_charge.nonsense", "This property cannot be expanded (nonsense)."),
        (
            "latest_charge.payment_intent.latest_charge.payment_intent.customer",
            "You cannot expand more than 4 levels of a property. Property: "
            "latest_charge.payment_intent.latest_charge.payment_intent.customer",
        ),
    ],
)
def test_an_expand_path_stripe_would_not_expand_is_a_400(path: str, message: str) -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.retrieve(intent.id, {"expand": [path]})

    assert (refused.value.http_status, refused.value.param) == (400, "expand")
    assert refused.value.error is not None
    assert refused.value.error.type == "invalid_request_error"
    assert str(refused.value.user_message) == message


def test_four_levels_of_expand_are_allowed() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))

    deep = client.v1.payment_intents.retrieve(
        intent.id, {"expand": ["latest_charge.payment_intent.latest_charge.customer"]}
    )

    charge = deep.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert isinstance(charge.payment_intent, stripe.PaymentIntent)
    assert isinstance(charge.payment_intent.latest_charge, stripe.Charge)
    assert isinstance(charge.payment_intent.latest_charge.customer, stripe.Customer)


def test_a_list_expand_without_data_is_refused_with_stripes_hint() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    contribution(client, customer, str(setup.payment_method))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.list({"customer": customer.id, "expand": ["latest_charge"]})
    listed = client.v1.payment_intents.list({"customer": customer.id, "expand": ["data.latest_charge"]})

    assert str(refused.value.user_message) == (
        "This property cannot be expanded (latest_charge). "
        "You may want to try expanding 'data.latest_charge' instead."
    )
    assert [isinstance(pi.latest_charge, stripe.Charge) for pi in listed.data] == [True]


def test_a_create_with_a_bad_expand_creates_nothing() -> None:
    client = shared_simulator().client()
    email = unique_email()

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create({"email": email, "expand": ["nonsense"]})

    assert client.v1.customers.list({"email": email}).data == []
