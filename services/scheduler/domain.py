"""Durable timers: what a timer is, how schedule, cancel and fire change it, and firing order.

A timer is pending until it fires or is cancelled; both are final. The caller chooses the id, so
every rule here is idempotent per id: scheduling again moves a pending timer (or changes nothing),
and never revives one that has fired or been cancelled. A cancel for an id not seen yet leaves a
cancelled tombstone, because schedule and cancel travel on different subjects and may arrive in
either order.
"""

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from contracts.scheduler import CancelTimer, ScheduleTimer

# Fixed for ever: the outbox id of a fired timer is derived from it, so a crash that fires again
# produces the very same id and the outbox refuses the copy.
_FIRED_MESSAGE_NAMESPACE: Final = uuid.UUID("0b3f7c1e-6d2a-5c8e-9a41-5e7d2f0c9b13")

# Well under NATS's default 1 MiB max_payload: an outbox row the relay can never publish would
# hold up every message behind it.
MAX_PAYLOAD_BYTES: Final = 64 * 1024


class TimerStatus(StrEnum):
    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"


class ScheduleOutcome(StrEnum):
    CREATED = "created"
    MOVED = "moved"
    UNCHANGED = "unchanged"
    STALE = "stale"
    ALREADY_FIRED = "already_fired"
    ALREADY_CANCELLED = "already_cancelled"


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    TOMBSTONED = "tombstoned"
    ALREADY_FIRED = "already_fired"
    ALREADY_CANCELLED = "already_cancelled"


class TimerError(Exception):
    pass


class TimerNotPendingError(TimerError):
    pass


class TimerNotDueError(TimerError):
    pass


class PayloadTooLargeError(TimerError):
    pass


@dataclass(frozen=True)
class Timer:
    timer_id: str
    status: TimerStatus
    correlation_id: str
    # A tombstone (cancelled before its schedule arrived) has no due time, target or payload.
    due_at: datetime | None
    target_subject: str | None
    payload: Mapping[str, Any] | None
    generation: int
    created_at: datetime
    scheduled_by: uuid.UUID | None = None
    scheduled_at: datetime | None = None
    fired_at: datetime | None = None
    cancelled_at: datetime | None = None


Outcome = TypeVar("Outcome", ScheduleOutcome, CancelOutcome)


@dataclass(frozen=True)
class Change(Generic[Outcome]):
    """What a command did: ``timer`` is the state to store, or None when nothing changes."""

    outcome: Outcome
    timer: Timer | None


def schedule(existing: Timer | None, command: ScheduleTimer, now: datetime) -> Change[ScheduleOutcome]:
    size = len(json.dumps(command.payload, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"timer {command.timer_id!r}: payload of {size:,} bytes, more than {MAX_PAYLOAD_BYTES:,}"
        )
    if existing is None:
        created = Timer(
            timer_id=command.timer_id,
            status=TimerStatus.PENDING,
            correlation_id=command.correlation_id,
            due_at=command.due_at,
            target_subject=command.target_subject,
            payload=command.payload,
            generation=1,
            created_at=now,
            scheduled_by=command.message_id,
            scheduled_at=command.occurred_at,
        )
        return Change(ScheduleOutcome.CREATED, created)
    if existing.status is TimerStatus.FIRED:
        return Change(ScheduleOutcome.ALREADY_FIRED, None)
    if existing.status is TimerStatus.CANCELLED:
        return Change(ScheduleOutcome.ALREADY_CANCELLED, None)
    if existing.scheduled_at is not None and command.occurred_at < existing.scheduled_at:
        return Change(ScheduleOutcome.STALE, None)
    if (
        existing.due_at == command.due_at
        and existing.target_subject == command.target_subject
        and existing.payload == command.payload
    ):
        return Change(ScheduleOutcome.UNCHANGED, None)
    moved = replace(
        existing,
        correlation_id=command.correlation_id,
        due_at=command.due_at,
        target_subject=command.target_subject,
        payload=command.payload,
        generation=existing.generation + 1,
        scheduled_by=command.message_id,
        scheduled_at=command.occurred_at,
    )
    return Change(ScheduleOutcome.MOVED, moved)


def cancel(existing: Timer | None, command: CancelTimer, now: datetime) -> Change[CancelOutcome]:
    if existing is None:
        tombstone = Timer(
            timer_id=command.timer_id,
            status=TimerStatus.CANCELLED,
            correlation_id=command.correlation_id,
            due_at=None,
            target_subject=None,
            payload=None,
            generation=0,
            created_at=now,
            cancelled_at=now,
        )
        return Change(CancelOutcome.TOMBSTONED, tombstone)
    if existing.status is TimerStatus.FIRED:
        return Change(CancelOutcome.ALREADY_FIRED, None)
    if existing.status is TimerStatus.CANCELLED:
        return Change(CancelOutcome.ALREADY_CANCELLED, None)
    return Change(CancelOutcome.CANCELLED, replace(existing, status=TimerStatus.CANCELLED, cancelled_at=now))


def fire(timer: Timer, now: datetime) -> Timer:
    if timer.status is not TimerStatus.PENDING:
        raise TimerNotPendingError(f"timer {timer.timer_id!r} is {timer.status}, not pending")
    if timer.due_at is None or timer.due_at > now:
        raise TimerNotDueError(f"timer {timer.timer_id!r} is due at {timer.due_at}, not by {now}")
    return replace(timer, status=TimerStatus.FIRED, fired_at=now)


def firing_order(timers: Iterable[Timer]) -> list[Timer]:
    """Oldest due first; the id breaks ties, so every replica and every run agree."""
    return sorted(timers, key=_firing_key)


def _firing_key(timer: Timer) -> tuple[Any, ...]:
    # Tombstones have no due time and never fire: they sort last.
    return (0, timer.due_at, timer.timer_id) if timer.due_at is not None else (1, timer.timer_id)


def fired_message_id(timer_id: str) -> str:
    """``Nats-Msg-Id`` of the fired payload: JetStream drops a second copy inside its window."""
    return f"timer:{timer_id}"


def fired_outbox_id(timer_id: str) -> uuid.UUID:
    return uuid.uuid5(_FIRED_MESSAGE_NAMESPACE, fired_message_id(timer_id))
