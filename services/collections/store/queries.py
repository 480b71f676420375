"""What the HTTP API reads: a group's activation and cycles, a cycle's debit attempts, the group's
ledger a page at a time, a member's contributions, and the unfinished cycles that may be stuck.

Read-only; the saga's own reads and writes are in ``cycles.py`` and ``ledger.py``.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.onboarding import GroupActivated
from services.collections.domain.cycle import CycleState, CycleStatus
from services.collections.domain.rotation_state import RotationState
from services.collections.store.cycles import state_of
from services.collections.store.rotation_state import DROPPED
from services.collections.store.rotation_state import state_of as rotation_state_of
from services.collections.store.tables import (
    contributions,
    cycles,
    debit_attempts,
    ledger_entries,
    ledger_transactions,
    rotations,
)


async def activation_of(session: AsyncSession, group_id: UUID) -> GroupActivated | None:
    """The group's activation as collections received it (members, admin, terms); None if unknown."""
    document = await session.scalar(select(rotations.c.activation).where(rotations.c.group_id == group_id))
    return GroupActivated.model_validate(document) if document is not None else None


async def rotation_of(session: AsyncSession, group_id: UUID) -> RotationState | None:
    """The rotation saga's state of the group (read, not locked); None before it held one."""
    document = (
        await session.execute(select(rotations.c.state).where(rotations.c.group_id == group_id))
    ).scalar_one_or_none()
    return rotation_state_of(document) if document is not None else None


@dataclass(frozen=True)
class StoredCycleView:
    state: CycleState
    status_since: datetime


async def cycles_of_group(session: AsyncSession, group_id: UUID) -> list[StoredCycleView]:
    rows = await session.execute(
        select(cycles.c.cycle_number, cycles.c.state, cycles.c.status_since)
        .where(cycles.c.group_id == group_id, cycles.c.status != DROPPED)
        .order_by(cycles.c.cycle_number, cycles.c.starts_on)
    )
    # Of a cycle number's rounds (a retried round runs it again, later), the latest stands for it.
    latest = {row.cycle_number: StoredCycleView(state_of(row.state), row.status_since) for row in rows}
    return list(latest.values())


async def cycle_of_group(session: AsyncSession, group_id: UUID, cycle_number: int) -> StoredCycleView | None:
    row = (
        await session.execute(
            select(cycles.c.state, cycles.c.status_since)
            .where(
                cycles.c.group_id == group_id,
                cycles.c.cycle_number == cycle_number,
                cycles.c.status != DROPPED,
            )
            .order_by(cycles.c.starts_on.desc())
            .limit(1)
        )
    ).first()
    return StoredCycleView(state_of(row.state), row.status_since) if row else None


@dataclass(frozen=True)
class AttemptRow:
    attempt: int
    status: str
    failure_code: str | None
    payment_intent_id: str | None
    updated_at: datetime


async def attempts_of_cycle(session: AsyncSession, cycle_id: UUID) -> dict[UUID, list[AttemptRow]]:
    """Each contribution's debit attempts, first attempt first."""
    rows = await session.execute(
        select(debit_attempts)
        .where(debit_attempts.c.cycle_id == cycle_id)
        .order_by(debit_attempts.c.contribution_id, debit_attempts.c.attempt)
    )
    found: dict[UUID, list[AttemptRow]] = {}
    for row in rows:
        found.setdefault(row.contribution_id, []).append(
            AttemptRow(row.attempt, row.status, row.failure_code, row.payment_intent_id, row.updated_at)
        )
    return found


@dataclass(frozen=True)
class LedgerEntryRow:
    entry_id: int
    reference: str
    cycle_id: UUID
    # None for a transaction of the group as a whole (a write-off is filed under the group's id).
    cycle_number: int | None
    account_kind: str
    account_key: str
    amount: int
    currency: str
    posted_at: datetime


async def ledger_entries_of_group(
    session: AsyncSession, group_id: UUID, *, after: int | None, limit: int
) -> list[LedgerEntryRow]:
    """Up to ``limit`` entries of the group's cycles, in the order they were posted, after the
    entry ``after``."""
    query = (
        select(
            ledger_entries.c.entry_id,
            ledger_entries.c.reference,
            ledger_transactions.c.cycle_id,
            cycles.c.cycle_number,
            ledger_entries.c.account_kind,
            ledger_entries.c.account_key,
            ledger_entries.c.amount,
            ledger_entries.c.currency,
            ledger_transactions.c.posted_at,
        )
        .join(ledger_transactions, ledger_transactions.c.reference == ledger_entries.c.reference)
        .outerjoin(cycles, cycles.c.cycle_id == ledger_transactions.c.cycle_id)
        .where(_of_group(group_id))
        .order_by(ledger_entries.c.entry_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(ledger_entries.c.entry_id > after)
    return [LedgerEntryRow(**row._mapping) for row in await session.execute(query)]


@dataclass(frozen=True)
class BalanceRow:
    account_kind: str
    account_key: str
    currency: str
    balance: int


def _of_group(group_id: UUID) -> ColumnElement[bool]:
    """A ledger transaction of one of the group's cycles, or of the group as a whole (a write-off)."""
    return or_(cycles.c.group_id == group_id, ledger_transactions.c.cycle_id == group_id)


async def ledger_balances_of_group(session: AsyncSession, group_id: UUID) -> list[BalanceRow]:
    """Every account the group's cycles touched, with what the group's entries leave in it."""
    total = func.sum(ledger_entries.c.amount)
    rows = await session.execute(
        select(ledger_entries.c.account_kind, ledger_entries.c.account_key, ledger_entries.c.currency, total)
        .join(ledger_transactions, ledger_transactions.c.reference == ledger_entries.c.reference)
        .outerjoin(cycles, cycles.c.cycle_id == ledger_transactions.c.cycle_id)
        .where(_of_group(group_id))
        .group_by(ledger_entries.c.account_kind, ledger_entries.c.account_key, ledger_entries.c.currency)
        .order_by(ledger_entries.c.account_kind, ledger_entries.c.account_key, ledger_entries.c.currency)
    )
    return [BalanceRow(row[0], row[1], row[2], int(row[3])) for row in rows]


@dataclass(frozen=True)
class MemberContributionRow:
    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    cycle_status: str
    contribution_id: UUID
    amount: int
    currency: str
    status: str
    attempt: int
    failure_code: str | None
    deadline_on: date


async def contributions_of_member(
    session: AsyncSession, member_id: str, *, after: UUID | None, limit: int
) -> list[MemberContributionRow]:
    """The member's contributions across groups, by contribution id (a stable order to page by)."""
    query = (
        select(
            cycles.c.group_id,
            cycles.c.cycle_id,
            cycles.c.cycle_number,
            cycles.c.status.label("cycle_status"),
            contributions.c.contribution_id,
            contributions.c.amount,
            contributions.c.currency,
            contributions.c.status,
            contributions.c.attempt,
            contributions.c.last_failure_code.label("failure_code"),
            cycles.c.deadline_on,
        )
        .join(cycles, cycles.c.cycle_id == contributions.c.cycle_id)
        .where(contributions.c.member_id == member_id, cycles.c.status != DROPPED)
        .order_by(contributions.c.contribution_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(contributions.c.contribution_id > after)
    return [MemberContributionRow(**row._mapping) for row in await session.execute(query)]


@dataclass(frozen=True)
class UnfinishedCycle:
    group_id: UUID
    state: CycleState
    status_since: datetime


async def cycles_possibly_overdue(session: AsyncSession, cutoff: datetime) -> list[UnfinishedCycle]:
    """Unfinished cycles that may have been expected to move on before ``cutoff``: a superset of
    the overdue ones (the exact rule, in the group's zone and business days, is the domain's)."""
    # A start at 09:00 and a deadline at midnight, in any zone from UTC-12 to UTC+14, fall within a
    # day of the date: these bounds never leave out a cycle the exact rule would report.
    started_by = cutoff.date() + timedelta(days=1)
    closed_by = cutoff.date()
    waiting = [CycleStatus.FUNDED, CycleStatus.PAYING_OUT, CycleStatus.PAYOUT_PAUSED, CycleStatus.CANCELLING]
    rows = await session.execute(
        select(cycles.c.group_id, cycles.c.state, cycles.c.status_since).where(
            or_(
                and_(cycles.c.status == CycleStatus.SCHEDULED.value, cycles.c.starts_on <= started_by),
                and_(cycles.c.status == CycleStatus.COLLECTING.value, cycles.c.deadline_on <= closed_by),
                and_(
                    cycles.c.status.in_([status.value for status in waiting]),
                    cycles.c.status_since <= cutoff,
                ),
            )
        )
    )
    return [UnfinishedCycle(row.group_id, state_of(row.state), row.status_since) for row in rows]
