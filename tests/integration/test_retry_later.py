"""A handler that says "not now" (``RetryLater``) gets its message back later, however many
deliveries that takes, and never a dead letter; the effect is applied once."""

from dataclasses import dataclass, field

import pytest
from nats.js import JetStreamContext

from services.runtime.consumer import Handling, MessageRouter, RetryLater
from services.runtime.db import Database
from tests.integration.helpers import (
    applied_values,
    dead_letters_of_probe,
    eventually,
    prepare,
    probe_consumer,
    probe_consumer_idle,
    probe_message,
    publish_probe,
    running,
    stream_messages,
)
from tests.integration.probe.schema import PROBE_STREAM, PROBE_SUBJECT, ProbeRecorded, effects

pytestmark = pytest.mark.integration


@dataclass
class NotBefore:
    """Puts each message off ``times`` times before applying it."""

    times: int
    seen: dict[str, int] = field(default_factory=dict)


router = MessageRouter(service="probe")


@router.subscriber(PROBE_SUBJECT, stream=PROBE_STREAM.name, durable="probe-recorder")
async def record_when_ready(message: ProbeRecorded, handling: Handling[NotBefore]) -> None:
    # Written first, so a put-off delivery's effect is rolled back with it.
    await handling.session.execute(
        effects.insert().values(message_id=message.message_id, value=message.value)
    )
    seen = handling.dependencies.seen
    seen[message.value] = seen.get(message.value, 0) + 1
    if seen[message.value] <= handling.dependencies.times:
        raise RetryLater(0.05, "the budget is busy")


async def test_a_message_put_off_more_often_than_max_deliver_is_applied_once_and_never_dead_lettered(
    js: JetStreamContext, namespace: str, database_url: str
) -> None:
    await prepare(js, namespace, database_url, 1.0)
    database = Database(database_url)
    dead_letters = await dead_letters_of_probe(js, namespace)
    waiting = NotBefore(times=7)
    consumer = probe_consumer(js, database, namespace, router=router, max_deliver=3, dependencies=waiting)
    async with running(consumer):
        for value in ("first", "second"):
            await publish_probe(js, namespace, probe_message(value))
        await eventually(lambda: _applied(database, 2), timeout=30)
        await eventually(lambda: probe_consumer_idle(js, namespace))
    assert sorted(await applied_values(database)) == ["first", "second"]
    assert waiting.seen == {"first": 8, "second": 8}
    # Three deliveries a copy at most: the spent ones were handed back as fresh copies.
    assert await stream_messages(js, namespace) > 2
    with pytest.raises(TimeoutError):
        await dead_letters.next_msg(timeout=0.5)
    await database.dispose()


async def _applied(database: Database, count: int) -> bool:
    return len(await applied_values(database)) == count
