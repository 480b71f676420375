"""Transactional outbox: a message commits with the state change; a relay publishes it afterwards.

The relay publishes each row with ``Nats-Msg-Id = message_id`` and marks it published only after
JetStream's PubAck, so a crash between the two republishes the same id: JetStream drops it inside
the duplicate window, and the consumers' inbox drops it after. Postgres NOTIFY (sent at commit by
a trigger) wakes the relay at once; a slow poll is only the safety net.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any, cast

import psycopg
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy import BigInteger, Row, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.messages import Message
from services.runtime.db import Database, libpq_url
from services.runtime.metrics import OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED
from services.runtime.naming import Namespace
from services.runtime.tables import OUTBOX_CHANNEL, outbox

log = logging.getLogger(__name__)

# As long as nats-py waits for a PubAck by default.
PUBACK_TIMEOUT_SECONDS = 5.0

CORRELATION_HEADER = "Rosca-Correlation-Id"
CAUSATION_HEADER = "Rosca-Causation-Id"
TYPE_HEADER = "Rosca-Message-Type"

# Built once, run with each row's values: building a statement and its cache key on every call cost
# as much CPU as running it (benchmarks/README.md, "Payouts latency").
_QUEUE = insert(outbox)
# The ids as one array (``= ANY``): one statement text whatever their number.
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    .values(published_at=func.now(), publish_attempts=outbox.c.publish_attempts + 1)
)


def message_headers(message: Message) -> dict[str, str]:
    headers = {
        "Nats-Msg-Id": str(message.message_id),
        CORRELATION_HEADER: message.correlation_id,
        TYPE_HEADER: type(message).__name__,
    }
    if message.causation_id is not None:
        headers[CAUSATION_HEADER] = str(message.causation_id)
    return headers


async def add_to_outbox(session: AsyncSession, subject: str, message: Message) -> None:
    """Queue ``message`` for ``subject`` (a logical subject from contracts) in the caller's transaction."""
    await session.execute(_QUEUE, _outbox_row(subject, message))


async def add_all_to_outbox(session: AsyncSession, messages: Sequence[tuple[str, Message]]) -> None:
    """Queue every ``(subject, message)`` in the caller's transaction, in order, in one statement:
    a saga step that sends a dozen commands makes one round trip to the database, not a dozen."""
    if not messages:
        return
    await session.execute(_QUEUE, [_outbox_row(subject, message) for subject, message in messages])


def _outbox_row(subject: str, message: Message) -> dict[str, object]:
    return {
        "message_id": message.message_id,
        "subject": subject,
        "payload": message.model_dump(mode="json"),
        "headers": message_headers(message),
    }


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        js: JetStreamContext,
        namespace: Namespace,
        *,
        batch_size: int,
        poll_seconds: float,
    ) -> None:
        self._database = database
        self._js = js
        self._namespace = namespace
        self._batch_size = batch_size
        self._pending = (
            select(outbox.c.id, outbox.c.subject, outbox.c.payload, outbox.c.headers)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self.listening = False

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen_for_commits(), name="outbox-listen")
        failures = 0
        try:
            while True:
                try:
                    published = await self.publish_pending()
                    failures = 0
                except Exception as error:
                    failures += 1
                    OUTBOX_PUBLISH_FAILURES.inc()
                    log.warning("outbox relay could not publish: %s", error)
                    await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                    continue
                if published < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                    self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    def wake(self) -> None:
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows in order; returns how many were published."""
        async with self._database.transaction() as session:
            rows = (await session.execute(self._pending)).all()
            published, failure = await self._publish_in_order(rows)
            if published:
                await session.execute(_MARK_PUBLISHED, {"ids": published})
            if failure is not None:
                failed_id = rows[len(published)].id
                await session.execute(
                    update(outbox)
                    .where(outbox.c.id == failed_id)
                    .values(
                        publish_attempts=outbox.c.publish_attempts + 1,
                        last_error=str(failure)[:2000],
                    )
                )
        OUTBOX_PUBLISHED.inc(len(published))
        if failure is not None:
            raise failure
        return len(published)

    async def _publish_in_order(
        self, rows: Sequence[Row[Any, Any, Any, Any]]
    ) -> tuple[list[int], Exception | None]:
        """Publish ``rows`` pipelined, then wait for their PubAcks; the ids acknowledged in order, up to
        the first that was not, and why that one was not.

        One PubAck round trip per row (publish, wait, next) capped the relay at the round-trip rate;
        written back to back, the rows share the wait. The server stores them in the order written.
        A row after the first failure is left unmarked even if acknowledged: published again later,
        JetStream or the consumers' inbox drops the copy.
        """
        acks: list[asyncio.Future[PubAck]] = []
        failure: Exception | None = None
        try:
            for row in rows:
                acks.append(
                    await self._js.publish_async(
                        self._namespace.subject(row.subject),
                        json.dumps(row.payload, separators=(",", ":")).encode(),
                        headers=row.headers,
                    )
                )
        except Exception as error:
            failure = error
        if acks:
            _, late = await asyncio.wait(acks, timeout=PUBACK_TIMEOUT_SECONDS)
            for ack in late:
                ack.cancel()  # frees its slot in nats-py's window of pending publishes
        published: list[int] = []
        for row, ack in zip(rows, acks, strict=False):
            refused = _refusal(ack)
            if refused is not None:
                return published, refused
            published.append(row.id)
        return published, failure

    async def _listen_for_commits(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url(self._database.url), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self.listening = True
                    # Rows committed while we were not listening: look once now.
                    self.wake()
                    async for _ in connection.notifies():
                        self.wake()
            except (psycopg.Error, OSError) as error:
                self.listening = False
                log.warning("outbox relay lost its NOTIFY listener: %s", error)
                await asyncio.sleep(1.0)


def _refusal(ack: "asyncio.Future[PubAck]") -> Exception | None:
    """Why a publish was not acknowledged, or None if it was."""
    if ack.cancelled():
        return TimeoutError(f"no PubAck within {PUBACK_TIMEOUT_SECONDS:.0f} s")
    return cast(Exception | None, ack.exception())
