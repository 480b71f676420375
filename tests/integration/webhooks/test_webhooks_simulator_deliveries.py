"""Real signed deliveries from the Stripe simulator, platform and Connect: each event lands once."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from nats.js import JetStreamContext

from contracts import subjects
from contracts.stripe_events import stripe_event_message_id
from rosca.stack.ports import free_port
from services.runtime.db import Database
from tests.infrastructure import NatsServer
from tests.integration.helpers import eventually
from tests.integration.stripe_sim.becs_fixtures import MANDATE_DATA, unique_email
from tests.integration.stripe_sim.stripe_sim_harness import RunningSimulator, start_simulator
from tests.integration.webhooks.support import (
    CONNECT_PATH,
    PLATFORM_PATH,
    encoded,
    post_event,
    provision,
    published_events,
    published_ids,
    sign,
    stored_count,
    webhooks_serving,
    webhooks_settings,
)

pytestmark = pytest.mark.integration


@dataclass
class Wired:
    sim: RunningSimulator
    base_url: str
    platform_secret: str
    connect_secret: str
    database: Database


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[RunningSimulator]:
    faults: dict[str, Any] = getattr(request, "param", {})
    running = start_simulator(
        webhook_retry_delays_seconds=(1.0, 2.0, 4.0), rate_limit_ops_per_second=0, **faults
    )
    yield running
    running.stop()


@pytest.fixture
async def wired(
    sim: RunningSimulator, nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> AsyncIterator[Wired]:
    """The gateway registered with the simulator as both a platform and a Connect endpoint."""
    port = free_port()
    client = sim.client()
    platform = await client.v1.webhook_endpoints.create_async(
        {"url": f"http://127.0.0.1:{port}{PLATFORM_PATH}", "enabled_events": ["*"]}
    )
    connect = await client.v1.webhook_endpoints.create_async(
        {"url": f"http://127.0.0.1:{port}{CONNECT_PATH}", "enabled_events": ["*"], "connect": True}
    )
    assert platform.secret
    assert connect.secret
    await provision(js, namespace)
    settings = webhooks_settings(
        database_url,
        nats_server.url,
        namespace,
        http_port=port,
        platform_signing_secrets=[platform.secret],
        connect_signing_secrets=[connect.secret],
    )
    database = Database(database_url)
    try:
        async with webhooks_serving(settings) as base_url:
            yield Wired(sim, base_url, platform.secret, connect.secret, database)
    finally:
        await database.dispose()


async def _all_delivered(sim: RunningSimulator, event_ids: list[str]) -> bool:
    attempts = await asyncio.to_thread(sim.deliveries)
    succeeded = {attempt["event_id"] for attempt in attempts if attempt["status"] == 200}
    return set(event_ids) <= succeeded


async def test_platform_and_connect_events_each_reach_the_stream_once(
    wired: Wired, js: JetStreamContext, namespace: str
) -> None:
    client = wired.sim.client()
    account = (
        await client.v1.accounts.create_async(
            {"type": "express", "country": "AU", "capabilities": {"transfers": {"requested": True}}}
        )
    ).id
    customer = await client.v1.customers.create_async({"email": unique_email()})
    await client.v1.setup_intents.create_async(
        {
            "customer": customer.id,
            "payment_method": "pm_auBecsDebit_success",
            "mandate_data": MANDATE_DATA,
            "confirm": True,
        }
    )
    on_account = await client.v1.customers.create_async(
        {"email": unique_email()}, {"stripe_account": account}
    )
    platform_events = [e.id for e in (await client.v1.events.list_async({"limit": 100})).data]
    connect_events = [
        e.id for e in (await client.v1.events.list_async({"limit": 100}, {"stripe_account": account})).data
    ]
    everything = platform_events + connect_events
    await eventually(lambda: _all_delivered(wired.sim, everything), what="simulator deliveries")

    published = await published_events(js, namespace)
    assert sorted(p.message.event_id for p in published) == sorted(everything)
    for p in published:
        assert p.subject == subjects.stripe_event(p.message.event_type)
        assert p.headers["Nats-Msg-Id"] == p.message.event_id
        assert p.message.message_id == stripe_event_message_id(p.message.event_id)
    connect_messages = [p.message for p in published if p.message.event_id in connect_events]
    assert [(m.account, m.object_id) for m in connect_messages] == [(account, on_account.id)]
    assert {p.message.account for p in published if p.message.event_id in platform_events} == {None}
    assert await stored_count(wired.database) == len(everything)


async def test_a_contribution_is_normalized_with_its_status_amount_and_correlation(
    wired: Wired, js: JetStreamContext, namespace: str
) -> None:
    client = wired.sim.client()
    customer = await client.v1.customers.create_async({"email": unique_email()})
    setup = await client.v1.setup_intents.create_async(
        {
            "customer": customer.id,
            "payment_method": "pm_auBecsDebit_success",
            "mandate_data": MANDATE_DATA,
            "confirm": True,
        }
    )
    cycle_id = f"cyc_{uuid.uuid4().hex[:8]}"
    intent = await client.v1.payment_intents.create_async(
        {
            "amount": 5_000,
            "currency": "aud",
            "customer": customer.id,
            "payment_method": str(setup.payment_method),
            "confirm": True,
            "off_session": True,
            "metadata": {"group_id": "grp_1", "cycle_id": cycle_id},
        }
    )
    await asyncio.to_thread(wired.sim.advance, timedelta(seconds=2))

    async def succeeded_published() -> bool:
        return any(
            p.message.event_type == "payment_intent.succeeded" and p.message.object_id == intent.id
            for p in await published_events(js, namespace)
        )

    await eventually(succeeded_published, what="payment_intent.succeeded on the stream")
    about_intent = [
        p.message for p in await published_events(js, namespace) if p.message.object_id == intent.id
    ]
    succeeded = next(m for m in about_intent if m.event_type == "payment_intent.succeeded")
    assert succeeded.object_type == "payment_intent"
    assert succeeded.object_status == "succeeded"
    assert (succeeded.amount, succeeded.currency) == (5_000, "aud")
    assert succeeded.correlation_id == cycle_id
    assert succeeded.metadata == {"group_id": "grp_1", "cycle_id": cycle_id}
    assert succeeded.raw_object["id"] == intent.id
    assert {m.event_type for m in about_intent} >= {"payment_intent.created", "payment_intent.processing"}


async def test_a_redelivery_however_late_answers_2xx_and_publishes_nothing_new(
    wired: Wired, js: JetStreamContext, namespace: str
) -> None:
    client = wired.sim.client()
    await client.v1.customers.create_async({"email": unique_email()})
    event = (await client.v1.events.list_async({"limit": 1})).data[0]
    await eventually(lambda: _all_delivered(wired.sim, [event.id]))
    before = await published_ids(js, namespace)
    # The same body Stripe would send again, re-signed now: as a retry days later would be.
    body = encoded(event.to_dict())

    async with httpx.AsyncClient(base_url=wired.base_url) as http:
        again = await post_event(http, PLATFORM_PATH, body, sign(body, wired.platform_secret))

    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert await published_ids(js, namespace) == before
    assert before.count(event.id) == 1


async def test_concurrent_duplicates_in_shuffled_order_land_once_each(
    wired: Wired, js: JetStreamContext, namespace: str
) -> None:
    """What Stripe's duplicates look like from here: the same event, again, at once, out of order."""
    client = wired.sim.client()
    for _ in range(5):
        await client.v1.customers.create_async({"email": unique_email()})
    events = (await client.v1.events.list_async({"limit": 5})).data
    await eventually(lambda: _all_delivered(wired.sim, [e.id for e in events]))
    bodies = [encoded(event.to_dict()) for event in events for _ in range(4)]
    random.shuffle(bodies)

    async with httpx.AsyncClient(base_url=wired.base_url) as http:
        answers = await asyncio.gather(
            *(post_event(http, PLATFORM_PATH, body, sign(body, wired.platform_secret)) for body in bodies)
        )

    assert {answer.status_code for answer in answers} == {200}
    ids = await published_ids(js, namespace)
    assert sorted(e.id for e in events) == sorted(i for i in ids if i in {e.id for e in events})
    assert len(ids) == len(set(ids))


SIMULATOR_FAULTS = {
    "fault_seed": 20261122,
    "fault_duplicate_percent": 100.0,
    "fault_out_of_order_window_seconds": 5.0,
}


@pytest.mark.parametrize("sim", [SIMULATOR_FAULTS], indirect=True)
async def test_with_the_simulator_duplicating_and_reordering_every_delivery_each_event_lands_once(
    wired: Wired, js: JetStreamContext, namespace: str
) -> None:
    client = wired.sim.client()
    for _ in range(8):
        await client.v1.customers.create_async({"email": unique_email()})
    events = (await client.v1.events.list_async({"limit": 100})).data
    # Every delivery is due within the out-of-order window of simulated time: move past it.
    await asyncio.to_thread(wired.sim.advance, timedelta(seconds=6))

    async def delivered_twice() -> bool:
        attempts = await asyncio.to_thread(wired.sim.deliveries)
        succeeded = [a["event_id"] for a in attempts if a["status"] == 200]
        return all(succeeded.count(event.id) == 2 for event in events)

    await eventually(delivered_twice, what="every event delivered twice")
    arrival = [a["event_id"] for a in await asyncio.to_thread(wired.sim.deliveries) if a["status"] == 200]
    first_arrivals = list(dict.fromkeys(arrival))
    assert first_arrivals != [event.id for event in reversed(events)], "the simulator did not reorder"

    ids = await published_ids(js, namespace)
    assert sorted(ids) == sorted(event.id for event in events)
    assert await stored_count(wired.database) == len(events)
