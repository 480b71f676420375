"""The webhooks service's table of received Stripe events, and the queries made on it.

One row per event id, the body kept exactly as Stripe sent it. ``published_at`` stays null until
JetStream has acknowledged the event's message: such rows are published again by the next
delivery of the event, by the sweep, or by a replay.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.webhooks.verification import VerifiedEvent

metadata = MetaData()

SOURCES = ("platform", "connect", "backfill")

stripe_events = Table(
    "stripe_events",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("event_type", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("account", Text),
    Column("livemode", Boolean, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("raw_body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("publish_attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    CheckConstraint("source IN ('platform', 'connect', 'backfill')", name="stripe_events_source_known"),
)
Index(
    "stripe_events_unpublished",
    stripe_events.c.received_at,
    postgresql_where=stripe_events.c.published_at.is_(None),
)
Index("stripe_events_by_created", stripe_events.c.created, stripe_events.c.event_id)
Index("stripe_events_by_type", stripe_events.c.event_type, stripe_events.c.created)


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    raw_body: str


@dataclass(frozen=True)
class EventSelection:
    """Which stored events a replay republishes; every given criterion must hold."""

    event_ids: tuple[str, ...] = ()
    event_type: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.event_ids or self.event_type or self.created_from or self.created_until)


@dataclass(frozen=True)
class NewEvent:
    event: VerifiedEvent
    source: str


# One statement whatever the batch size (arrays, not a VALUES list), so it is prepared once.
_INSERT_BATCH = text(
    """
    INSERT INTO stripe_events (event_id, event_type, source, account, livemode, created, raw_body)
    SELECT event_id, event_type, source, account, livemode, to_timestamp(created), raw_body
    FROM unnest(
        CAST(:event_ids AS text[]), CAST(:event_types AS text[]), CAST(:sources AS text[]),
        CAST(:accounts AS text[]), CAST(:livemodes AS boolean[]), CAST(:createds AS bigint[]),
        CAST(:raw_bodies AS text[])
    ) AS batch(event_id, event_type, source, account, livemode, created, raw_body)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
    """
)
_PUBLISHED_AMONG = text(
    "SELECT event_id FROM stripe_events WHERE event_id = ANY(CAST(:event_ids AS text[])) "
    "AND published_at IS NOT NULL"
)
_MARK_PUBLISHED = text(
    "UPDATE stripe_events SET published_at = now(), publish_attempts = publish_attempts + 1 "
    "WHERE event_id = ANY(CAST(:event_ids AS text[])) AND published_at IS NULL"
)


async def insert_new(connection: AsyncConnection, batch: Sequence[NewEvent]) -> set[str]:
    """Store every event of ``batch`` not stored yet; returns the ids it stored (the others are kept)."""
    stored = await connection.execute(
        _INSERT_BATCH,
        {
            "event_ids": [new.event.event_id for new in batch],
            "event_types": [new.event.event_type for new in batch],
            "sources": [new.source for new in batch],
            "accounts": [new.event.account for new in batch],
            "livemodes": [new.event.livemode for new in batch],
            "createds": [new.event.created for new in batch],
            "raw_bodies": [new.event.raw.decode() for new in batch],
        },
    )
    return set(stored.scalars())


async def published_among(connection: AsyncConnection, event_ids: Sequence[str]) -> set[str]:
    rows = await connection.execute(_PUBLISHED_AMONG, {"event_ids": list(event_ids)})
    return set(rows.scalars())


async def mark_published(connection: AsyncConnection, event_ids: Sequence[str]) -> None:
    await connection.execute(_MARK_PUBLISHED, {"event_ids": list(event_ids)})


async def record_publish_failure(connection: AsyncConnection, event_id: str, error: str) -> None:
    await connection.execute(
        update(stripe_events)
        .where(stripe_events.c.event_id == event_id)
        .values(publish_attempts=stripe_events.c.publish_attempts + 1, last_error=error[:2000])
    )


async def claim_unpublished(
    connection: AsyncConnection, grace: timedelta, limit: int, *, excluding: Sequence[str] = ()
) -> list[StoredEvent]:
    """Unpublished events received longer than ``grace`` ago, oldest first, locked for this transaction.

    ``excluding``: events known to be published whose row does not say so yet.
    """
    rows = await connection.execute(
        select(stripe_events.c.event_id, stripe_events.c.raw_body)
        .where(
            stripe_events.c.published_at.is_(None),
            stripe_events.c.received_at < func.now() - grace,
            stripe_events.c.event_id.not_in(excluding),
        )
        .order_by(stripe_events.c.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [StoredEvent(row.event_id, row.raw_body) for row in rows]


async def select_events(
    connection: AsyncConnection,
    selection: EventSelection,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[datetime, StoredEvent]]:
    """One page of the selected events in (created, event_id) order, after the cursor ``after``."""
    conditions: list[ColumnElement[bool]] = []
    if selection.event_ids:
        conditions.append(stripe_events.c.event_id.in_(selection.event_ids))
    if selection.event_type:
        conditions.append(stripe_events.c.event_type == selection.event_type)
    if selection.created_from:
        conditions.append(stripe_events.c.created >= selection.created_from)
    if selection.created_until:
        conditions.append(stripe_events.c.created < selection.created_until)
    if after is not None:
        conditions.append(tuple_(stripe_events.c.created, stripe_events.c.event_id) > tuple_(*after))
    rows = await connection.execute(
        select(stripe_events.c.created, stripe_events.c.event_id, stripe_events.c.raw_body)
        .where(and_(*conditions))
        .order_by(stripe_events.c.created, stripe_events.c.event_id)
        .limit(limit)
    )
    return [(row.created, StoredEvent(row.event_id, row.raw_body)) for row in rows]


async def known_accounts(connection: AsyncConnection) -> list[str]:
    """Connected accounts some stored event came from: where a Connect backfill looks."""
    rows = await connection.scalars(
        select(stripe_events.c.account).where(stripe_events.c.account.is_not(None)).distinct()
    )
    return sorted(account for account in rows if account)
