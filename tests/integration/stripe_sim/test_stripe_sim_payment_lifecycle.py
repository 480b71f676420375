"""SetupIntents, mandates and the PaymentIntent state machine for BECS debits."""

from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import (
    MANDATE_DATA,
    contribution,
    saved_becs_customer,
    unique_email,
)
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator

SETTLE = timedelta(seconds=2)


def test_a_confirmed_setup_intent_saves_the_method_with_an_active_multi_use_mandate() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)

    mandate = client.v1.mandates.retrieve(str(setup.mandate))
    method = client.v1.payment_methods.retrieve(str(setup.payment_method))

    assert setup.status == "succeeded"
    assert (mandate.status, mandate.type, mandate.payment_method) == ("active", "multi_use", method.id)
    assert mandate.payment_method_details.au_becs_debit is not None
    assert mandate.payment_method_details.au_becs_debit.url.startswith("http://127.0.0.1")
    assert method.customer == customer.id
    assert method.au_becs_debit is not None
    assert (method.au_becs_debit.bsb_number, method.au_becs_debit.last4) == ("000000", "3456")


def test_a_becs_setup_intent_without_mandate_data_cannot_be_confirmed() -> None:
    client = shared_simulator().client()
    customer = client.v1.customers.create({"email": unique_email()})
    setup = client.v1.setup_intents.create(
        {"customer": customer.id, "payment_method": "pm_auBecsDebit_success"}
    )

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.setup_intents.confirm(setup.id)

    assert refused.value.param == "mandate_data"
    assert client.v1.setup_intents.retrieve(setup.id).status == "requires_confirmation"


def test_a_payment_method_created_alone_can_be_attached_then_saved() -> None:
    client = shared_simulator().client()
    customer = client.v1.customers.create({"email": unique_email()})
    method = client.v1.payment_methods.create(
        {
            "type": "au_becs_debit",
            "au_becs_debit": {"bsb_number": "000000", "account_number": "000123456"},
            "billing_details": {"name": "M", "email": "m@example.com"},
        }
    )

    attached = client.v1.payment_methods.attach(method.id, {"customer": customer.id})
    listed = client.v1.payment_methods.list({"customer": customer.id, "type": "au_becs_debit"})

    assert attached.customer == customer.id
    assert [m.id for m in listed.data] == [method.id]


def test_a_bsb_that_is_not_six_digits_is_refused() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_methods.create(
            {"type": "au_becs_debit", "au_becs_debit": {"bsb_number": "12", "account_number": "000123456"}}
        )

    assert refused.value.param == "au_becs_debit[bsb_number]"


def test_a_debit_on_an_inactive_mandate_is_refused() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client)
    sim.deactivate_mandate(str(setup.mandate))

    with pytest.raises(stripe.InvalidRequestError) as refused:
        contribution(client, customer, str(setup.payment_method))

    assert refused.value.code == "payment_intent_mandate_invalid"


def test_a_transient_failure_can_be_retried_on_the_same_intent_with_a_new_charge() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer, setup = saved_becs_customer(client, "222222227")
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(SETTLE)
    failed = client.v1.payment_intents.retrieve(intent.id)
    assert failed.status == "requires_payment_method"
    assert failed.payment_method is None  # the failed method is in last_payment_error

    retried = client.v1.payment_intents.confirm(intent.id, {"payment_method": str(setup.payment_method)})

    assert retried.status == "processing"
    assert retried.latest_charge != failed.latest_charge
    assert retried.last_payment_error is None
    assert len(client.v1.charges.list({"payment_intent": intent.id}).data) == 2


def test_a_processing_intent_cannot_be_canceled_but_an_unconfirmed_one_can() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)
    processing = contribution(client, customer, str(setup.payment_method))
    pending = client.v1.payment_intents.create({"amount": 2_000, "currency": "aud", "customer": customer.id})

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.cancel(processing.id)
    canceled = client.v1.payment_intents.cancel(pending.id, {"cancellation_reason": "requested_by_customer"})

    assert refused.value.code == "payment_intent_unexpected_state"
    assert canceled.status == "canceled"
    assert canceled.cancellation_reason == "requested_by_customer"


def test_an_amount_above_the_becs_transaction_limit_is_declined_at_confirmation() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client)

    with pytest.raises(stripe.CardError) as declined:
        contribution(client, customer, str(setup.payment_method), amount=1_000_001)

    assert declined.value.code == "charge_exceeds_transaction_limit"


def test_only_aud_can_be_debited() -> None:
    client = shared_simulator().client()

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.payment_intents.create({"amount": 2_000, "currency": "usd"})

    assert refused.value.param == "currency"


def test_a_payment_intent_can_carry_its_own_mandate_data() -> None:
    sim = shared_simulator()
    client = sim.client()
    customer = client.v1.customers.create({"email": unique_email()})

    intent = client.v1.payment_intents.create(
        {
            "amount": 3_000,
            "currency": "aud",
            "customer": customer.id,
            "payment_method": "pm_auBecsDebit_success",
            "mandate_data": MANDATE_DATA,
            "confirm": True,
        }
    )
    sim.advance(SETTLE)

    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
