"""Signed webhook deliveries to platform and Connect endpoints, retried on failure."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import contribution, saved_becs_customer, unique_email
from tests.integration.stripe_sim.connect_fixtures import express_account
from tests.integration.stripe_sim.stripe_schema_check import stripe_schemas
from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    start_simulator,
    start_webhook_receiver,
)


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator(webhook_retry_delays_seconds=(60.0, 600.0, 3600.0))
    yield running
    running.stop()


def _events(receiver: WebhookReceiver, secret: str) -> list[stripe.Event]:
    return [stripe.Webhook.construct_event(w.body, w.signature, secret) for w in receiver.received]


def test_events_reach_a_platform_endpoint_signed_with_its_secret(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    client = sim.client()
    endpoint = client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")

    customer, setup = saved_becs_customer(client)
    intent = contribution(client, customer, str(setup.payment_method))
    sim.advance(timedelta(seconds=2))
    receiver.wait_for(lambda got: any(b'"payment_intent.succeeded"' in w.body for w in got))

    events = _events(receiver, endpoint.secret)
    # Like Stripe, the simulator does not promise delivery order: the events' `created` carries it
    # (to the second, so the created and processing events of one confirm may share it).
    created = {e.type: e.created for e in events if e.data.object.to_dict().get("id") == intent.id}
    assert set(created) == {"payment_intent.created", "payment_intent.processing", "payment_intent.succeeded"}
    assert created["payment_intent.created"] <= created["payment_intent.processing"]
    assert created["payment_intent.processing"] <= created["payment_intent.succeeded"]
    for received in receiver.received:
        assert stripe_schemas().violations_of_object(json.loads(received.body)) == []


def test_a_connect_endpoint_hears_only_connected_account_events_with_their_account(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    client = sim.client()
    platform_receiver = start_webhook_receiver()
    try:
        connect = client.v1.webhook_endpoints.create(
            {"url": receiver.url, "enabled_events": ["customer.created"], "connect": True}
        )
        platform = client.v1.webhook_endpoints.create(
            {"url": platform_receiver.url, "enabled_events": ["customer.created"]}
        )
        account = express_account(client).id
        client.v1.customers.create({"email": unique_email()})
        on_account = client.v1.customers.create({"email": unique_email()}, {"stripe_account": account})
        sim.run_due()

        assert connect.secret != platform.secret
        connect_events = _events(receiver, str(connect.secret))
        assert [(e.account, e.data.object.to_dict()["id"]) for e in connect_events] == [
            (account, on_account.id)
        ]
        platform_events = _events(platform_receiver, str(platform.secret))
        assert len(platform_events) == 1
        assert "account" not in platform_events[0].to_dict()
    finally:
        platform_receiver.close()


def test_a_failed_delivery_is_retried_with_back_off_and_every_attempt_recorded(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    client = sim.client()
    endpoint = client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["customer.created"]}
    )
    receiver.failures_to_answer = 2
    customer = client.v1.customers.create({"email": unique_email()})
    sim.run_due()
    event = client.v1.events.list({"type": "customer.created", "limit": 1}).data[0]
    assert event.data.object.to_dict()["id"] == customer.id

    assert [a["status"] for a in sim.deliveries(event.id)] == [500]
    sim.advance(timedelta(seconds=59))
    assert len(sim.deliveries(event.id)) == 1
    # One jump covers both retries (60 s, then 600 s later): they run in order, no waiting.
    sim.advance(timedelta(minutes=15))

    attempts = sim.deliveries(event.id)
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert attempts[1]["attempted_at"] - attempts[0]["attempted_at"] == 60
    assert attempts[2]["attempted_at"] - attempts[1]["attempted_at"] == 600
    assert client.v1.events.retrieve(event.id).pending_webhooks == 0
    assert len(_events(receiver, str(endpoint.secret))) == 1


def test_delivery_stops_after_the_last_retry(sim: RunningSimulator, receiver: WebhookReceiver) -> None:
    client = sim.client()
    client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["customer.created"]})
    receiver.failures_to_answer = 100
    client.v1.customers.create({"email": unique_email()})
    sim.run_due()
    sim.advance(timedelta(days=3))

    event = client.v1.events.list({"type": "customer.created", "limit": 1}).data[0]
    assert len(sim.deliveries(event.id)) == 4
    assert event.pending_webhooks == 1


def test_endpoints_outside_this_machine_are_refused(sim: RunningSimulator) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sim.client().v1.webhook_endpoints.create({"url": "https://example.com/hook", "enabled_events": ["*"]})

    assert refused.value.param == "url"


def test_events_are_kept_for_30_days(sim: RunningSimulator) -> None:
    client = sim.client()
    client.v1.customers.create({"email": unique_email()})
    event = client.v1.events.list({"limit": 1}).data[0]

    sim.advance(timedelta(days=29))
    assert client.v1.events.retrieve(event.id).id == event.id
    sim.advance(timedelta(days=2))
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.events.retrieve(event.id)
