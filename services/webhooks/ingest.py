"""Store, then publish: a verified event becomes durable in Postgres and on JetStream, once.

The row commits first (unique on event id), then the message goes to JetStream with
``Nats-Msg-Id`` = event id, then the row is marked published. Whatever step fails, nothing blocks a
retry: a row stored but not published is published by the event's next delivery (Stripe retries
anything but 2xx), by the sweep, or by a replay; publishing it twice is harmless, since JetStream
drops the repeated ``Nats-Msg-Id`` and every inbox the repeated ``message_id``.
"""

import asyncio
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import nats.errors
import sqlalchemy.exc
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from contracts import subjects
from contracts.stripe_events import StripeEventReceived
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.webhooks import db
from services.webhooks.batching import Batcher
from services.webhooks.metrics import PUBLISHED_BY_SWEEP
from services.webhooks.normalize import normalize
from services.webhooks.verification import VerifiedEvent

log = logging.getLogger(__name__)

# What "Postgres or NATS is not there" looks like; anything else is a bug and stays a 500.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,
    OSError,
    sqlalchemy.exc.DBAPIError,
    sqlalchemy.exc.TimeoutError,
    nats.errors.Error,
)


class IngestUnavailableError(Exception):
    """Postgres or JetStream could not make the event durable in time: the sender should retry."""


class NatsDisconnectedError(ConnectionError):
    pass


class Outcome(StrEnum):
    accepted = "accepted"
    """First delivery: stored and published."""
    completed = "completed"
    """Stored by an earlier delivery that could not publish it; published now."""
    duplicate = "duplicate"
    """Already stored and published: nothing new was published."""


class EventPublisher:
    """Publishes normalized events; refuses at once while NATS is disconnected.

    nats-py buffers what is published while it reconnects and sends it later; a delivery answered
    503 must not leave such a message behind, so a disconnected client is never published to.
    """

    def __init__(self, client: Callable[[], NatsClient | None], namespace: Namespace) -> None:
        self._client = client
        self._namespace = namespace
        self._js: tuple[NatsClient, JetStreamContext] | None = None

    async def publish(self, message: StripeEventReceived, *, ack_wait_seconds: float) -> bool:
        """Publish ``message``; True if JetStream already had it (same ``Nats-Msg-Id`` in its window)."""
        client = self._client()
        if client is None or not client.is_connected:
            raise NatsDisconnectedError("NATS is not connected")
        if self._js is None or self._js[0] is not client:
            self._js = (client, client.jetstream())
        headers = message_headers(message)
        headers["Nats-Msg-Id"] = message.event_id
        acknowledgement = await self._js[1].publish(
            self._namespace.subject(subjects.stripe_event(message.event_type)),
            message.model_dump_json().encode(),
            headers=headers,
            timeout=ack_wait_seconds,
        )
        return bool(acknowledgement.duplicate)


@dataclass(frozen=True)
class ReplayResult:
    selected: int
    published: int
    already_in_stream: int


_MARK_LINGER_SECONDS = 0.02
_MARK_BATCH = 1_000


class Stored(StrEnum):
    new = "new"
    unpublished = "unpublished"
    published = "published"


class EventIngest:
    def __init__(self, database: Database, publisher: EventPublisher, *, timeout: float) -> None:
        self._database = database
        self._publisher = publisher
        self._timeout = timeout
        self._store = Batcher(self._store_batch, max_batch=500, writers=2, name="store-events")
        # Published here (PubAck received) and not yet noted in the table; insertion-ordered.
        self._published: dict[str, None] = {}
        self._marker: asyncio.Task[None] | None = None

    async def ingest(self, event: VerifiedEvent, message: StripeEventReceived, source: str) -> Outcome:
        """Make ``event`` durable in Postgres and on JetStream, or raise ``IngestUnavailableError``."""
        try:
            async with asyncio.timeout(self._timeout):
                stored = await self._store.submit(db.NewEvent(event, source))
                if stored is Stored.published or event.event_id in self._published:
                    return Outcome.duplicate
                await self._publisher.publish(message, ack_wait_seconds=self._timeout)
        except UNAVAILABLE_ERRORS as error:
            raise IngestUnavailableError(_one_line(error)) from error
        self._mark_published(event.event_id)
        return Outcome.accepted if stored is Stored.new else Outcome.completed

    async def close(self) -> None:
        await self._store.close()
        if self._marker is not None:
            await self._marker

    async def publish_unpublished(self, grace: timedelta, limit: int = 200) -> int:
        """The sweep: publish events stored at least ``grace`` ago whose publishing never finished."""
        published: list[str] = []
        async with self._database.engine.begin() as connection:
            for stored in await db.claim_unpublished(connection, grace, limit):
                try:
                    await self._publisher.publish(_message_of(stored), ack_wait_seconds=self._timeout)
                except Exception as error:
                    await db.record_publish_failure(connection, stored.event_id, _one_line(error))
                    log.warning("sweep could not publish %s: %s", stored.event_id, _one_line(error))
                    break
                published.append(stored.event_id)
            if published:
                await db.mark_published(connection, published)
        PUBLISHED_BY_SWEEP.inc(len(published))
        return len(published)

    async def replay(self, selection: db.EventSelection, page_size: int = 500) -> ReplayResult:
        """Publish the selected stored events again, oldest first; receivers see duplicates."""
        try:
            return await self._replay(selection, page_size)
        except UNAVAILABLE_ERRORS as error:
            raise IngestUnavailableError(_one_line(error)) from error

    async def known_accounts(self) -> list[str]:
        try:
            async with asyncio.timeout(self._timeout), self._database.engine.connect() as connection:
                return await db.known_accounts(connection)
        except UNAVAILABLE_ERRORS as error:
            raise IngestUnavailableError(_one_line(error)) from error

    async def _replay(self, selection: db.EventSelection, page_size: int) -> ReplayResult:
        selected = published = already = 0
        after = None
        while True:
            async with self._database.engine.connect() as connection:
                page = await db.select_events(connection, selection, after=after, limit=page_size)
            if not page:
                break
            for _created, stored in page:
                duplicate = await self._publisher.publish(_message_of(stored), ack_wait_seconds=self._timeout)
                already += duplicate
                published += not duplicate
            selected += len(page)
            async with self._database.engine.begin() as connection:
                await db.mark_published(connection, [stored.event_id for _, stored in page])
            after = (page[-1][0], page[-1][1].event_id)
        return ReplayResult(selected=selected, published=published, already_in_stream=already)

    async def _store_batch(self, batch: list[db.NewEvent]) -> list[Stored]:
        # Sorted, so that two batches holding the same ids lock them in the same order.
        ordered = sorted(batch, key=lambda new: new.event.event_id)
        async with self._database.engine.begin() as connection:
            inserted = await db.insert_new(connection, ordered)
            others = [new.event.event_id for new in batch if new.event.event_id not in inserted]
            published = await db.published_among(connection, others) if others else set()
        outcomes: list[Stored] = []
        for new in batch:
            event_id = new.event.event_id
            if event_id in inserted:
                inserted.discard(event_id)  # the same event twice in one batch: new only once
                outcomes.append(Stored.new)
            else:
                outcomes.append(Stored.published if event_id in published else Stored.unpublished)
        return outcomes

    def _mark_published(self, event_id: str) -> None:
        """Note, soon and in bulk, that the event is published; the delivery does not wait for it.

        The event is durable in both places already: should the note be lost, the sweep publishes
        the event once more, which JetStream and the inboxes drop.
        """
        self._published[event_id] = None
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_soon(), name="mark-published")

    async def _mark_soon(self) -> None:
        # A short wait gathers the marks of many deliveries into one statement.
        await asyncio.sleep(_MARK_LINGER_SECONDS)
        while self._published:
            event_ids = list(itertools.islice(self._published, _MARK_BATCH))
            try:
                async with asyncio.timeout(self._timeout), self._database.engine.begin() as connection:
                    await db.mark_published(connection, event_ids)
            except UNAVAILABLE_ERRORS as error:
                log.warning("could not mark %d events published: %s", len(event_ids), _one_line(error))
            for event_id in event_ids:
                del self._published[event_id]


def _message_of(stored: db.StoredEvent) -> StripeEventReceived:
    return normalize(json.loads(stored.raw_body))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
