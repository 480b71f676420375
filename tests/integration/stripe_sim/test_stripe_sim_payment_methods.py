"""Saved BECS payment methods: SetupAttempts, a customer's methods, and no use after detaching."""

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import MANDATE_DATA, contribution, saved_becs_customer
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator


def test_a_succeeded_setup_intent_names_its_setup_attempt() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)

    expanded = client.v1.setup_intents.retrieve(setup.id, {"expand": ["latest_attempt"]})
    attempts = client.v1.setup_attempts.list({"setup_intent": setup.id}).data

    assert str(setup.latest_attempt).startswith("setatt_")
    attempt = expanded.latest_attempt
    assert isinstance(attempt, stripe.SetupAttempt)
    assert (attempt.id, attempt.status, attempt.setup_intent) == (setup.latest_attempt, "succeeded", setup.id)
    assert (attempt.payment_method, attempt.customer) == (setup.payment_method, customer.id)
    assert [a.id for a in attempts] == [setup.latest_attempt]


def test_a_customers_payment_methods_are_listed_by_type() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    _, someone_elses = saved_becs_customer(client)

    becs = client.v1.customers.payment_methods.list(customer.id, {"type": "au_becs_debit"})
    cards = client.v1.customers.payment_methods.list(customer.id, {"type": "card"})

    assert [m.id for m in becs.data] == [setup.payment_method]
    assert someone_elses.payment_method not in [m.id for m in becs.data]
    assert cards.data == []
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.payment_methods.list("cus_doesnotexist")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


def test_a_detached_payment_method_cannot_be_charged() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    client.v1.payment_methods.detach(str(setup.payment_method))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        contribution(client, customer, str(setup.payment_method))

    assert refused.value.http_status == 400
    assert refused.value.param == "payment_method"
    assert "was detached from a Customer. It may not be used again" in str(refused.value.user_message)


def test_a_detached_payment_method_cannot_be_attached_again() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    method = str(setup.payment_method)
    client.v1.payment_methods.detach(method)

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_methods.attach(method, {"customer": customer.id})
    with pytest.raises(stripe.InvalidRequestError) as saved_again:
        client.v1.setup_intents.create(
            {
                "customer": customer.id,
                "payment_method": method,
                "mandate_data": MANDATE_DATA,
                "confirm": True,
            }
        )

    assert "was detached from a Customer, and may not be used again" in str(refused.value.user_message)
    assert saved_again.value.param == "payment_method"
    assert client.v1.payment_methods.retrieve(method).customer is None
    assert client.v1.customers.payment_methods.list(customer.id).data == []
