"""One reconciliation run: the ledger's books of a day (or a group) beside Stripe's records of them,
their differences stored with the run and announced in ``collections.evt.reconciliation_completed``;
and the daily run, kept scheduled through the scheduler one day at a time.

A day's run covers every cycle the ledger booked something for, or whose debits moved, that day,
and every cycle of a PaymentIntent Stripe created that day; each such cycle is compared whole. Every
PaymentIntent Stripe created that day is accounted for, rosca's or not: the platform's account
holds rosca's money only, so a stray one is a difference too. A group's run covers its cycles and
its members' PaymentIntents.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid4, uuid5

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.reconciliation import (
    DIFFERENCES_IN_EVENT,
    ReconcileDay,
    ReconciliationCompleted,
    ReconciliationDifference,
)
from services.collections.domain.reconciliation import (
    Difference,
    LedgerBooks,
    compare,
    daily_run_due_at,
    daily_timer_id,
    day_bounds,
    day_of,
)
from services.collections.service_layer.outgoing import message_id_for, timer
from services.collections.store import reconciliation as store
from services.collections.store.debt_reconciliation import debt_books
from services.collections.store.tables import member_mandates, rotations
from services.collections.stripe_books import StripeBooksReader
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)

_RUN_NAMESPACE: Final = UUID("5b0e7c1a-2f4d-5a8e-b6c3-9d17e4a20f61")


@dataclass(frozen=True)
class Scope:
    """A day in the platform's time zone, or one group."""

    day: date | None = None
    group_id: UUID | None = None

    def __post_init__(self) -> None:
        if (self.day is None) == (self.group_id is None):
            raise ValueError("reconcile a day or a group")

    @property
    def name(self) -> str:
        return "day" if self.day is not None else "group"


def scheduled_run_id(day: date) -> UUID:
    """The daily run of ``day``: one id, so a repeated timer stores and announces it once."""
    return uuid5(_RUN_NAMESPACE, f"day:{day.isoformat()}")


async def reconcile(
    session: AsyncSession,
    reader: StripeBooksReader,
    scope: Scope,
    *,
    trigger: str,
    now: datetime,
    run_id: UUID | None = None,
) -> store.RunRecord:
    """Compare, store the run with its differences and queue its announcement (in ``session``)."""
    cycle_ids, intents = await _scope_and_intents(session, reader, scope)
    ledger = await with_debt_debits(session, await store.ledger_books(session, cycle_ids), intents)
    known = [debit.payment_intent_id for debit in ledger.debits if debit.payment_intent_id]
    books = await reader.books(intents, known, cycle_ids)
    record = store.RunRecord(
        run_id=run_id or uuid4(),
        scope=scope.name,
        day=scope.day,
        group_id=scope.group_id,
        trigger=trigger,
        started_at=now,
        completed_at=now,
        cycles_checked=len(cycle_ids),
        stripe_objects_read=books.objects_read,
        differences=tuple(compare(ledger, books)),
    )
    if await store.save_run(session, record):
        await add_to_outbox(session, subjects.COLLECTIONS_RECONCILIATION_COMPLETED, _completed(record, now))
    log.info(
        "reconciliation %s of %s: %d cycles, %d differences",
        record.run_id,
        scope.day or scope.group_id,
        record.cycles_checked,
        len(record.differences),
    )
    return record


async def _scope_and_intents(
    session: AsyncSession, reader: StripeBooksReader, scope: Scope
) -> tuple[set[UUID], list[dict[str, Any]]]:
    if scope.day is not None:
        start, end = day_bounds(scope.day)
        intents = await reader.intents_created_between(int(start.timestamp()), int(end.timestamp()))
        tagged = {cycle for cycle in (cycle_of_intent(intent) for intent in intents) if cycle is not None}
        cycles = await store.cycles_touched(session, start, end) | await store.known_cycles(session, tagged)
        return cycles, intents + await _earlier_intents_of(session, reader, cycles, start)
    assert scope.group_id is not None
    cycles = set(await store.cycles_of_group(session, scope.group_id))
    listed = await reader.intents_of_customers(await customers_of_groups(session, [scope.group_id]))
    ours = [
        intent
        for intent in listed
        if cycle_of_intent(intent) in cycles or debt_group_of(intent) == scope.group_id
    ]
    return cycles, ours


async def with_debt_debits(
    session: AsyncSession, ledger: LedgerBooks, intents: Iterable[dict[str, Any]]
) -> LedgerBooks:
    """The ledger's books, with those of the groups whose debt debits are among ``intents``."""
    groups = {group for group in (debt_group_of(intent) for intent in intents) if group is not None}
    debits, disputes = await debt_books(session, groups)
    return replace(ledger, debt_debits=debits, debt_disputes=disputes)


async def _earlier_intents_of(
    session: AsyncSession, reader: StripeBooksReader, cycles: set[UUID], day_start: datetime
) -> list[dict[str, Any]]:
    """The debits of the day's cycles made before the day, by one listing from the first cycle's
    start (a page of 100 a request, where fetching each the ledger knows would cost one a debit);
    any the listing misses, the ledger's own ids still fetch."""
    first_day = await store.earliest_start(session, cycles)
    if first_day is None:
        return []
    # A day's margin: a debit is made on its cycle's start date in the group's time zone.
    since, _ = day_bounds(first_day - timedelta(days=1))
    if since >= day_start:
        return []
    listed = await reader.intents_created_between(
        int(since.timestamp()), int(day_start.timestamp()), "PaymentIntents of the days before"
    )
    return [intent for intent in listed if cycle_of_intent(intent) in cycles]


async def customers_of_groups(session: AsyncSession, group_ids: Iterable[UUID] | None) -> set[str]:
    """The Stripe customers of the groups' members (every group's with None): whose PaymentIntents
    a group's debits are."""
    query = select(rotations.c.activation)
    if group_ids is not None:
        query = query.where(rotations.c.group_id.in_(list(group_ids)))
    customers: set[str] = set()
    members: set[str] = set()
    for activation in await session.scalars(query):
        for member in activation.get("members", []):
            customers.add(member["customer_id"])
            members.add(member["member_id"])
    # A member who authorised another bank account since keeps their customer; read it anyway.
    if members:
        customers |= set(
            await session.scalars(
                select(member_mandates.c.customer_id).where(member_mandates.c.member_id.in_(members))
            )
        )
    return customers


def debt_group_of(intent: dict[str, Any]) -> UUID | None:
    """The group of a member's debt debit (a PaymentIntent as Stripe lists it), or None."""
    metadata = intent.get("metadata") or {}
    if "debt_collection_id" not in metadata:
        return None
    try:
        return UUID(metadata.get("group_id") or "")
    except ValueError:
        return None


def cycle_of_intent(intent: dict[str, Any]) -> UUID | None:
    """The cycle rosca tagged a PaymentIntent (as Stripe lists it) with, or None."""
    tagged = (intent.get("metadata") or {}).get("cycle_id")
    try:
        return UUID(tagged) if tagged else None
    except ValueError:
        return None


def _completed(record: store.RunRecord, now: datetime) -> ReconciliationCompleted:
    return ReconciliationCompleted(
        occurred_at=now,
        correlation_id=str(record.run_id),
        run_id=record.run_id,
        scope="day" if record.scope == "day" else "group",
        day=record.day,
        group_id=record.group_id,
        trigger=record.trigger,
        started_at=record.started_at,
        cycles_checked=record.cycles_checked,
        stripe_objects_read=record.stripe_objects_read,
        differences_total=len(record.differences),
        differences_by_kind=record.differences_by_kind,
        differences=[difference_model(d) for d in record.differences[:DIFFERENCES_IN_EVENT]],
        differences_truncated=len(record.differences) > DIFFERENCES_IN_EVENT,
    )


def difference_model(difference: Difference) -> ReconciliationDifference:
    return ReconciliationDifference(
        kind=difference.kind.value,
        cycle_id=difference.cycle_id,
        object_type=difference.object_type,
        object_ids=list(difference.object_ids),
        ledger_reference=difference.ledger_reference,
        expected=difference.expected,
        actual=difference.actual,
        currency=difference.currency,
        note=difference.note,
    )


async def on_reconcile_day(
    session: AsyncSession, reader: StripeBooksReader, command: ReconcileDay, now: datetime
) -> store.RunRecord:
    """The daily timer fired: reconcile its day, and schedule the next day's run."""
    record = await reconcile(
        session,
        reader,
        Scope(day=command.day),
        trigger="schedule",
        now=now,
        run_id=scheduled_run_id(command.day),
    )
    await schedule_daily_run(session, command.day + timedelta(days=1), now)
    return record


async def schedule_daily_run(session: AsyncSession, day: date, now: datetime) -> None:
    """Ask the scheduler for the run of ``day``; asking again changes nothing, and a timer that
    fired stays fired (so a run is never repeated by this)."""
    timer_id = daily_timer_id(day)
    envelope: dict[str, Any] = {"occurred_at": now, "correlation_id": timer_id}
    command = ReconcileDay(
        occurred_at=now, correlation_id=timer_id, message_id=message_id_for(timer_id), day=day
    )
    schedule = timer(timer_id, daily_run_due_at(day), subjects.COLLECTIONS_RECONCILE_DAY, command, envelope)
    await add_to_outbox(session, subjects.SCHEDULER_SCHEDULE, schedule)


async def keep_daily_runs_scheduled(session: AsyncSession, now: datetime) -> None:
    """Yesterday's run (which may not have been scheduled, if the service was down when the chain
    would have) and today's: each run then schedules the next."""
    today = day_of(now)
    for day in (today - timedelta(days=1), today):
        await schedule_daily_run(session, day, now)
