"""How far simulated time has been worked off: "every timer due by T has fired and been published".

In simulation the scheduler writes that instant T into the shared clock bucket (key
``scheduler_fired_through``, next to the clock's ``now``) once every schedule and cancel command
published so far has been applied, no timer due by T is pending and its outbox is empty. The value
only ever grows, whichever replica writes it. ``wait_for_scheduler`` is what
``rosca clock advance --wait`` calls after moving the clock.
"""

import contextlib
from collections.abc import Sequence
from datetime import datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from services.runtime.clock import CLOCK_BUCKET
from services.runtime.naming import Namespace

FIRED_THROUGH_KEY = "scheduler_fired_through"


class FiredThrough:
    """The scheduler's side: records progress, never moving it backwards."""

    def __init__(
        self, js: JetStreamContext, namespace: Namespace, command_consumers: Sequence[tuple[str, str]]
    ) -> None:
        self._js = js
        self._namespace = namespace
        self._bucket = namespace.bucket(CLOCK_BUCKET)
        self._command_consumers = command_consumers
        self._kv: KeyValue | None = None

    async def commands_applied(self) -> bool:
        """True when the scheduler's consumers, given as (stream, durable), have nothing in hand."""
        for stream, durable in self._command_consumers:
            try:
                info = await self._js.consumer_info(
                    self._namespace.stream(stream), self._namespace.durable(durable)
                )
            except NotFoundError:
                return False  # not subscribed yet: what it will find is not applied
            if info.num_pending or info.num_ack_pending:
                return False
        return True

    async def record(self, moment: datetime) -> None:
        if self._kv is None:
            self._kv = await self._js.key_value(self._bucket)
        value = moment.isoformat().encode()
        while True:
            try:
                entry = await self._kv.get(FIRED_THROUGH_KEY)
            except KeyNotFoundError:
                with contextlib.suppress(KeyWrongLastSequenceError):
                    await self._kv.create(FIRED_THROUGH_KEY, value)
                    return
                continue
            if entry.value and datetime.fromisoformat(entry.value.decode()) >= moment:
                return
            try:
                await self._kv.update(FIRED_THROUGH_KEY, value, last=entry.revision)
            except KeyWrongLastSequenceError:
                continue  # another replica recorded meanwhile: compare with theirs
            return


async def fired_through(js: JetStreamContext, namespace: str = "") -> datetime | None:
    """The instant the scheduler has worked off simulated time to, or None before its first record."""
    kv = await js.key_value(Namespace(namespace).bucket(CLOCK_BUCKET))
    try:
        entry = await kv.get(FIRED_THROUGH_KEY)
    except KeyNotFoundError:
        return None
    return datetime.fromisoformat(entry.value.decode()) if entry.value else None


async def wait_for_scheduler(js: JetStreamContext, moment: datetime, namespace: str = "") -> datetime:
    """Wait until every timer due by ``moment`` has fired and been published to JetStream.

    Returns the instant the scheduler has recorded (at least ``moment``). It waits for as long as
    it takes: bound it with ``asyncio.timeout``, since with no scheduler running it never returns.
    """
    kv = await js.key_value(Namespace(namespace).bucket(CLOCK_BUCKET))
    watcher = await kv.watch(FIRED_THROUGH_KEY)
    try:
        while True:
            # The watcher replays the latest value, then a None marker, then each update.
            try:
                entry = await watcher.updates(timeout=60.0)  # type: ignore[no-untyped-call]
            except nats.errors.TimeoutError:
                continue
            if entry is not None and entry.value:
                reached = datetime.fromisoformat(entry.value.decode())
                if reached >= moment:
                    return reached
    finally:
        with contextlib.suppress(Exception):
            await watcher.stop()  # type: ignore[no-untyped-call]
