"""Cycles: the saga state of each, saved with a version check, and its queryable projection."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy import Column, Table, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.contribution import Contribution, ContributionStatus
from services.collections.domain.cycle import CycleState, CycleStatus
from services.collections.store.tables import contributions, cycles, debit_attempts

_STATE: Final = TypeAdapter(CycleState)
# The contribution's status when its current attempt failed: the attempt keeps the failure's code.
ATTEMPT_FAILED: Final = frozenset(
    {ContributionStatus.RETRY_SCHEDULED, ContributionStatus.AWAITING_MANDATE, ContributionStatus.FAILED_FINAL}
)


# A cycle's step loads and saves its cycle: both statements built once, run with the step's values
# (building a statement and its cache key on every call cost as much CPU as running it).
_CYCLE_LOCKED: Final = (
    select(cycles.c.state, cycles.c.version)
    .where(cycles.c.cycle_id == bindparam("b_cycle_id"))
    .with_for_update()
)
_SAVE_CYCLE: Final = (
    update(cycles)
    .where(cycles.c.cycle_id == bindparam("b_cycle_id"), cycles.c.version == bindparam("b_version"))
    .values(
        status=bindparam("b_status"),
        state=bindparam("b_state"),
        version=bindparam("b_new_version"),
        updated_at=bindparam("b_now"),
        status_since=case(
            (cycles.c.status == bindparam("b_status"), cycles.c.status_since), else_=bindparam("b_now")
        ),
    )
)


class ConcurrentCycleUpdateError(Exception):
    """Another message of the same cycle saved first: this message is tried again from the start."""


@dataclass(frozen=True)
class StoredCycle:
    state: CycleState
    version: int


def state_document(state: CycleState) -> dict[str, Any]:
    document: dict[str, Any] = _STATE.dump_python(state, mode="json")
    return document


def state_of(document: dict[str, Any]) -> CycleState:
    return _STATE.validate_python(document)


async def add_cycle(session: AsyncSession, state: CycleState, now: datetime) -> None:
    plan = state.plan
    await session.execute(
        insert(cycles).values(
            cycle_id=plan.cycle_id,
            group_id=plan.group_id,
            cycle_number=plan.cycle_number,
            status=state.status.value,
            starts_on=plan.starts_on,
            deadline_on=plan.deadline_on,
            state=state_document(state),
            version=1,
            updated_at=now,
            status_since=now,
        )
    )
    await _project(session, state, now, state.contributions)


async def load_cycle(session: AsyncSession, cycle_id: UUID) -> StoredCycle | None:
    """The cycle, locked until the transaction ends: messages of one cycle queue rather than race
    (the version check in ``save_cycle`` still guards any path that reads without this lock)."""
    row = (await session.execute(_CYCLE_LOCKED, {"b_cycle_id": cycle_id})).first()
    if row is None:
        return None
    return StoredCycle(state_of(row.state), row.version)


async def save_cycle(session: AsyncSession, stored: StoredCycle, state: CycleState, now: datetime) -> None:
    """Write ``state`` over the version it was decided from, or refuse if that version is gone."""
    saved = await session.execute(
        _SAVE_CYCLE,
        {
            "b_cycle_id": state.plan.cycle_id,
            "b_version": stored.version,
            "b_status": state.status.value,
            "b_state": state_document(state),
            "b_new_version": stored.version + 1,
            "b_now": now,
        },
    )
    if saved.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentCycleUpdateError(
            f"cycle {state.plan.cycle_id} changed since version {stored.version}"
        )
    await _project(session, state, now, changed_contributions(stored.state, state))


def changed_contributions(before: CycleState, after: CycleState) -> tuple[Contribution, ...]:
    """The contributions a step changed. A step changes one or a few: rewriting the rest was most
    of a step's cost (benchmarks/README.md), and would restamp rows nothing happened to."""
    earlier = {contribution.contribution_id: contribution for contribution in before.contributions}
    return tuple(c for c in after.contributions if earlier.get(c.contribution_id) != c)


def _upsert(table: Table, key: list[Column[Any]], updated: tuple[str, ...]) -> Insert:
    """One insert-or-update statement of ``table``, built once: executed with many rows at once and
    compiled once, where building it anew for each row cost more than the database's work."""
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=key, set_={name: statement.excluded[name] for name in updated}
    )


_UPSERT_CONTRIBUTIONS: Final = _upsert(
    contributions,
    [contributions.c.contribution_id],
    (
        "status",
        "attempt",
        "payment_intent_id",
        "charge_id",
        "last_failure_code",
        "next_attempt_at",
        "updated_at",
    ),
)
_UPSERT_ATTEMPTS: Final = _upsert(
    debit_attempts,
    [debit_attempts.c.contribution_id, debit_attempts.c.attempt],
    ("status", "mandate_id", "payment_intent_id", "charge_id", "failure_code", "updated_at"),
)


async def _project(
    session: AsyncSession, state: CycleState, now: datetime, contributions_to_write: tuple[Contribution, ...]
) -> None:
    """These contributions and their attempts as the state has them, for queries and correlation."""
    if not contributions_to_write:
        return
    await session.execute(
        _UPSERT_CONTRIBUTIONS,
        [{**contribution_key(state, c), **contribution_values(c, now)} for c in contributions_to_write],
    )
    attempts = [
        {**attempt_key(state, c), **attempt_values(c, now)} for c in contributions_to_write if c.attempt != 0
    ]
    if attempts:
        await session.execute(_UPSERT_ATTEMPTS, attempts)


def contribution_key(state: CycleState, contribution: Contribution) -> dict[str, Any]:
    """A contribution row's columns that never change."""
    return {
        "contribution_id": contribution.contribution_id,
        "cycle_id": state.plan.cycle_id,
        "member_id": contribution.member_id,
        "amount": contribution.amount,
        "currency": state.plan.currency,
    }


def contribution_values(contribution: Contribution, now: datetime) -> dict[str, Any]:
    """A contribution row's columns as the saga moves them."""
    return {
        "status": contribution.status.value,
        "attempt": contribution.attempt,
        "payment_intent_id": contribution.payment_intent_id,
        "charge_id": contribution.charge_id,
        "last_failure_code": contribution.last_failure_code,
        "next_attempt_at": contribution.next_attempt_at,
        "updated_at": now,
    }


def attempt_key(state: CycleState, contribution: Contribution) -> dict[str, Any]:
    """The row of the contribution's current debit attempt: its columns that never change."""
    return {
        "contribution_id": contribution.contribution_id,
        "attempt": contribution.attempt,
        "cycle_id": state.plan.cycle_id,
    }


def attempt_values(contribution: Contribution, now: datetime) -> dict[str, Any]:
    """The current debit attempt's columns as the saga moves them."""
    return {
        "status": contribution.status.value,
        "mandate_id": contribution.attempt_mandate_id,
        "payment_intent_id": contribution.payment_intent_id,
        "charge_id": contribution.charge_id,
        "failure_code": contribution.last_failure_code if contribution.status in ATTEMPT_FAILED else None,
        "updated_at": now,
    }


async def cycle_of_contribution(session: AsyncSession, contribution_id: UUID) -> UUID | None:
    found: UUID | None = await session.scalar(
        select(contributions.c.cycle_id).where(contributions.c.contribution_id == contribution_id)
    )
    return found


@dataclass(frozen=True)
class AttemptRef:
    cycle_id: UUID
    contribution_id: UUID
    attempt: int


async def attempt_of_payment_intent(session: AsyncSession, payment_intent_id: str) -> AttemptRef | None:
    row = (
        await session.execute(
            select(
                debit_attempts.c.cycle_id, debit_attempts.c.contribution_id, debit_attempts.c.attempt
            ).where(debit_attempts.c.payment_intent_id == payment_intent_id)
        )
    ).first()
    return AttemptRef(row.cycle_id, row.contribution_id, row.attempt) if row else None


async def cycles_of_member(session: AsyncSession, member_id: str, statuses: set[CycleStatus]) -> list[UUID]:
    found = await session.scalars(
        select(cycles.c.cycle_id)
        .join(contributions, contributions.c.cycle_id == cycles.c.cycle_id)
        .where(contributions.c.member_id == member_id, cycles.c.status.in_([s.value for s in statuses]))
        .order_by(cycles.c.starts_on)
    )
    return list(found.all())
