"""``rosca up`` registers its two webhook endpoints on the simulator once, and finds them again after."""

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from rosca.stack.stripe_sim import ENDPOINTS_FILE, register_webhook_endpoints
from tests.integration.stripe_sim.becs_fixtures import unique_email
from tests.integration.stripe_sim.connect_fixtures import express_account
from tests.integration.stripe_sim.stripe_sim_harness import (
    RunningSimulator,
    WebhookReceiver,
    start_webhook_receiver,
)


@pytest.fixture
def receivers() -> Iterator[dict[str, WebhookReceiver]]:
    running = {"platform": start_webhook_receiver(), "connect": start_webhook_receiver()}
    yield running
    for receiver in running.values():
        receiver.close()


def endpoints_by_role(client: stripe.StripeClient) -> dict[str | None, list[stripe.WebhookEndpoint]]:
    found: dict[str | None, list[stripe.WebhookEndpoint]] = {}
    for endpoint in client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter():
        role = endpoint.to_dict()["metadata"].get("rosca_endpoint")
        found.setdefault(role, []).append(endpoint)
    return found


def test_each_endpoint_gets_its_kind_of_events_signed_with_the_secret_returned(
    sim: RunningSimulator, receivers: dict[str, WebhookReceiver], tmp_path: Path
) -> None:
    client = sim.client()
    store = tmp_path / ENDPOINTS_FILE

    secrets = register_webhook_endpoints(client, {role: r.url for role, r in receivers.items()}, store)
    client.v1.customers.create({"email": unique_email()})
    account = express_account(client).id
    on_account = client.v1.customers.create({"email": unique_email()}, {"stripe_account": account})
    sim.run_due()

    platform = [
        stripe.Webhook.construct_event(w.body, w.signature, secrets["platform"])
        for w in receivers["platform"].received
    ]
    connect = [
        stripe.Webhook.construct_event(w.body, w.signature, secrets["connect"])
        for w in receivers["connect"].received
    ]
    assert "customer.created" in {event.type for event in platform}
    assert all(event.to_dict().get("account") is None for event in platform)
    assert [event.data.object.to_dict()["id"] for event in connect if event.type == "customer.created"] == [
        on_account.id
    ]
    assert stat.S_IMODE(store.stat().st_mode) == 0o600


def test_registering_again_reuses_the_endpoints_and_points_them_at_the_new_address(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    client = sim.client()
    store = tmp_path / ENDPOINTS_FILE
    first_urls = {"platform": "http://127.0.0.1:8100/p", "connect": "http://127.0.0.1:8100/c"}
    moved_urls = {"platform": "http://127.0.0.1:8200/p", "connect": "http://127.0.0.1:8200/c"}

    first = register_webhook_endpoints(client, first_urls, store)
    first_ids = {role: [e.id for e in found] for role, found in endpoints_by_role(client).items()}
    again = register_webhook_endpoints(client, moved_urls, store)

    assert again == first
    found = endpoints_by_role(client)
    assert {role: [e.id for e in endpoints] for role, endpoints in found.items()} == first_ids
    assert {role: endpoints[0].url for role, endpoints in found.items()} == moved_urls


def test_endpoints_whose_secret_was_lost_and_duplicates_are_replaced(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    client = sim.client()
    store = tmp_path / ENDPOINTS_FILE
    urls = {"platform": "http://127.0.0.1:8100/p", "connect": "http://127.0.0.1:8100/c"}
    first = register_webhook_endpoints(client, urls, store)
    client.v1.webhook_endpoints.create(
        {"url": urls["platform"], "enabled_events": ["*"], "metadata": {"rosca_endpoint": "platform"}}
    )
    unrelated = client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/x", "enabled_events": ["*"]})

    store.unlink()
    second = register_webhook_endpoints(client, urls, store)

    assert set(second.values()).isdisjoint(first.values())
    found = endpoints_by_role(client)
    assert {role: len(endpoints) for role, endpoints in found.items()} == {
        "platform": 1,
        "connect": 1,
        None: 1,
    }
    assert found[None][0].id == unrelated.id
    assert register_webhook_endpoints(client, urls, store) == second
