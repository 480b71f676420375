"""Reconciliation's reads and writes: the ledger's books of a set of cycles (by debit attempt,
dispute and cycle), which cycles a day or a group covers, and the runs with their differences
(written once, when a run completes)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.ledger import AccountKind
from services.collections.domain.ledger_steps import step_of
from services.collections.domain.reconciliation import (
    Difference,
    DifferenceKind,
    LedgerBooks,
    LedgerDebit,
    LedgerDispute,
    counts_by_kind,
)
from services.collections.store.tables import (
    contributions,
    cycles,
    debit_attempts,
    ledger_entries,
    ledger_transactions,
    reconciliation_differences,
    reconciliation_runs,
)


async def all_cycles(session: AsyncSession) -> list[UUID]:
    return list(await session.scalars(select(cycles.c.cycle_id).order_by(cycles.c.cycle_id)))


async def cycles_of_group(session: AsyncSession, group_id: UUID) -> list[UUID]:
    return list(
        await session.scalars(
            select(cycles.c.cycle_id).where(cycles.c.group_id == group_id).order_by(cycles.c.cycle_id)
        )
    )


async def cycles_touched(session: AsyncSession, start: datetime, end: datetime) -> set[UUID]:
    """Cycles the ledger booked something for, or whose debits moved, in [start, end)."""
    booked = select(ledger_transactions.c.cycle_id).where(
        ledger_transactions.c.posted_at >= start, ledger_transactions.c.posted_at < end
    )
    debited = select(debit_attempts.c.cycle_id).where(
        debit_attempts.c.updated_at >= start, debit_attempts.c.updated_at < end
    )
    return set(await session.scalars(booked.union(debited)))


async def known_cycles(session: AsyncSession, cycle_ids: Iterable[UUID]) -> set[UUID]:
    wanted = list(cycle_ids)
    if not wanted:
        return set()
    return set(await session.scalars(select(cycles.c.cycle_id).where(cycles.c.cycle_id.in_(wanted))))


async def earliest_start(session: AsyncSession, cycle_ids: Iterable[UUID]) -> date | None:
    """The first start date among the cycles: none of their debits is older."""
    wanted = list(cycle_ids)
    if not wanted:
        return None
    found: date | None = await session.scalar(
        select(func.min(cycles.c.starts_on)).where(cycles.c.cycle_id.in_(wanted))
    )
    return found


async def ledger_books(session: AsyncSession, cycle_ids: Iterable[UUID]) -> LedgerBooks:
    """What the ledger booked for each debit attempt, dispute and payout of ``cycle_ids``."""
    scope = frozenset(cycle_ids)
    if not scope:
        return LedgerBooks(frozenset())
    amounts, cycle_of, currency_of = await booked_amounts(session, scope)
    attempts = await session.execute(
        select(
            debit_attempts.c.cycle_id,
            debit_attempts.c.contribution_id,
            debit_attempts.c.attempt,
            debit_attempts.c.payment_intent_id,
            contributions.c.amount,
            contributions.c.currency,
        )
        .join(contributions, contributions.c.contribution_id == debit_attempts.c.contribution_id)
        .where(debit_attempts.c.cycle_id.in_(scope))
        .order_by(debit_attempts.c.contribution_id, debit_attempts.c.attempt)
    )
    debits = []
    for row in attempts:
        reference = f"{row.contribution_id}-{row.attempt}"
        debits.append(
            LedgerDebit(
                cycle_id=row.cycle_id,
                contribution_id=row.contribution_id,
                attempt=row.attempt,
                payment_intent_id=row.payment_intent_id,
                amount=row.amount,
                currency=row.currency,
                collected=amounts.get(f"debit-collected-{reference}", 0),
                stripe_fee=amounts.get(f"debit-stripe-fee-{reference}", 0),
                refunded=amounts.get(f"debit-refunded-{reference}", 0),
            )
        )
    disputes = [
        LedgerDispute(
            dispute_id=reference.removeprefix("dispute-opened-"),
            cycle_id=cycle_of[reference],
            currency=currency_of[reference],
            opened=amount,
            won=amounts.get(reference.replace("dispute-opened-", "dispute-won-", 1), 0),
        )
        for reference, amount in amounts.items()
        if step_of(reference) == "dispute-opened"
    ]
    transferred = await session.execute(
        select(ledger_entries.c.account_key, func.sum(ledger_entries.c.amount))
        .where(
            ledger_entries.c.account_kind == AccountKind.TRANSFERS.value,
            ledger_entries.c.account_key.in_([str(cycle) for cycle in scope]),
        )
        .group_by(ledger_entries.c.account_key)
    )
    currencies = {cycle_of[reference]: currency for reference, currency in currency_of.items()}
    return LedgerBooks(
        cycle_ids=scope,
        debits=tuple(debits),
        disputes=tuple(disputes),
        transferred={UUID(key): int(total) for key, total in transferred},
        currencies=currencies,
    )


async def booked_amounts(
    session: AsyncSession, scope: frozenset[UUID]
) -> tuple[dict[str, int], dict[str, UUID], dict[str, str]]:
    """Each transaction of the cycles by reference: the money it moved (its positive entries)."""
    rows = await session.execute(
        select(
            ledger_transactions.c.reference,
            ledger_transactions.c.cycle_id,
            ledger_transactions.c.currency,
            func.sum(ledger_entries.c.amount).filter(ledger_entries.c.amount > 0).label("moved"),
        )
        .join(ledger_entries, ledger_entries.c.reference == ledger_transactions.c.reference)
        .where(ledger_transactions.c.cycle_id.in_(scope))
        .group_by(ledger_transactions.c.reference)
    )
    amounts: dict[str, int] = {}
    cycle_of: dict[str, UUID] = {}
    currency_of: dict[str, str] = {}
    for row in rows:
        amounts[row.reference] = int(row.moved or 0)
        cycle_of[row.reference] = row.cycle_id
        currency_of[row.reference] = row.currency
    return amounts, cycle_of, currency_of


@dataclass(frozen=True)
class RunRecord:
    run_id: UUID
    scope: str
    day: date | None
    group_id: UUID | None
    trigger: str
    started_at: datetime
    completed_at: datetime
    cycles_checked: int
    stripe_objects_read: int
    differences: tuple[Difference, ...]

    @property
    def differences_by_kind(self) -> dict[str, int]:
        return counts_by_kind(self.differences)


async def save_run(session: AsyncSession, run: RunRecord) -> bool:
    """Store a completed run and its differences; False if a run of that id was stored before."""
    added = await session.execute(
        insert(reconciliation_runs)
        .values(
            run_id=run.run_id,
            scope=run.scope,
            day=run.day,
            group_id=run.group_id,
            trigger=run.trigger,
            started_at=run.started_at,
            completed_at=run.completed_at,
            cycles_checked=run.cycles_checked,
            stripe_objects_read=run.stripe_objects_read,
            differences_total=len(run.differences),
            differences_by_kind=run.differences_by_kind,
        )
        .on_conflict_do_nothing()
        .returning(reconciliation_runs.c.run_id)
    )
    if added.first() is None:
        return False
    if run.differences:
        await session.execute(
            insert(reconciliation_differences), [_difference_row(run.run_id, d) for d in run.differences]
        )
    return True


def _difference_row(run_id: UUID, difference: Difference) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "kind": difference.kind.value,
        "cycle_id": difference.cycle_id,
        "object_type": difference.object_type,
        "object_ids": list(difference.object_ids),
        "ledger_reference": difference.ledger_reference,
        "expected": difference.expected,
        "actual": difference.actual,
        "currency": difference.currency,
        "note": difference.note,
    }


@dataclass(frozen=True)
class RunSummary:
    run_id: UUID
    scope: str
    day: date | None
    group_id: UUID | None
    trigger: str
    started_at: datetime
    completed_at: datetime
    cycles_checked: int
    stripe_objects_read: int
    differences_total: int
    differences_by_kind: dict[str, int]


async def runs(
    session: AsyncSession, *, day: date | None, limit: int, offset: int
) -> tuple[list[RunSummary], int]:
    """Runs, the newest first (of ``day`` only, if given), and how many there are in all."""
    where = [reconciliation_runs.c.day == day] if day is not None else []
    total = await session.scalar(select(func.count()).select_from(reconciliation_runs).where(*where))
    rows = await session.execute(
        select(reconciliation_runs)
        .where(*where)
        .order_by(reconciliation_runs.c.completed_at.desc(), reconciliation_runs.c.run_id)
        .limit(limit)
        .offset(offset)
    )
    return [RunSummary(**row._mapping) for row in rows], int(total or 0)


async def run_of(session: AsyncSession, run_id: UUID) -> tuple[RunSummary, list[Difference]] | None:
    row = (
        await session.execute(select(reconciliation_runs).where(reconciliation_runs.c.run_id == run_id))
    ).first()
    if row is None:
        return None
    found = await session.execute(
        select(reconciliation_differences)
        .where(reconciliation_differences.c.run_id == run_id)
        .order_by(reconciliation_differences.c.difference_id)
    )
    differences = [
        Difference(
            kind=DifferenceKind(d.kind),
            cycle_id=d.cycle_id,
            object_type=d.object_type,
            object_ids=tuple(d.object_ids),
            ledger_reference=d.ledger_reference,
            expected=d.expected,
            actual=d.actual,
            currency=d.currency,
            note=d.note,
        )
        for d in found
    ]
    return RunSummary(**row._mapping), differences
