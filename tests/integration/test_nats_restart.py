"""A consumer and a relay outlive a NATS restart: nothing is lost, nothing is applied twice."""

import asyncio
import tempfile
from pathlib import Path

import nats
import pytest

from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.outbox import OutboxRelay, add_to_outbox
from tests.infrastructure import NatsServer
from tests.integration.helpers import applied_values, eventually, prepare, probe_consumer, probe_message
from tests.integration.probe.schema import PROBE_SUBJECT

pytestmark = pytest.mark.integration


async def test_relay_and_consumer_carry_on_after_nats_restarts(database_url: str, namespace: str) -> None:
    with tempfile.TemporaryDirectory(prefix="rosca-nats-restart-") as store:
        server = NatsServer(Path(store))
        server.start()
        client = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        js = client.jetstream()
        await prepare(js, namespace, database_url, duplicate_window=120)
        database = Database(database_url)
        names = Namespace(namespace)
        consumer = probe_consumer(js, database, namespace, ack_wait=2)
        relay = OutboxRelay(database, js, names, batch_size=50, poll_seconds=0.5)
        tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
        try:
            async with database.transaction() as session:
                await add_to_outbox(session, PROBE_SUBJECT, probe_message("before"))
            await eventually(lambda: _values_are(database, ["before"]))

            server.stop()
            async with database.transaction() as session:
                await add_to_outbox(session, PROBE_SUBJECT, probe_message("during"))
            await asyncio.sleep(2)
            server.start()

            async with database.transaction() as session:
                await add_to_outbox(session, PROBE_SUBJECT, probe_message("after"))
            await eventually(lambda: _values_are(database, ["before", "during", "after"]), timeout=30)
            assert all(not task.done() for task in tasks), "relay and consumer must still be running"
            assert consumer.ready
        finally:
            for task in tasks:
                task.cancel()
            await client.close()
            server.stop()


async def _values_are(database: Database, expected: list[str]) -> bool:
    return sorted(await applied_values(database)) == sorted(expected)


async def test_consumer_recreates_its_durable_when_an_operator_deletes_it(
    database_url: str, namespace: str, nats_server: NatsServer
) -> None:
    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await prepare(js, namespace, database_url, duplicate_window=120)
    database = Database(database_url)
    names = Namespace(namespace)
    consumer = probe_consumer(js, database, namespace, ack_wait=2)
    task = asyncio.create_task(consumer.run())
    try:
        await js.publish(names.subject(PROBE_SUBJECT), probe_message("first").model_dump_json().encode())
        await eventually(lambda: _values_are(database, ["first"]))
        await js.delete_consumer(names.stream("PROBE"), names.durable("probe-recorder"))
        await js.publish(names.subject(PROBE_SUBJECT), probe_message("second").model_dump_json().encode())
        # A recreated durable starts from the stream's beginning: the inbox keeps "first" single.
        await eventually(lambda: _values_are(database, ["first", "second"]), timeout=30)
        assert not task.done()
    finally:
        task.cancel()
        await client.close()
