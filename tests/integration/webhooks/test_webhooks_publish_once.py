"""The gateway publishes an event once: concurrent deliveries share it, a lost "published" note is retried.

Counted on plain NATS, which sees every publish, also those JetStream drops as duplicates inside its
window: the stream alone would not tell a second publish from none.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import text

from contracts.streams import STRIPE
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer
from tests.integration.helpers import eventually
from tests.integration.webhooks.support import (
    PLATFORM_PATH,
    encoded,
    new_secret,
    post_event,
    published_events,
    sign,
    stripe_event,
    unpublished_ids,
    webhooks_serving,
    webhooks_settings,
)

pytestmark = pytest.mark.integration

# Postgres refuses every "published" note while this trigger exists (and only those).
REFUSE_PUBLISHED_NOTES = (
    """
    CREATE FUNCTION refuse_published_note() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the test refuses published notes'; END $$
    """,
    """
    CREATE TRIGGER refuse_published_note BEFORE UPDATE ON stripe_events
    FOR EACH ROW WHEN (NEW.published_at IS NOT NULL) EXECUTE FUNCTION refuse_published_note()
    """,
)
ACCEPT_PUBLISHED_NOTES = ("DROP TRIGGER refuse_published_note ON stripe_events",)


@asynccontextmanager
async def every_publish(nats_url: str, namespace: str) -> AsyncIterator[tuple[NatsClient, list[Msg]]]:
    """Every message published on the test's Stripe subjects, as plain NATS delivers it."""
    client = await nats.connect(nats_url)
    seen: list[Msg] = []

    async def keep(message: Msg) -> None:
        seen.append(message)

    await client.subscribe(Namespace(namespace).subject("stripe.>"), cb=keep)
    await client.flush()
    try:
        yield client, seen
    finally:
        await client.close()


async def publishes_of(client: NatsClient, seen: list[Msg], event_id: str) -> list[Msg]:
    # The server sends in order: once our PING is answered, every publish it routed before is here.
    await client.flush()
    return [message for message in seen if (message.headers or {}).get("Nats-Msg-Id") == event_id]


async def _execute(database: Database, statements: tuple[str, ...]) -> None:
    async with database.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def _deliver(http: httpx.AsyncClient, event: dict[str, Any], secret: str) -> httpx.Response:
    body = encoded(event)
    return await post_event(http, PLATFORM_PATH, body, sign(body, secret))


async def test_concurrent_deliveries_of_one_event_share_one_publish(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    await provision_streams(js, Namespace(namespace), StreamSettings(), (STRIPE,))
    secret = new_secret()
    settings = webhooks_settings(database_url, nats_server.url, namespace, platform_signing_secrets=[secret])
    event = stripe_event("payment_intent.succeeded")
    async with (
        every_publish(nats_server.url, namespace) as (client, seen),
        webhooks_serving(settings) as base_url,
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        # Stripe retrying while its first attempt is still in flight, several times over.
        answers = await asyncio.gather(*(_deliver(http, event, secret) for _ in range(6)))

        assert [answer.status_code for answer in answers] == [200] * 6
        outcomes = sorted(answer.json()["outcome"] for answer in answers)
        assert outcomes == ["accepted"] + ["duplicate"] * 5
        assert len(await publishes_of(client, seen, event["id"])) == 1
    assert [p.message.event_id for p in await published_events(js, namespace)] == [event["id"]]


async def test_a_refused_published_note_is_retried_and_the_event_never_published_again(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    """The note fails after the PubAck for longer than the duplicate window: still one publish."""
    window = 1.0
    await provision_streams(
        js, Namespace(namespace), StreamSettings(duplicate_window_seconds=window), (STRIPE,)
    )
    secret = new_secret()
    settings = webhooks_settings(
        database_url,
        nats_server.url,
        namespace,
        platform_signing_secrets=[secret],
        sweep_interval_seconds=0.1,
        sweep_grace_seconds=0.3,
    )
    event = stripe_event()
    database = Database(database_url)
    try:
        async with (
            every_publish(nats_server.url, namespace) as (client, seen),
            webhooks_serving(settings) as base_url,
            httpx.AsyncClient(base_url=base_url) as http,
        ):
            await _execute(database, REFUSE_PUBLISHED_NOTES)
            assert (await _deliver(http, event, secret)).json()["outcome"] == "accepted"

            # Many sweeps, past the grace and past the duplicate window, while every note fails.
            await asyncio.sleep(window + 2.0)
            assert await unpublished_ids(database) == [event["id"]]
            redelivered = await _deliver(http, event, secret)
            assert redelivered.json()["outcome"] == "duplicate"
            assert len(await publishes_of(client, seen, event["id"])) == 1

            await _execute(database, ACCEPT_PUBLISHED_NOTES)
            await eventually(lambda: _none_unpublished(database), what="the retried note written")
            await asyncio.sleep(window)
            assert len(await publishes_of(client, seen, event["id"])) == 1
        assert [p.message.event_id for p in await published_events(js, namespace)] == [event["id"]]
    finally:
        await database.dispose()


async def test_a_note_still_refused_at_shutdown_leaves_a_republish_under_the_same_message_id(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    """What the process could not note before it stopped, the next one's sweep publishes again:
    the same Nats-Msg-Id, so JetStream drops it inside its window (consumers' inboxes after it)."""
    await provision_streams(js, Namespace(namespace), StreamSettings(), (STRIPE,))
    secret = new_secret()
    event = stripe_event()
    database = Database(database_url)
    try:
        async with every_publish(nats_server.url, namespace) as (client, seen):
            first = webhooks_settings(
                database_url, nats_server.url, namespace, platform_signing_secrets=[secret]
            )
            async with webhooks_serving(first) as base_url, httpx.AsyncClient(base_url=base_url) as http:
                await _execute(database, REFUSE_PUBLISHED_NOTES)
                assert (await _deliver(http, event, secret)).json()["outcome"] == "accepted"
            # The first process stopped in bounded time, its note unwritten.
            assert await unpublished_ids(database) == [event["id"]]
            await _execute(database, ACCEPT_PUBLISHED_NOTES)

            second = webhooks_settings(
                database_url,
                nats_server.url,
                namespace,
                platform_signing_secrets=[secret],
                sweep_interval_seconds=0.1,
                sweep_grace_seconds=0.1,
            )
            async with webhooks_serving(second):
                await eventually(lambda: _none_unpublished(database), what="the sweep of the next process")

            publishes = await publishes_of(client, seen, event["id"])
            assert len(publishes) == 2
            assert publishes[0].data == publishes[1].data
        assert [p.message.event_id for p in await published_events(js, namespace)] == [event["id"]]
    finally:
        await database.dispose()


async def _none_unpublished(database: Database) -> bool:
    return await unpublished_ids(database) == []
