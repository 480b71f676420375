"""Tables the scheduler service owns, and the queries its handlers, firing loop and API make."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    MetaData,
    Row,
    Table,
    Text,
    Uuid,
    and_,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.outbox import CAUSATION_HEADER, CORRELATION_HEADER
from services.runtime.tables import outbox
from services.scheduler.domain import Timer, TimerStatus, fired_message_id, fired_outbox_id

TIMERS_CHANNEL = "rosca_timers"
TIMER_HEADER = "Rosca-Timer-Id"

metadata = MetaData()

timers = Table(
    "timers",
    metadata,
    Column("timer_id", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("correlation_id", Text, nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("target_subject", Text),
    Column("payload", JSONB),
    Column("generation", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("scheduled_by", Uuid),
    Column("scheduled_at", DateTime(timezone=True)),
    Column("fired_at", DateTime(timezone=True)),
    Column("fired_by", Text),
    Column("cancelled_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'fired', 'cancelled')", name="timers_status_known"),
    CheckConstraint(
        "status <> 'pending' OR (due_at IS NOT NULL AND target_subject IS NOT NULL AND payload IS NOT NULL)",
        name="timers_pending_is_complete",
    ),
)
# The firing loop's query: the oldest pending timers, in order, without touching fired ones.
Index(
    "timers_pending_by_due",
    timers.c.due_at,
    timers.c.timer_id,
    postgresql_where=timers.c.status == "pending",
)
Index("timers_by_status_due", timers.c.status, timers.c.due_at, timers.c.timer_id)
Index("timers_by_subject_due", timers.c.target_subject, timers.c.due_at, timers.c.timer_id)


class TimerStore:
    """The scheduler's queries, inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def lock(self, timer_id: str) -> Timer | None:
        """The timer, locked until commit; also serialises two commands for an id not stored yet."""
        await self._session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(timer_id, 0))))
        row = (
            await self._session.execute(select(timers).where(timers.c.timer_id == timer_id).with_for_update())
        ).first()
        return _timer(row) if row is not None else None

    async def save(self, timer: Timer) -> None:
        values = _values(timer)
        await self._session.execute(
            upsert(timers)
            .values(values)
            .on_conflict_do_update(index_elements=[timers.c.timer_id], set_=values)
        )

    async def claim_due(self, now: datetime, limit: int) -> list[Timer]:
        """Pending timers due by ``now``, oldest first, locked; rows another replica holds are skipped."""
        rows = (
            await self._session.execute(
                select(timers)
                .where(timers.c.status == TimerStatus.PENDING, timers.c.due_at <= now)
                .order_by(timers.c.due_at, timers.c.timer_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        return [_timer(row) for row in rows]

    async def record_fired(self, fired: list[Timer], fired_by: str) -> None:
        """Marks ``fired`` and queues each payload in the outbox, in order, in this transaction."""
        if not fired:
            return
        await self._session.execute(insert(outbox), [_outbox_row(timer) for timer in fired])
        await self._session.execute(
            update(timers)
            .where(timers.c.timer_id.in_([timer.timer_id for timer in fired]))
            .values(status=TimerStatus.FIRED, fired_at=fired[0].fired_at, fired_by=fired_by)
        )

    async def next_due(self) -> datetime | None:
        due: datetime | None = await self._session.scalar(
            select(func.min(timers.c.due_at)).where(timers.c.status == TimerStatus.PENDING)
        )
        return due

    async def settled_through(self, moment: datetime) -> bool:
        """True when no timer due by ``moment`` is pending and every fired payload is published."""
        waiting = select(
            exists().where(timers.c.status == TimerStatus.PENDING, timers.c.due_at <= moment)
            | exists().where(outbox.c.published_at.is_(None))
        )
        return not await self._session.scalar(waiting)

    async def counts(self, now: datetime) -> "TimerCounts":
        row = (
            await self._session.execute(
                select(
                    func.count().filter(timers.c.status == TimerStatus.PENDING),
                    func.count().filter(timers.c.status == TimerStatus.PENDING, timers.c.due_at <= now),
                    func.count().filter(timers.c.status == TimerStatus.FIRED),
                    func.count().filter(timers.c.status == TimerStatus.CANCELLED),
                )
            )
        ).one()
        return TimerCounts(pending=row[0], overdue=row[1], fired=row[2], cancelled=row[3])

    async def page(self, query: "TimerQuery") -> "TimerPage":
        conditions: list[ColumnElement[bool]] = []
        if query.status is not None:
            conditions.append(timers.c.status == query.status)
        if query.target_subject is not None:
            conditions.append(timers.c.target_subject == query.target_subject)
        if query.due_from is not None:
            conditions.append(timers.c.due_at >= query.due_from)
        if query.due_before is not None:
            conditions.append(timers.c.due_at < query.due_before)
        if query.after is not None:
            conditions.append(_after(query.after))
        rows = (
            await self._session.execute(
                select(timers)
                .where(*conditions)
                .order_by(timers.c.due_at.asc().nulls_last(), timers.c.timer_id)
                .limit(query.limit + 1)
            )
        ).all()
        found = [_timer(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return TimerPage(found, PageCursor(found[-1].due_at, found[-1].timer_id) if more else None)


@dataclass(frozen=True)
class TimerCounts:
    pending: int
    overdue: int
    fired: int
    cancelled: int


@dataclass(frozen=True)
class PageCursor:
    """Where a page ended: the (due_at, timer_id) of its last timer, as an opaque token."""

    due_at: datetime | None
    timer_id: str

    def encode(self) -> str:
        text = json.dumps([self.due_at.isoformat() if self.due_at else None, self.timer_id])
        return base64.urlsafe_b64encode(text.encode()).decode()

    @classmethod
    def decode(cls, token: str) -> "PageCursor":
        try:
            due_at, timer_id = json.loads(base64.urlsafe_b64decode(token.encode()))
            return cls(datetime.fromisoformat(due_at) if due_at is not None else None, str(timer_id))
        except (ValueError, TypeError, binascii.Error) as error:
            raise InvalidCursorError("not a cursor this endpoint returned") from error


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class TimerQuery:
    limit: int
    status: TimerStatus | None = None
    target_subject: str | None = None
    due_from: datetime | None = None
    due_before: datetime | None = None
    after: PageCursor | None = None


@dataclass(frozen=True)
class TimerPage:
    timers: list[Timer]
    next_cursor: PageCursor | None


def _after(cursor: PageCursor) -> ColumnElement[bool]:
    # Pages run by due time with tombstones (no due time) last, then by id.
    if cursor.due_at is None:
        return and_(timers.c.due_at.is_(None), timers.c.timer_id > cursor.timer_id)
    return or_(
        timers.c.due_at > cursor.due_at,
        and_(timers.c.due_at == cursor.due_at, timers.c.timer_id > cursor.timer_id),
        timers.c.due_at.is_(None),
    )


def _timer(row: Row[Any]) -> Timer:
    return Timer(
        timer_id=row.timer_id,
        status=TimerStatus(row.status),
        correlation_id=row.correlation_id,
        due_at=row.due_at,
        target_subject=row.target_subject,
        payload=row.payload,
        generation=row.generation,
        created_at=row.created_at,
        scheduled_by=row.scheduled_by,
        scheduled_at=row.scheduled_at,
        fired_at=row.fired_at,
        cancelled_at=row.cancelled_at,
    )


def _values(timer: Timer) -> dict[str, Any]:
    return {
        "timer_id": timer.timer_id,
        "status": timer.status.value,
        "correlation_id": timer.correlation_id,
        "due_at": timer.due_at,
        "target_subject": timer.target_subject,
        "payload": dict(timer.payload) if timer.payload is not None else None,
        "generation": timer.generation,
        "created_at": timer.created_at,
        "scheduled_by": timer.scheduled_by,
        "scheduled_at": timer.scheduled_at,
        "fired_at": timer.fired_at,
        "cancelled_at": timer.cancelled_at,
    }


def _outbox_row(timer: Timer) -> dict[str, Any]:
    headers = {
        "Nats-Msg-Id": fired_message_id(timer.timer_id),
        CORRELATION_HEADER: timer.correlation_id,
        TIMER_HEADER: timer.timer_id,
    }
    if timer.scheduled_by is not None:
        headers[CAUSATION_HEADER] = str(timer.scheduled_by)
    return {
        "message_id": fired_outbox_id(timer.timer_id),
        "subject": timer.target_subject,
        "payload": dict(timer.payload or {}),
        "headers": headers,
    }
