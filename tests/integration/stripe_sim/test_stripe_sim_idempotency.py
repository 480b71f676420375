"""Idempotency keys: replay, mismatch, concurrency, 24 h of simulated time."""

import asyncio
import uuid
from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import saved_becs_customer, unique_email
from tests.integration.stripe_sim.stripe_sim_harness import shared_simulator, start_simulator


def test_the_same_key_and_parameters_replay_the_first_response() -> None:
    client = shared_simulator().client()
    key = f"create-{uuid.uuid4()}"
    email = unique_email()

    first = client.v1.customers.create({"email": email}, {"idempotency_key": key})
    second = client.v1.customers.create({"email": email}, {"idempotency_key": key})

    assert second.id == first.id
    assert second.last_response is not None
    assert second.last_response.headers.get("idempotent-replayed") == "true"
    assert len(client.v1.customers.list({"email": email}).data) == 1


def test_the_same_key_with_other_parameters_is_an_idempotency_error() -> None:
    client = shared_simulator().client()
    key = f"create-{uuid.uuid4()}"
    client.v1.customers.create({"email": unique_email()}, {"idempotency_key": key})

    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.customers.create({"email": unique_email()}, {"idempotency_key": key})

    assert refused.value.http_status == 400


def test_an_error_from_an_executed_request_is_replayed_too() -> None:
    client = shared_simulator().client()
    customer, setup = saved_becs_customer(client, "121212121")
    key = f"contribution-{uuid.uuid4()}-1"
    params = {
        "amount": 5_000,
        "currency": "aud",
        "customer": customer.id,
        "payment_method": str(setup.payment_method),
        "confirm": True,
        "off_session": True,
    }

    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.create(params, {"idempotency_key": key})  # type: ignore[arg-type]
    with pytest.raises(stripe.CardError) as replay:
        client.v1.payment_intents.create(params, {"idempotency_key": key})  # type: ignore[arg-type]

    assert first.value.error is not None
    assert replay.value.error is not None
    assert first.value.error.payment_intent is not None
    assert replay.value.error.payment_intent is not None
    assert replay.value.error.payment_intent.id == first.value.error.payment_intent.id
    assert len(client.v1.payment_intents.list({"customer": customer.id}).data) == 1


def test_a_key_can_be_reused_after_24_hours_of_simulated_time() -> None:
    sim = start_simulator()
    try:
        client = sim.client()
        key = f"create-{uuid.uuid4()}"
        first = client.v1.customers.create({"email": unique_email()}, {"idempotency_key": key})
        sim.advance(timedelta(hours=23, minutes=59))
        with pytest.raises(stripe.IdempotencyError):
            client.v1.customers.create({"email": unique_email()}, {"idempotency_key": key})

        sim.advance(timedelta(minutes=1))
        later = client.v1.customers.create({"email": unique_email()}, {"idempotency_key": key})

        assert later.id != first.id
    finally:
        sim.stop()


async def test_a_concurrent_request_with_the_same_key_gets_409() -> None:
    sim = start_simulator(api_delay_seconds=0.3)
    try:
        client = sim.client()
        key = f"create-{uuid.uuid4()}"
        params: stripe.params.CustomerCreateParams = {"email": unique_email()}

        outcomes = await asyncio.gather(
            client.v1.customers.create_async(params, {"idempotency_key": key}),
            client.v1.customers.create_async(params, {"idempotency_key": key}),
            return_exceptions=True,
        )

        # The SDK files a 409 under APIError (only 400/404 idempotency errors get their class).
        conflicts = [o for o in outcomes if isinstance(o, stripe.APIError)]
        assert len(conflicts) == 1
        assert conflicts[0].http_status == 409
        body = conflicts[0].json_body
        assert isinstance(body, dict)
        assert body["error"]["code"] == "idempotency_key_in_use"
        # With retries, the SDK retries the 409 and receives the first request's result.
        retrying = sim.client(max_network_retries=3)
        assert (await retrying.v1.customers.create_async(params, {"idempotency_key": key})).email == params[
            "email"
        ]
    finally:
        sim.stop()
