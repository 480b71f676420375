"""The saga's reads and writes for a batch of messages applied in one transaction: each kind of
row in one statement for the whole batch, where ``cycles.py`` and ``ledger.py`` write one step's.

What they write is what the single-step functions write, row for row: a batch only shares the
statements (see ``service_layer/stripe_report_batches.py``).
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BindParameter, Table, Text, Uuid, any_, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.contribution import Contribution
from services.collections.domain.cycle import CycleState
from services.collections.domain.ledger import Transaction
from services.collections.domain.rotation_state import RotationState
from services.collections.store.cycles import (
    AttemptRef,
    ConcurrentCycleUpdateError,
    StoredCycle,
    attempt_key,
    attempt_values,
    contribution_key,
    contribution_values,
    state_document,
    state_of,
)
from services.collections.store.rotation_state import (
    ConcurrentRotationUpdateError,
    StoredRotation,
)
from services.collections.store.rotation_state import state_document as rotation_document
from services.collections.store.rotation_state import state_of as rotation_state_of
from services.collections.store.tables import (
    contributions,
    cycles,
    debit_attempts,
    ledger_entries,
    ledger_transactions,
    parked_stripe_events,
    rotations,
)


async def attempts_of_payment_intents(
    session: AsyncSession, payment_intent_ids: Collection[str]
) -> dict[str, AttemptRef]:
    """The debit attempt that recorded each of these PaymentIntents, of those recorded."""
    if not payment_intent_ids:
        return {}
    rows = await session.execute(
        select(
            debit_attempts.c.payment_intent_id,
            debit_attempts.c.cycle_id,
            debit_attempts.c.contribution_id,
            debit_attempts.c.attempt,
        ).where(debit_attempts.c.payment_intent_id == any_(_texts(payment_intent_ids)))
    )
    return {row.payment_intent_id: AttemptRef(row.cycle_id, row.contribution_id, row.attempt) for row in rows}


async def payment_intents_with_parked_events(
    session: AsyncSession, payment_intent_ids: Collection[str]
) -> set[str]:
    """Those of these PaymentIntents that have events parked, waiting for them to be recorded."""
    if not payment_intent_ids:
        return set()
    found = await session.scalars(
        select(parked_stripe_events.c.payment_intent_id)
        .where(
            parked_stripe_events.c.payment_intent_id == any_(_texts(payment_intent_ids)),
            parked_stripe_events.c.applied_at.is_(None),
        )
        .distinct()
    )
    return set(found)


async def lock_cycles(session: AsyncSession, cycle_ids: Collection[UUID]) -> dict[UUID, StoredCycle]:
    """These cycles, locked until the transaction ends, in cycle id order: every batch takes its
    locks in the same order, so two replicas' batches wait on each other, never in a circle."""
    if not cycle_ids:
        return {}
    rows = await session.execute(
        select(cycles.c.cycle_id, cycles.c.state, cycles.c.version)
        .where(cycles.c.cycle_id == any_(_uuids(cycle_ids)))
        .order_by(cycles.c.cycle_id)
        .with_for_update()
    )
    return {row.cycle_id: StoredCycle(state_of(row.state), row.version) for row in rows}


# Lists are sent as one array (``= ANY(...)``), not as ``IN`` with a parameter each: a statement of
# a new length is rendered and parsed again, which cost 10 ms for 200 ids (measured).
def _texts(values: Collection[str]) -> BindParameter[Any]:
    return bindparam("texts", list(values), type_=ARRAY(Text))


def _uuids(values: Collection[UUID]) -> BindParameter[Any]:
    return bindparam("uuids", list(values), type_=ARRAY(Uuid))


async def lock_rotations(session: AsyncSession, group_ids: Collection[UUID]) -> dict[UUID, StoredRotation]:
    """These groups' rotations, locked until the transaction ends, in group id order (after their
    cycles, as ``rotation_state.load_rotation`` locks one); a group without one is left out."""
    if not group_ids:
        return {}
    rows = await session.execute(
        select(rotations.c.group_id, rotations.c.state, rotations.c.version)
        .where(rotations.c.group_id == any_(_uuids(group_ids)))
        .order_by(rotations.c.group_id)
        .with_for_update()
    )
    return {
        row.group_id: StoredRotation(rotation_state_of(row.state), row.version)
        for row in rows
        if row.state is not None
    }


@dataclass(frozen=True)
class CycleSave:
    """A cycle's state after ``steps`` saga steps taken on ``stored``."""

    stored: StoredCycle
    state: CycleState
    steps: int


async def save_cycles(session: AsyncSession, saves: list[CycleSave], now: datetime) -> None:
    """Write each state over the version it was decided from, or refuse if one of them is gone.
    The version moves on by the steps taken, as it would have one save at a time."""
    if not saves:
        return
    saved = await session.execute(
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
        ),
        [
            {
                "b_cycle_id": save.state.plan.cycle_id,
                "b_version": save.stored.version,
                "b_status": save.state.status.value,
                "b_state": state_document(save.state),
                "b_new_version": save.stored.version + save.steps,
                # In each row, not in the statement: SQLAlchemy would rebuild a statement's own
                # values for every row of an executemany (a millisecond a row, measured).
                "b_now": now,
            }
            for save in saves
        ],
    )
    # psycopg sums the rows of every UPDATE of the executemany.
    written: int = saved.rowcount  # type: ignore[attr-defined]
    if written != len(saves):
        raise ConcurrentCycleUpdateError(f"{len(saves) - written} of {len(saves)} cycles changed meanwhile")


@dataclass(frozen=True)
class RotationSave:
    """A group's rotation state after ``steps`` rotation steps taken on ``stored``."""

    stored: StoredRotation
    state: RotationState
    steps: int


async def save_rotations(session: AsyncSession, saves: list[RotationSave], now: datetime) -> None:
    """As ``save_cycles``, for the groups' rotations (``rotation_state.save_rotation``'s writes)."""
    if not saves:
        return
    saved = await session.execute(
        update(rotations)
        .where(rotations.c.group_id == bindparam("b_group_id"), rotations.c.version == bindparam("b_version"))
        .values(
            state=bindparam("b_state"), version=bindparam("b_new_version"), updated_at=bindparam("b_now")
        ),
        [
            {
                "b_group_id": save.state.group_id,
                "b_version": save.stored.version,
                "b_state": rotation_document(save.state),
                "b_new_version": save.stored.version + save.steps,
                "b_now": now,
            }
            for save in saves
        ],
    )
    written: int = saved.rowcount  # type: ignore[attr-defined]
    if written != len(saves):
        raise ConcurrentRotationUpdateError(
            f"{len(saves) - written} of {len(saves)} rotations changed meanwhile"
        )


async def project_contributions(
    session: AsyncSession, written: list[tuple[CycleState, Contribution]], now: datetime
) -> None:
    """Each contribution and its current attempt as the state next to it has them: rows as
    ``cycles._project`` writes them one step at a time."""
    contribution_rows, attempt_rows = projection_rows(written, now)
    await _upsert(session, contributions, ["contribution_id"], contribution_rows)
    await _upsert(session, debit_attempts, ["contribution_id", "attempt"], attempt_rows)


Row = tuple[dict[str, Any], dict[str, Any]]  # (columns that never change, columns the saga moves)


def projection_rows(
    written: list[tuple[CycleState, Contribution]], now: datetime
) -> tuple[dict[UUID, Row], dict[tuple[UUID, int], Row]]:
    """The contribution rows and the attempt rows that steps taken one after the other leave, by
    key: a contribution's latest row, and the latest row of each attempt it made (an attempt
    replaced within the batch keeps the row its last step wrote)."""
    contribution_rows: dict[UUID, Row] = {}
    attempt_rows: dict[tuple[UUID, int], Row] = {}
    for state, contribution in written:
        contribution_rows[contribution.contribution_id] = (
            contribution_key(state, contribution),
            contribution_values(contribution, now),
        )
        if contribution.attempt != 0:
            attempt_rows[(contribution.contribution_id, contribution.attempt)] = (
                attempt_key(state, contribution),
                attempt_values(contribution, now),
            )
    return contribution_rows, attempt_rows


async def _upsert(
    session: AsyncSession,
    table: Table,
    key_columns: list[str],
    rows: Mapping[Any, Row],
) -> None:
    """Insert each (key columns, moving columns) row, or update its moving columns; by key, so two
    batches touching the same rows lock them in the same order."""
    if not rows:
        return
    _, moving = next(iter(rows.values()))
    upsert = insert(table)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[table.c[column] for column in key_columns],
            set_={column: upsert.excluded[column] for column in moving},
        ),
        [{**key, **values} for _, (key, values) in sorted(rows.items())],
    )


async def post_all(session: AsyncSession, postings: list[tuple[UUID, Transaction]], now: datetime) -> None:
    """Book each (cycle, transaction) once by its reference, as ``ledger.post`` does one at a time."""
    first: dict[str, tuple[UUID, Transaction]] = {}
    for cycle_id, transaction in postings:
        first.setdefault(transaction.reference, (cycle_id, transaction))
    if not first:
        return
    added = await session.execute(
        insert(ledger_transactions).on_conflict_do_nothing().returning(ledger_transactions.c.reference),
        [
            {"reference": reference, "cycle_id": cycle_id, "currency": transaction.currency, "posted_at": now}
            for reference, (cycle_id, transaction) in first.items()
        ],
    )
    new = set(added.scalars())  # a reference booked before was the same step's: left as it is
    entries = [
        {
            "reference": reference,
            "account_kind": entry.account.kind.value,
            "account_key": entry.account.key,
            "amount": entry.amount,
            "currency": transaction.currency,
        }
        for reference, (_, transaction) in first.items()
        if reference in new
        for entry in transaction.entries
    ]
    if entries:
        await session.execute(insert(ledger_entries), entries)
