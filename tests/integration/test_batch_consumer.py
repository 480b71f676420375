"""The runtime's batch mode on real NATS JetStream and Postgres: a batch commits in one transaction
and is acked; a batch that fails is handled again one message at a time, so a poison message
dead-letters alone; replicas on one durable apply each message once."""

import asyncio
import json

import pytest
from nats.js import JetStreamContext
from sqlalchemy import insert, text

from contracts.deadletter import MessageDeadLettered
from services.runtime.clock import SystemClock
from services.runtime.consumer import BatchHandling, Consumer, ConsumerPolicy, Delivered, MessageRouter
from services.runtime.db import Database
from services.runtime.naming import Namespace
from tests.integration.helpers import (
    applied_values,
    dead_letters_of_probe,
    eventually,
    prepare,
    probe_consumer_idle,
    probe_message,
    publish_probe,
    running,
)
from tests.integration.probe.handlers import PoisonError, on_probe_recorded
from tests.integration.probe.schema import POISON, PROBE_STREAM, PROBE_SUBJECT, ProbeRecorded, effects

pytestmark = pytest.mark.integration

DUPLICATE_WINDOW = 1.0


async def record_all(batch: list[Delivered[ProbeRecorded]], handling: BatchHandling[None]) -> None:
    """What ``on_probe_recorded`` does to each, in one statement."""
    if any(delivered.message.value == POISON for delivered in batch):
        raise PoisonError("this batch holds a message that can never be applied")
    await handling.session.execute(
        insert(effects),
        [{"message_id": d.message.message_id, "value": d.message.value} for d in batch],
    )


batch_router = MessageRouter(service="probe")
batch_router.subscriber(PROBE_SUBJECT, stream=PROBE_STREAM.name, durable="probe-recorder", batch=record_all)(
    on_probe_recorded
)


@pytest.fixture
async def database(database_url: str) -> Database:
    return Database(database_url)


def batch_consumer(
    js: JetStreamContext, database: Database, namespace: str, *, max_messages: int = 200, max_deliver: int = 5
) -> Consumer:
    return Consumer(
        "probe",
        batch_router.subscriptions[0],
        js=js,
        database=database,
        namespace=Namespace(namespace),
        clock=SystemClock(),
        policy=ConsumerPolicy(
            max_deliver=max_deliver,
            backoff_seconds=(0.1,),
            ack_wait_seconds=5.0,
            batch_max_messages=max_messages,
        ),
    )


async def publish_copy(js: JetStreamContext, namespace: str, message: ProbeRecorded, copy_id: str) -> None:
    """The same message again, past JetStream's duplicate check (another ``Nats-Msg-Id``)."""
    await js.publish(
        Namespace(namespace).subject(PROBE_SUBJECT),
        message.model_dump_json().encode(),
        headers={"Nats-Msg-Id": copy_id},
    )


async def transactions_of(database: Database, table: str) -> int:
    """How many transactions wrote the table's rows (a row's ``xmin`` is the one that inserted it)."""
    async with database.transaction() as session:
        return int(await session.scalar(text(f"SELECT count(DISTINCT xmin::text) FROM {table}")) or 0)


async def test_waiting_messages_commit_in_one_transaction_each_once_and_are_acked(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    messages = [probe_message(f"value-{n}") for n in range(30)]
    for message in messages:
        await publish_probe(js, namespace, message)
    await publish_copy(js, namespace, messages[3], "copy-of-3")  # in the same batch: a duplicate
    await publish_copy(js, namespace, messages[3], "copy-of-3-again")

    async with running(batch_consumer(js, database, namespace)):
        await eventually(lambda: probe_consumer_idle(js, namespace), what="every message acked")

    assert await applied_values(database) == [m.value for m in messages]
    assert await transactions_of(database, "effects") == 1
    assert await transactions_of(database, "inbox") == 1


async def test_a_poison_message_in_a_batch_dead_letters_alone_and_the_others_commit(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    dead_letters = await dead_letters_of_probe(js, namespace)
    first, poison, third = probe_message("first"), probe_message(POISON), probe_message("third")
    for message in (first, poison, third):
        await publish_probe(js, namespace, message)
    await publish_copy(js, namespace, first, "copy-of-first")

    async with running(batch_consumer(js, database, namespace, max_deliver=3)):
        dead = MessageDeadLettered.model_validate_json((await dead_letters.next_msg(timeout=15)).data)
        await eventually(lambda: probe_consumer_idle(js, namespace), what="every message settled")
        with pytest.raises(asyncio.TimeoutError):
            await dead_letters.next_msg(timeout=0.5)  # one dead letter, the poison's

    assert await applied_values(database) == ["first", "third"]
    assert dead.deliveries == 3
    assert dead.error_type == "PoisonError"
    assert dead.causation_id == poison.message_id
    assert json.loads(dead.original_payload)["value"] == POISON


async def test_two_replicas_in_batch_mode_on_one_durable_apply_every_message_once(
    js: JetStreamContext, namespace: str, database_url: str, database: Database
) -> None:
    await prepare(js, namespace, database_url, DUPLICATE_WINDOW)
    messages = [probe_message(f"value-{n}") for n in range(400)]

    async def publish_all() -> None:
        for n, message in enumerate(messages):
            await publish_probe(js, namespace, message)
            if n % 10 == 0:  # copies past the duplicate window, which either replica may get
                await publish_copy(js, namespace, message, f"copy-{n}")

    replicas = [batch_consumer(js, database, namespace, max_messages=25) for _ in range(2)]
    async with running(*replicas):
        await publish_all()
        await eventually(lambda: probe_consumer_idle(js, namespace), timeout=60, what="every message acked")

    assert sorted(await applied_values(database)) == sorted(m.value for m in messages)
    assert await transactions_of(database, "effects") < len(messages)  # in batches, not one by one
