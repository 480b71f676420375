"""Store, then publish: a verified event becomes durable in Postgres and on JetStream, once.

The row commits first (unique on event id), then the message goes to JetStream with
``Nats-Msg-Id`` = event id, then the row is marked published. Whatever step fails, nothing blocks a
retry: a row stored but not published is published by the event's next delivery (Stripe retries
anything but 2xx), by the sweep, or by a replay; publishing it twice is harmless, since JetStream
drops the repeated ``Nats-Msg-Id`` and every inbox the repeated ``message_id``.

Harmless, but not free, and only JetStream's duplicate window keeps it out of the stream: so this
process publishes an event once. Deliveries of one event arriving together share one ingest, and an
event acknowledged by JetStream is held as published here until its row says so (the write is
retried, and neither a redelivery nor the sweep publishes it meanwhile). Only an event whose PubAck
never came back, or whose note was still unwritten when the process stopped, is published again,
under the same ``Nats-Msg-Id``.
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
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

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

    Every other service publishes through the transactional outbox (``services.runtime.outbox``):
    the message row commits with the state change and a relay publishes it later. The gateway
    publishes directly instead, because Stripe waits for the answer: an outbox would put a relay
    (a NOTIFY, a poll, a second transaction) between the commit and the PubAck of every event, or
    answer 200 before the event is on the stream. It keeps the outbox's guarantees by the same
    means: the event row commits first (it is the outbox row: ``published_at`` null until the
    PubAck), the message carries ``Nats-Msg-Id`` = event id, and the sweep publishes any row left
    unpublished, as the relay would.

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
# Backoff of a failed "published" note: from 50 ms up to 2 s between attempts, until it is written.
_MARK_RETRY_WAIT = wait_exponential(multiplier=0.05, max=2.0)


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
        # Events being ingested now, each by its first delivery; what it raised (None: done) is the
        # result, so a failure nobody else waited for is not reported as never retrieved.
        self._in_flight: dict[str, asyncio.Future[BaseException | None]] = {}
        # Published here (PubAck received) and not yet noted in the table; insertion-ordered.
        self._published: dict[str, None] = {}
        self._marker: asyncio.Task[None] | None = None
        self._closing = False

    async def ingest(self, event: VerifiedEvent, message: StripeEventReceived, source: str) -> Outcome:
        """Make ``event`` durable in Postgres and on JetStream, or raise ``IngestUnavailableError``.

        A delivery of an event that another one is ingesting right now (Stripe retried while the
        first attempt was still in flight) waits for that one and publishes nothing itself.
        """
        event_id = event.event_id
        ongoing = self._in_flight.get(event_id)
        if ongoing is not None:
            return await self._outcome_of_ongoing(ongoing)
        ongoing = asyncio.get_running_loop().create_future()
        self._in_flight[event_id] = ongoing
        failure: BaseException | None = None
        try:
            return await self._ingest(event, message, source)
        except BaseException as error:
            failure = error
            raise
        finally:
            del self._in_flight[event_id]
            ongoing.set_result(failure)

    async def close(self) -> None:
        await self._store.close()
        # The marker stops retrying; what it could not note yet, the next sweep publishes again.
        self._closing = True
        if self._marker is not None:
            await self._marker

    async def publish_unpublished(self, grace: timedelta, limit: int = 200) -> int:
        """The sweep: publish events stored at least ``grace`` ago whose publishing never finished.

        Events this process has published and not yet noted are left out: JetStream has them.
        """
        published: list[str] = []
        try:
            async with self._database.engine.begin() as connection:
                claimed = await db.claim_unpublished(
                    connection, grace, limit, excluding=list(self._published)
                )
                for stored in claimed:
                    try:
                        await self._publisher.publish(_message_of(stored), ack_wait_seconds=self._timeout)
                    except Exception as error:
                        await db.record_publish_failure(connection, stored.event_id, _one_line(error))
                        log.warning("sweep could not publish %s: %s", stored.event_id, _one_line(error))
                        break
                    published.append(stored.event_id)
                if published:
                    await db.mark_published(connection, published)
        except BaseException:
            self._mark_published(*published)
            raise
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

    async def _ingest(self, event: VerifiedEvent, message: StripeEventReceived, source: str) -> Outcome:
        try:
            async with asyncio.timeout(self._timeout):
                # Held as published before the read: its note may commit while the row is read,
                # and then neither the row read nor this process says "published" any more.
                noted_soon = event.event_id in self._published
                stored = await self._store.submit(db.NewEvent(event, source))
                if stored is Stored.published or noted_soon or event.event_id in self._published:
                    return Outcome.duplicate
                # Straight to JetStream, not through the runtime's outbox (why: ``EventPublisher``);
                # the committed row above is this event's outbox row, and the sweep its relay.
                await self._publisher.publish(message, ack_wait_seconds=self._timeout)
        except UNAVAILABLE_ERRORS as error:
            raise IngestUnavailableError(_one_line(error)) from error
        self._mark_published(event.event_id)
        return Outcome.accepted if stored is Stored.new else Outcome.completed

    async def _outcome_of_ongoing(self, ongoing: asyncio.Future[BaseException | None]) -> Outcome:
        try:
            # Shielded: this delivery giving up must not cancel the one it waits for.
            async with asyncio.timeout(self._timeout):
                failure = await asyncio.shield(ongoing)
        except TimeoutError as error:
            raise IngestUnavailableError(_one_line(error)) from error
        if failure is None:
            return Outcome.duplicate
        raise IngestUnavailableError(f"a concurrent delivery of this event failed: {_one_line(failure)}")

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
            page_ids = [stored.event_id for _, stored in page]
            try:
                async with self._database.engine.begin() as connection:
                    await db.mark_published(connection, page_ids)
            except BaseException:
                self._mark_published(*page_ids)
                raise
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

    def _mark_published(self, *event_ids: str) -> None:
        """Note, soon and in bulk, that the events are published; the delivery does not wait for it.

        Until the note is written (retried while Postgres refuses it), the events count as
        published here: a redelivery is answered as a duplicate and the sweep leaves them out.
        """
        if not event_ids:
            return
        self._published.update(dict.fromkeys(event_ids))
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._mark_soon(), name="mark-published")

    async def _mark_soon(self) -> None:
        # A short wait gathers the marks of many deliveries into one statement.
        await asyncio.sleep(_MARK_LINGER_SECONDS)
        while self._published:
            event_ids = list(itertools.islice(self._published, _MARK_BATCH))
            try:
                await self._write_marks(event_ids)
            except UNAVAILABLE_ERRORS as error:
                # Only when closing: the next sweep publishes these again, as the same messages.
                log.warning(
                    "%d published events not noted as such before stopping (%s); the next sweep "
                    "publishes them again under the same Nats-Msg-Id",
                    len(self._published),
                    _one_line(error),
                )
                return
            for event_id in event_ids:
                del self._published[event_id]

    async def _write_marks(self, event_ids: list[str]) -> None:
        def report(state: RetryCallState) -> None:
            if state.attempt_number == 1 or state.attempt_number % 10 == 0:
                error = state.outcome.exception() if state.outcome else None
                log.warning(
                    "could not mark %d events published (attempt %d, retrying): %s",
                    len(event_ids),
                    state.attempt_number,
                    _one_line(error) if error else "",
                )

        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(UNAVAILABLE_ERRORS),
            wait=_MARK_RETRY_WAIT,
            stop=lambda _state: self._closing,
            before_sleep=report,
            reraise=True,
        ):
            with attempt:
                async with asyncio.timeout(self._timeout), self._database.engine.begin() as connection:
                    await db.mark_published(connection, event_ids)


def _message_of(stored: db.StoredEvent) -> StripeEventReceived:
    return normalize(json.loads(stored.raw_body))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]
