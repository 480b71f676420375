"""Faults on demand: rate limiting, server errors, dropped connections, and webhook deliveries
duplicated, reordered, delayed or failing; all repeatable with a seed."""

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import stripe

from tests.integration.stripe_sim.becs_fixtures import unique_email
from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    start_simulator,
    start_webhook_receiver,
)


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator(fault_seed=7)
    yield running
    running.stop()


def _endpoint(sim: RunningSimulator, receiver: WebhookReceiver) -> str:
    endpoint = sim.client().v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["customer.created"]}
    )
    return endpoint.id


def _event_ids(receiver: WebhookReceiver) -> list[str]:
    return [str(json.loads(w.body)["id"]) for w in receiver.received]


def test_above_the_rate_limit_requests_get_429_with_the_reason_header() -> None:
    limited = start_simulator(rate_limit_ops_per_second=5)
    try:
        client = limited.client()
        outcomes: list[stripe.RateLimitError | None] = []
        for _ in range(12):
            try:
                client.v1.customers.list({"limit": 1})
                outcomes.append(None)
            except stripe.RateLimitError as refused:
                outcomes.append(refused)
        refusals = [o for o in outcomes if o is not None]

        assert outcomes[:5] == [None] * 5
        assert refusals
        assert refusals[0].http_status == 429
        assert refusals[0].error is not None
        assert refusals[0].error.code == "rate_limit"
        assert refusals[0].headers is not None
        assert refusals[0].headers["Stripe-Rate-Limited-Reason"] == "global-rate"
        assert limited.faults(rate_limit_ops_per_second=0)["rate_limit_ops_per_second"] == 0
        for _ in range(12):
            client.v1.customers.list({"limit": 1})
    finally:
        limited.stop()


def test_the_rate_limit_defaults_to_test_modes_25_per_second() -> None:
    limited = start_simulator(rate_limit_ops_per_second=25.0)
    try:
        assert httpx.get(f"{limited.base_url}/_sim/faults").json()["rate_limit_ops_per_second"] == 25
    finally:
        limited.stop()


def test_server_errors_are_api_errors_the_sdk_may_retry(sim: RunningSimulator) -> None:
    sim.faults(server_error_percent=100)
    with pytest.raises(stripe.APIError) as failed:
        sim.client().v1.customers.create({"email": unique_email()})
    assert failed.value.http_status == 500

    sim.faults(server_error_percent=50)
    retrying = sim.client(max_network_retries=10)
    created = [retrying.v1.customers.create({"email": unique_email()}) for _ in range(2)]

    assert all(c.id.startswith("cus_") for c in created)


def test_a_dropped_connection_happens_after_the_request_ran_so_keys_make_retries_safe(
    sim: RunningSimulator,
) -> None:
    client = sim.client()
    email, key = unique_email(), f"create-{uuid.uuid4()}"
    sim.faults(dropped_connection_percent=100)

    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create({"email": email}, {"idempotency_key": key})
    sim.faults(dropped_connection_percent=0)
    retried = client.v1.customers.create({"email": email}, {"idempotency_key": key})

    assert [c.id for c in client.v1.customers.list({"email": email}).data] == [retried.id]
    assert retried.last_response is not None
    assert retried.last_response.headers.get("idempotent-replayed") == "true"


def test_duplicate_deliveries_send_the_same_event_twice(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    _endpoint(sim, receiver)
    sim.faults(duplicate_percent=100)
    client = sim.client()
    for _ in range(3):
        client.v1.customers.create({"email": unique_email()})
    sim.run_due()

    ids = _event_ids(receiver)
    assert len(ids) == 6
    assert all(ids.count(event_id) == 2 for event_id in ids)
    assert {e.pending_webhooks for e in client.v1.events.list({"type": "customer.created"}).data} == {0}


def test_out_of_order_delivery_reorders_within_the_window(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    _endpoint(sim, receiver)
    sim.faults(out_of_order_window_seconds=30)
    client = sim.client()
    created = [client.v1.customers.create({"email": unique_email()}).id for _ in range(8)]
    sim.run_due()
    assert receiver.received == []

    sim.advance(timedelta(seconds=31))

    attempts = sim.deliveries()
    by_customer = {
        json.loads(w.body)["data"]["object"]["id"]: json.loads(w.body)["id"] for w in receiver.received
    }
    delivered_order = [a["event_id"] for a in sorted(attempts, key=lambda a: a["attempted_at"])]
    assert sorted(by_customer) == sorted(created)
    assert delivered_order != [by_customer[c] for c in created]


def test_a_delivery_delay_holds_every_delivery_back(sim: RunningSimulator, receiver: WebhookReceiver) -> None:
    _endpoint(sim, receiver)
    sim.faults(delivery_delay_seconds=60)
    sim.client().v1.customers.create({"email": unique_email()})

    sim.advance(timedelta(seconds=59))
    assert receiver.received == []
    sim.advance(timedelta(seconds=2))
    assert len(receiver.received) == 1


def test_an_endpoint_that_is_down_fails_its_deliveries_until_it_is_back(
    sim: RunningSimulator, receiver: WebhookReceiver
) -> None:
    endpoint_id = _endpoint(sim, receiver)
    sim.faults(endpoints_down=[endpoint_id])
    sim.client().v1.customers.create({"email": unique_email()})
    sim.run_due()

    first = sim.deliveries()
    sim.faults(endpoints_down=[])
    sim.advance(timedelta(seconds=1))

    assert [(a["attempt"], a["status"], a["error"]) for a in first] == [
        (1, None, "endpoint down (simulated fault)")
    ]
    assert [(a["attempt"], a["status"]) for a in sim.deliveries()] == [(1, None), (2, 200)]
    assert receiver.requests_seen == 1


def _delivery_offsets(seed: int) -> list[float]:
    running = start_simulator(
        fault_seed=seed, fault_out_of_order_window_seconds=10.0, fault_duplicate_percent=50.0
    )
    receiver = start_webhook_receiver()
    try:
        _endpoint(running, receiver)
        client = running.client()
        for _ in range(6):
            client.v1.customers.create({"email": unique_email()})
        running.advance(timedelta(seconds=11))
        start = running.clock.now().timestamp() - 11
        return sorted(round(a["attempted_at"] - start, 6) for a in running.deliveries())
    finally:
        receiver.close()
        running.stop()


def test_the_same_seed_repeats_the_same_faults() -> None:
    first, again, other = _delivery_offsets(1), _delivery_offsets(1), _delivery_offsets(2)

    assert first == again
    assert first != other


@pytest.mark.parametrize(
    "change",
    [{"duplicate_percent": 101}, {"no_such_fault": 1}, {"rate_limit_ops_per_second": -1}],
)
def test_invalid_fault_settings_are_refused(sim: RunningSimulator, change: dict[str, Any]) -> None:
    response = httpx.post(f"{sim.base_url}/_sim/faults", json=change)

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
