"""A consumer with several messages in flight (``max_in_flight``): each message handled, acked, put
off or dead-lettered on its own, never more at once than the limit, and a crash loses none."""

import asyncio
import signal
from dataclasses import dataclass, field

import pytest
from nats.js import JetStreamContext
from sqlalchemy import insert

from services.runtime.consumer import Handling, MessageRouter, RetryLater
from services.runtime.db import Database
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
)
from tests.integration.probe.schema import POISON, PROBE_STREAM, PROBE_SUBJECT, ProbeRecorded, effects

pytestmark = pytest.mark.integration

DUPLICATE_WINDOW = 1.0
IN_FLIGHT = 4


@dataclass
class Gate:
    """Holds the message ``held`` until the test opens it; counts how many handlers run at once."""

    held: str = ""
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    running: int = 0
    peak: int = 0
    put_off: set[str] = field(default_factory=set)


router = MessageRouter(service="probe")


@router.subscriber(PROBE_SUBJECT, stream=PROBE_STREAM.name, durable="probe-recorder", max_in_flight=IN_FLIGHT)
async def record_in_flight(message: ProbeRecorded, handling: Handling[Gate]) -> None:
    gate = handling.dependencies
    gate.running += 1
    gate.peak = max(gate.peak, gate.running)
    try:
        if message.value == POISON:
            raise ValueError("this message can never be applied")
        if message.value.startswith("later") and message.value not in gate.put_off:
            gate.put_off.add(message.value)
            raise RetryLater(0.05, "the budget is busy")
        if message.value == gate.held:
            await gate.opened.wait()
        await asyncio.sleep(0.02)  # the wait on Stripe: others start meanwhile
        await handling.session.execute(
            insert(effects).values(message_id=message.message_id, value=message.value)
        )
    finally:
        gate.running -= 1


@pytest.fixture
async def database(database_url: str) -> Database:
    return Database(database_url)


async def test_messages_behind_a_slow_one_are_handled_and_acked_while_it_waits(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    gate = Gate(held="slow")
    values = ["slow", *(f"quick-{n}" for n in range(6))]
    for value in values:
        await publish_probe(js, namespace, probe_message(value))
    async with running(
        probe_consumer(js, database, namespace, router=router, ack_wait=30, dependencies=gate)
    ):
        # One at a time, nothing behind "slow" could be handled before it is let go.
        await eventually(lambda: _applied_count(database, 6))
        info = await probe_consumer_info(js, namespace)
        assert info.num_ack_pending == 1, "only the held message is unacked"
        assert sorted(await applied_values(database)) == [f"quick-{n}" for n in range(6)]
        gate.opened.set()
        await eventually(lambda: probe_consumer_idle(js, namespace))
    assert sorted(await applied_values(database)) == sorted(values)


async def test_never_more_messages_in_flight_than_the_limit(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    gate = Gate()
    for n in range(30):
        await publish_probe(js, namespace, probe_message(f"value-{n}"))
    async with running(probe_consumer(js, database, namespace, router=router, dependencies=gate)):
        await eventually(lambda: probe_consumer_idle(js, namespace), timeout=30)
    assert await count_effects(database) == 30
    assert gate.peak == IN_FLIGHT


async def test_a_failing_or_put_off_message_in_flight_loses_none_of_the_others(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    dead_letters = await dead_letters_of_probe(js, namespace)
    gate = Gate()
    values = [POISON, "later-1", *(f"value-{n}" for n in range(8)), "later-2"]
    for value in values:
        await publish_probe(js, namespace, probe_message(value))
    consumer = probe_consumer(js, database, namespace, router=router, max_deliver=3, dependencies=gate)
    async with running(consumer):
        await dead_letters.next_msg(timeout=15)
        await eventually(lambda: probe_consumer_idle(js, namespace), timeout=30)
    applied = await applied_values(database)
    assert sorted(applied) == sorted(v for v in values if v != POISON), "each once, the poison none"
    assert gate.put_off == {"later-1", "later-2"}


async def test_a_consumer_killed_with_messages_in_flight_loses_none_and_doubles_none(
    js: JetStreamContext, nats_server: NatsServer, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    values = [f"value-{n}" for n in range(8)]
    for value in values:
        await publish_probe(js, namespace, probe_message(value))
    common = {
        "nats_url": nats_server.url,
        "namespace": namespace,
        "database_url": database_url,
        "PROBE_IN_FLIGHT": str(IN_FLIGHT),
    }
    # Dies the instant a message commits, before any ack: the others of its fetch were mid-way,
    # some of them committed too (their commits were on their way to Postgres), none acked.
    with probe_process("consumer", **common, PROBE_CRASH_AFTER_COMMIT="1") as crashing:
        assert crashing.wait(15) == -signal.SIGKILL
    committed = await count_effects(database)
    assert 1 <= committed <= IN_FLIGHT
    info = await probe_consumer_info(js, namespace)
    assert info.delivered is not None
    assert info.delivered.consumer_seq == IN_FLIGHT, "a full fetch was in flight when it died"

    with probe_process("consumer", **common):
        await eventually(lambda: probe_consumer_idle(js, namespace), timeout=30)
    assert sorted(await applied_values(database)) == sorted(values), "the committed ones not again"
    info = await probe_consumer_info(js, namespace)
    assert info.delivered is not None
    assert info.delivered.consumer_seq == len(values) + IN_FLIGHT, "the fetch in flight came again"


async def _applied_count(database: Database, count: int) -> bool:
    return await count_effects(database) >= count
