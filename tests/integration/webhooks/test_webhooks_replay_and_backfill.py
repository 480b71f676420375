"""Operators: republish stored events (same message ids), and backfill events that never arrived."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe
from nats.js import JetStreamContext

from contracts.streams import STRIPE
from services.runtime.naming import Namespace
from services.runtime.request_budget import SharedRequestBudget
from services.runtime.streams import StreamSettings, provision_streams
from services.runtime.stripe_client import BUDGET_BUCKET, StripeSettings, stripe_request_budget
from tests.infrastructure import NatsServer
from tests.integration.helpers import eventually
from tests.integration.stripe_sim.becs_fixtures import unique_email
from tests.integration.stripe_sim.stripe_sim_harness import API_KEY, RunningSimulator, start_simulator
from tests.integration.webhooks.support import (
    OPERATOR_TOKEN,
    PLATFORM_PATH,
    encoded,
    new_secret,
    post_event,
    published_events,
    published_ids,
    sign,
    stripe_event,
    webhooks_serving,
    webhooks_settings,
)

pytestmark = pytest.mark.integration

AUTHORIZED = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
DUPLICATE_WINDOW = 1.0


@dataclass
class Running:
    http: httpx.AsyncClient
    secret: str
    database_url: str
    nats_url: str
    namespace: str


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    running = start_simulator(rate_limit_ops_per_second=0)
    yield running
    running.stop()


@pytest.fixture
async def running(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str, sim: RunningSimulator
) -> AsyncIterator[Running]:
    # A short duplicate window, so that a replay a moment later really reaches the stream again.
    await provision_streams(
        js, Namespace(namespace), StreamSettings(duplicate_window_seconds=DUPLICATE_WINDOW), (STRIPE,)
    )
    secret = new_secret()
    settings = webhooks_settings(
        database_url,
        nats_server.url,
        namespace,
        platform_signing_secrets=[secret],
        stripe_api_key=API_KEY,
        stripe_api_base_url=sim.base_url,
    )
    async with webhooks_serving(settings) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        yield Running(http, secret, database_url, nats_server.url, namespace)


async def _deliver(running: Running, *events: dict[str, Any]) -> None:
    for event in events:
        body = encoded(event)
        answer = await post_event(running.http, PLATFORM_PATH, body, sign(body, running.secret))
        assert answer.status_code == 200


async def test_operator_endpoints_need_the_operator_token(running: Running) -> None:
    replay = {"event_type": "customer.created"}
    assert (await running.http.post("/webhooks/admin/replay", json=replay)).status_code == 401
    wrong = {"Authorization": "Bearer not-the-operator-token"}
    assert (await running.http.post("/webhooks/admin/replay", json=replay, headers=wrong)).status_code == 401
    assert (await running.http.post("/webhooks/admin/backfill", json={}, headers=wrong)).status_code == 401


async def test_without_an_operator_token_configured_operator_endpoints_answer_503(
    nats_server: NatsServer, database_url: str, namespace: str
) -> None:
    settings = webhooks_settings(database_url, nats_server.url, namespace, operator_token=None)
    async with webhooks_serving(settings) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        answer = await http.post(
            "/webhooks/admin/replay", json={"event_type": "customer.created"}, headers=AUTHORIZED
        )
    assert answer.status_code == 503


async def test_without_a_stripe_key_backfill_answers_503_and_replay_still_works(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    await provision_streams(js, Namespace(namespace), StreamSettings(), (STRIPE,))
    settings = webhooks_settings(database_url, nats_server.url, namespace, stripe_api_key="")
    async with webhooks_serving(settings) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        backfill = await http.post("/webhooks/admin/backfill", json={}, headers=AUTHORIZED)
        replay = await http.post(
            "/webhooks/admin/replay", json={"event_type": "customer.created"}, headers=AUTHORIZED
        )
    assert backfill.status_code == 503
    assert backfill.json()["error"]["type"] == "not_configured"
    assert replay.status_code == 200


async def test_a_replay_republishes_the_selected_events_as_the_same_messages(
    running: Running, js: JetStreamContext
) -> None:
    early = stripe_event("charge.succeeded", created=1_780_000_000)
    late = stripe_event("charge.succeeded", created=1_780_000_100)
    other = stripe_event("customer.created", created=1_780_000_050)
    await _deliver(running, early, late, other)

    # Inside JetStream's duplicate window a replay changes nothing in the stream.
    immediate = await running.http.post(
        "/webhooks/admin/replay", json={"event_ids": [early["id"]]}, headers=AUTHORIZED
    )
    assert immediate.json() == {"selected": 1, "published": 0, "already_in_stream": 1}
    await asyncio.sleep(DUPLICATE_WINDOW + 0.5)

    by_type = await running.http.post(
        "/webhooks/admin/replay", json={"event_type": "charge.succeeded"}, headers=AUTHORIZED
    )
    by_range = await running.http.post(
        "/webhooks/admin/replay",
        json={
            "created_from": datetime.fromtimestamp(1_780_000_040, UTC).isoformat(),
            "created_until": datetime.fromtimestamp(1_780_000_060, UTC).isoformat(),
        },
        headers=AUTHORIZED,
    )

    assert by_type.json() == {"selected": 2, "published": 2, "already_in_stream": 0}
    assert by_range.json() == {"selected": 1, "published": 1, "already_in_stream": 0}
    published = await published_events(js, running.namespace)
    ids = [p.message.event_id for p in published]
    assert ids == [early["id"], late["id"], other["id"], early["id"], late["id"], other["id"]]
    for first, again in zip(published[:3], published[3:], strict=True):
        assert again.message == first.message
        assert again.headers["Nats-Msg-Id"] == first.headers["Nats-Msg-Id"]


async def test_a_replay_needs_a_selection(running: Running) -> None:
    answer = await running.http.post("/webhooks/admin/replay", json={}, headers=AUTHORIZED)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "empty_selection"


async def test_backfill_ingests_the_events_that_never_arrived_once(
    running: Running, sim: RunningSimulator, js: JetStreamContext
) -> None:
    client = sim.client()
    account = (
        await client.v1.accounts.create_async(
            {"type": "express", "country": "AU", "capabilities": {"transfers": {"requested": True}}}
        )
    ).id
    for _ in range(3):
        await client.v1.customers.create_async({"email": unique_email()})
    await client.v1.customers.create_async({"email": unique_email()}, {"stripe_account": account})
    platform = [e.id for e in (await client.v1.events.list_async({"limit": 100})).data]
    connected = [
        e.id for e in (await client.v1.events.list_async({"limit": 100}, {"stripe_account": account})).data
    ]
    # One of them did arrive as a webhook: backfill leaves it alone.
    arrived = (await client.v1.events.retrieve_async(platform[0])).to_dict()
    await _deliver(running, arrived)

    first = await running.http.post(
        "/webhooks/admin/backfill", json={"accounts": [account]}, headers=AUTHORIZED
    )
    second = await running.http.post(
        "/webhooks/admin/backfill", json={"known_accounts": True}, headers=AUTHORIZED
    )

    total = len(platform) + len(connected)
    assert first.json() == {
        "listed": total,
        "ingested": total - 1,
        "already_stored": 1,
        "rejected": 0,
        "skipped_accounts": [],
    }
    assert second.json() == {
        "listed": total,
        "ingested": 0,
        "already_stored": total,
        "rejected": 0,
        "skipped_accounts": [],
    }
    published = await published_events(js, running.namespace)
    assert sorted(p.message.event_id for p in published) == sorted(platform + connected)
    assert {p.message.account for p in published if p.message.event_id in connected} == {account}


async def _express_account(client: stripe.StripeClient) -> str:
    account = await client.v1.accounts.create_async(
        {"type": "express", "country": "AU", "capabilities": {"transfers": {"requested": True}}}
    )
    return account.id


async def _events_of(client: stripe.StripeClient, account: str) -> list[str]:
    listed = await client.v1.events.list_async({"limit": 100}, {"stripe_account": account})
    return [event.id for event in listed.data]


async def test_backfill_skips_an_account_stripe_refuses_and_backfills_the_others(
    running: Running, sim: RunningSimulator, js: JetStreamContext
) -> None:
    client = sim.client()
    deleted, kept = await _express_account(client), await _express_account(client)
    for account in (deleted, kept):
        await client.v1.customers.create_async({"email": unique_email()}, {"stripe_account": account})
    # A first backfill stores events of both accounts: both are "known" from then on.
    assert (await _cli(running, sim, "backfill", "--account", deleted, "--account", kept)).returncode == 0
    await client.v1.accounts.delete_async(deleted)
    await client.v1.customers.create_async({"email": unique_email()}, {"stripe_account": kept})
    platform = [e.id for e in (await client.v1.events.list_async({"limit": 100})).data]
    kept_events = await _events_of(client, kept)

    # The refused account first: it must not stop the run before the other one.
    answer = await running.http.post(
        "/webhooks/admin/backfill", json={"accounts": [deleted, kept]}, headers=AUTHORIZED
    )

    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [skipped["account"] for skipped in result["skipped_accounts"]] == [deleted]
    reason = result["skipped_accounts"][0]["reason"]
    assert reason.startswith("403 account_invalid: ")
    assert deleted in reason
    assert (result["listed"], result["ingested"]) == (len(platform) + len(kept_events), 1)
    published = await published_ids(js, running.namespace)
    assert sorted(published) == sorted({*published, *platform, *kept_events})
    assert len(published) == len(set(published))

    by_cli = await _cli(running, sim, "backfill", "--known-accounts")
    assert by_cli.returncode == 0, by_cli.stderr
    assert "0 ingested" in by_cli.stdout
    assert "1 accounts skipped" in by_cli.stdout
    assert f"skipped {deleted}: 403 account_invalid: " in by_cli.stdout


async def test_the_cli_replays_and_backfills(
    running: Running, sim: RunningSimulator, js: JetStreamContext
) -> None:
    client = sim.client()
    await client.v1.customers.create_async({"email": unique_email()})
    missed = (await client.v1.events.list_async({"limit": 1})).data[0].id
    since = (datetime.fromtimestamp(sim.clock.now().timestamp(), UTC) - timedelta(minutes=1)).isoformat()

    backfilled = await _cli(running, sim, "backfill", "--since", since)
    assert backfilled.returncode == 0, backfilled.stderr
    assert "1 ingested" in backfilled.stdout
    await eventually(lambda: _published_once(js, running.namespace, missed))

    await asyncio.sleep(DUPLICATE_WINDOW + 0.5)
    replayed = await _cli(running, sim, "replay", "--event", missed)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 events: 1 published" in replayed.stdout
    assert (await published_ids(js, running.namespace)).count(missed) == 2

    refused = await _cli(running, sim, "replay")
    assert refused.returncode != 0


# Low enough that a slot is a measurable wait, next to the milliseconds the simulator answers in.
BUDGET_RATE = 4.0
BUDGET_KEY = "next_slot"


def _budget_of_another_service(js: JetStreamContext, namespace: str) -> SharedRequestBudget:
    """The Stripe budget as onboarding, collections or payouts of the same namespace hold it."""
    return stripe_request_budget(
        StripeSettings(stripe_requests_per_second=BUDGET_RATE), Namespace(namespace), lambda: js
    )


async def _slots_taken(js: JetStreamContext, namespace: str) -> int:
    """How many slots of the namespace's Stripe budget were ever taken: each one writes its key once."""
    bucket = await js.key_value(Namespace(namespace).bucket(BUDGET_BUCKET))
    entry = await bucket.get(BUDGET_KEY)
    assert entry.revision is not None
    return entry.revision


async def test_a_backfill_over_http_waits_its_turn_in_the_stripe_budget_every_service_shares(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str, sim: RunningSimulator
) -> None:
    client = sim.client()
    account = await _express_account(client)
    await client.v1.customers.create_async({"email": unique_email()}, {"stripe_account": account})
    await provision_streams(js, Namespace(namespace), StreamSettings(), (STRIPE,))
    settings = webhooks_settings(
        database_url,
        nats_server.url,
        namespace,
        stripe_api_key=API_KEY,
        stripe_api_base_url=sim.base_url,
        stripe_requests_per_second=BUDGET_RATE,
    )
    members = _budget_of_another_service(js, namespace)
    async with webhooks_serving(settings) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        # Members' calls hold the next second of the Stripe account's rate.
        held = [await members.reserve() for _ in range(int(BUDGET_RATE))]
        before = await _slots_taken(js, namespace)
        started = time.time()
        answer = await http.post("/webhooks/admin/backfill", json={"accounts": [account]}, headers=AUTHORIZED)
        finished = time.time()
        after = await _slots_taken(js, namespace)

    assert answer.status_code == 200, answer.text
    assert answer.json()["listed"] > 0
    # Two listings, the platform's and the account's, each in a slot of the shared budget ...
    assert after - before == 2
    # ... after the members' slots: the second not before one interval past the last of those.
    assert finished >= held[-1] + 2 / BUDGET_RATE - 0.01
    assert finished - started >= 2 / BUDGET_RATE


async def test_a_backfill_by_the_cli_takes_its_stripe_requests_from_the_services_budget(
    running: Running, sim: RunningSimulator, js: JetStreamContext
) -> None:
    client = sim.client()
    deleted, kept = await _express_account(client), await _express_account(client)
    await client.v1.customers.create_async({"email": unique_email()}, {"stripe_account": kept})
    await client.v1.accounts.delete_async(deleted)
    await _budget_of_another_service(js, running.namespace).reserve()
    before = await _slots_taken(js, running.namespace)

    by_cli = await _cli(
        running, sim, "backfill", "--account", deleted, "--account", kept, budget_rate=BUDGET_RATE
    )

    assert by_cli.returncode == 0, by_cli.stderr
    assert f"skipped {deleted}: 403 account_invalid: " in by_cli.stdout
    # The platform's listing, the refused account's, the kept account's: one slot each, in the
    # budget of the services of the same namespace.
    assert await _slots_taken(js, running.namespace) - before == 3


async def _published_once(js: JetStreamContext, namespace: str, event_id: str) -> bool:
    return (await published_ids(js, namespace)).count(event_id) == 1


async def _cli(
    running: Running, sim: RunningSimulator, *arguments: str, budget_rate: float | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "ROSCA_WEBHOOKS_DATABASE_URL": running.database_url,
        "ROSCA_WEBHOOKS_NATS_URL": running.nats_url,
        "ROSCA_WEBHOOKS_NAMESPACE": running.namespace,
        "ROSCA_WEBHOOKS_STRIPE_API_KEY": API_KEY,
        "ROSCA_WEBHOOKS_STRIPE_API_BASE_URL": sim.base_url,
    }
    if budget_rate is not None:
        environment["ROSCA_WEBHOOKS_STRIPE_REQUESTS_PER_SECOND"] = str(budget_rate)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.webhooks.cli", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
