"""Proof that outbox, inbox, redelivery and dead letters hold, on real NATS JetStream and Postgres."""

import asyncio
import json
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import nats
import pytest
from nats.errors import DrainTimeoutError
from nats.js import JetStreamContext
from sqlalchemy import text

from contracts.deadletter import MessageDeadLettered
from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.consumer import Handling, MessageRouter
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.outbox import add_to_outbox
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import NatsServer
from tests.integration.helpers import (
    applied_values,
    count_effects,
    dead_letters_of_probe,
    eventually,
    prepare,
    probe_consumer,
    probe_consumer_idle,
    probe_consumer_info,
    probe_message,
    probe_process,
    publish_probe,
    running,
    stream_messages,
)
from tests.integration.probe.schema import POISON, PROBE_STREAM, PROBE_SUBJECT, ProbeRecorded, effects

pytestmark = pytest.mark.integration

DUPLICATE_WINDOW = 1.0


@pytest.fixture
async def database(database_url: str) -> Database:
    return Database(database_url)


async def test_relay_killed_after_publishing_before_marking_sent_is_applied_once(
    js: JetStreamContext, nats_server: NatsServer, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    message = probe_message("pay the pot")
    async with database.transaction() as session:
        await add_to_outbox(session, PROBE_SUBJECT, message)
        # Holds the relay between its publish and its "mark published" UPDATE.
        await session.execute(
            text(
                "CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(120); RETURN NEW; END $$"
            )
        )
        await session.execute(
            text("CREATE TRIGGER stall_marking BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION stall()")
        )

    common = {"nats_url": nats_server.url, "namespace": namespace, "database_url": database_url}
    with probe_process("relay", **common) as relay:
        await eventually(lambda: _has_messages(js, namespace, 1), what="the relay published")
        relay.send_signal(signal.SIGKILL)
        relay.wait(10)

    async with database.transaction() as session:
        # What Postgres does once it notices the dead client: the half-done UPDATE rolls back.
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'UPDATE outbox%'"
            )
        )
        await session.execute(text("DROP TRIGGER stall_marking ON outbox"))
        unpublished = await session.scalar(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
    assert unpublished == 1, "the kill must land after the publish and before the mark"

    await asyncio.sleep(DUPLICATE_WINDOW + 0.5)  # so JetStream no longer drops the republish
    async with running(probe_consumer(js, database, namespace)):
        with probe_process("relay", **common):
            await eventually(lambda: _has_messages(js, namespace, 2), what="the restarted relay republished")
            await eventually(lambda: _all_published(database), what="the outbox row is marked published")
        await eventually(lambda: probe_consumer_idle(js, namespace), what="the consumer took both copies")
    assert await applied_values(database) == ["pay the pot"]


async def test_duplicate_publish_beyond_the_duplicate_window_is_applied_once(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    message = probe_message("once")
    await publish_probe(js, namespace, message)
    await asyncio.sleep(DUPLICATE_WINDOW + 0.5)
    await publish_probe(js, namespace, message)
    assert await stream_messages(js, namespace) == 2, "JetStream must have stored both copies"

    async with running(probe_consumer(js, database, namespace)):
        await eventually(lambda: probe_consumer_idle(js, namespace))
    assert await applied_values(database) == ["once"]


async def test_redelivery_to_a_second_replica_while_the_first_still_works_is_applied_once(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    release_first = asyncio.Event()
    calls = 0
    slow_router = MessageRouter(service="probe")

    @slow_router.subscriber(PROBE_SUBJECT, stream=PROBE_STREAM.name, durable="probe-recorder")
    async def on_probe_recorded(message: ProbeRecorded, handling: Handling[None]) -> None:
        nonlocal calls
        calls += 1
        await handling.session.execute(
            effects.insert().values(message_id=message.message_id, value=message.value)
        )
        await release_first.wait()  # outlives ack_wait, so JetStream redelivers meanwhile

    replicas = [probe_consumer(js, database, namespace, router=slow_router) for _ in range(2)]
    async with running(*replicas):
        await publish_probe(js, namespace, probe_message("slow"))
        await eventually(lambda: _redelivered(js, namespace), what="JetStream redelivered the message")
        release_first.set()
        await eventually(lambda: probe_consumer_idle(js, namespace))
    assert calls == 1, "the second replica must find the inbox row and skip the handler"
    assert await applied_values(database) == ["slow"]


@dataclass(frozen=True)
class Prefix:
    text: str


prefixing_router = MessageRouter(service="probe")


@prefixing_router.subscriber(PROBE_SUBJECT, stream=PROBE_STREAM.name, durable="probe-recorder")
async def record_with_prefix(message: ProbeRecorded, handling: Handling[Prefix]) -> None:
    value = f"{handling.dependencies.text}{message.value}"
    await handling.session.execute(effects.insert().values(message_id=message.message_id, value=value))


async def test_a_handler_receives_the_dependencies_given_when_its_consumer_was_built(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    consumer = probe_consumer(js, database, namespace, router=prefixing_router, dependencies=Prefix("dep:"))
    async with running(consumer):
        await publish_probe(js, namespace, probe_message("value"))
        await eventually(lambda: probe_consumer_idle(js, namespace))
    assert await applied_values(database) == ["dep:value"]


async def test_consumer_crashing_before_ack_gets_redelivery_and_applies_once(
    js: JetStreamContext, nats_server: NatsServer, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    await publish_probe(js, namespace, probe_message("crash"))
    common = {"nats_url": nats_server.url, "namespace": namespace, "database_url": database_url}
    with probe_process("consumer", **common, PROBE_CRASH_AFTER_COMMIT="1") as crashing:
        assert crashing.wait(15) == -signal.SIGKILL
    assert await count_effects(database) == 1, "the effect committed before the crash"

    with probe_process("consumer", **common):
        await eventually(lambda: probe_consumer_idle(js, namespace))
    delivered = (await probe_consumer_info(js, namespace)).delivered
    assert delivered is not None
    assert (delivered.stream_seq, delivered.consumer_seq) == (1, 2), "one message, two deliveries"
    assert await applied_values(database) == ["crash"]


async def test_a_stopped_consumer_leaves_nothing_for_the_connections_drain_to_wait_on(
    js: JetStreamContext, nats_server: NatsServer, namespace: str, database_url: str, database: Database
) -> None:
    # A service stops by cancelling its consumers, then draining its connection: a pull
    # subscription left behind would hold that drain until its timeout on every stop.
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    reported: list[Exception] = []

    async def record(error: Exception) -> None:
        reported.append(error)

    connection = await nats.connect(nats_server.url, connect_timeout=2, drain_timeout=2, error_cb=record)
    try:
        async with running(probe_consumer(connection.jetstream(), database, namespace)):
            await publish_probe(js, namespace, probe_message("before-stop"))
            await eventually(lambda: probe_consumer_idle(js, namespace))
            await asyncio.sleep(3)  # idle fetches: nats-py takes their replies off the queue unfinished
        await connection.drain()
    finally:
        await connection.close()
    assert not [error for error in reported if isinstance(error, DrainTimeoutError)]
    assert await applied_values(database) == ["before-stop"]


async def test_poison_message_is_dead_lettered_with_its_error_and_the_rest_flow_on(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    dead_letters = await dead_letters_of_probe(js, namespace)
    poison = probe_message(POISON)
    await publish_probe(js, namespace, poison)
    for value in ("first", "second", "third"):
        await publish_probe(js, namespace, probe_message(value))

    async with running(probe_consumer(js, database, namespace, max_deliver=3)):
        dead = MessageDeadLettered.model_validate_json((await dead_letters.next_msg(timeout=15)).data)
        await eventually(lambda: probe_consumer_idle(js, namespace))

    assert await applied_values(database) == ["first", "second", "third"]
    assert dead.deliveries == 3
    assert dead.error_type == "PoisonError"
    assert "can never be applied" in dead.error_message
    assert dead.causation_id == poison.message_id
    assert json.loads(dead.original_payload)["value"] == POISON
    assert dead.original_headers["Nats-Msg-Id"] == str(poison.message_id)


async def test_malformed_message_is_dead_lettered_at_once(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    dead_letters = await dead_letters_of_probe(js, namespace)
    await js.publish(Namespace(namespace).subject(PROBE_SUBJECT), b'{"value": 42, "surprise": true}')
    async with running(probe_consumer(js, database, namespace)):
        dead = MessageDeadLettered.model_validate_json((await dead_letters.next_msg(timeout=15)).data)
    assert dead.deliveries == 1
    assert dead.error_type == "ValidationError"
    assert dead.original_payload == '{"value": 42, "surprise": true}'
    assert await count_effects(database) == 0


async def test_two_processes_see_one_advance_of_the_simulated_clock(
    js: JetStreamContext, nats_server: NatsServer, namespace: str
) -> None:
    await provision_streams(js, Namespace(namespace), StreamSettings(), definitions=())
    common = {"nats_url": nats_server.url, "namespace": namespace}
    with probe_process("clock", **common) as first, probe_process("clock", **common) as second:
        # Each printed its reading on start; both read one shared instant.
        advanced = await advance_simulated_clock(
            js, timedelta(days=2), bucket=Namespace(namespace).bucket(CLOCK_BUCKET)
        )
        for reader in (first, second):
            assert reader.stdin is not None
            reader.stdin.write(f"{advanced.isoformat()}\n")
            reader.stdin.flush()
        seen = [reader.stdout.readline().split()[-1] for reader in (first, second) if reader.stdout]
    assert [datetime.fromisoformat(moment) for moment in seen] == [advanced, advanced]
    assert advanced > datetime.now(UTC) + timedelta(days=1)


async def _has_messages(js: JetStreamContext, namespace: str, count: int) -> bool:
    return await stream_messages(js, namespace) >= count


async def _all_published(database: Database) -> bool:
    async with database.transaction() as session:
        unpublished: int = await session.scalar(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        )
    return unpublished == 0


async def _redelivered(js: JetStreamContext, namespace: str) -> bool:
    try:
        info = await probe_consumer_info(js, namespace)
    except Exception:
        return False
    return bool((info.num_redelivered or 0) >= 1)
