"""The rotation saga's state of each group: one JSONB document on the group's ``rotations`` row,
saved with a version check and locked while a message is decided, as a cycle's is."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.cycle import CycleState, CycleStatus
from services.collections.domain.rotation_messages import (
    DissolveGroup,
    RemoveMembers,
    RetryRound,
    RoundDecision,
)
from services.collections.domain.rotation_state import RotationState
from services.collections.store.cycles import StoredCycle, save_cycle
from services.collections.store.tables import contributions, cycles, rotations

# A cycle the rotation will never run (its recipient removed, or the group dissolved). Only the
# row's status says so: its saga state stays ``scheduled``, and nothing starts a dropped cycle.
DROPPED: Final = "dropped"

_STATE: Final = TypeAdapter(RotationState)
# The admin's decisions are stored by name: their fields overlap (a dissolution's are a subset of
# a retry's), so their shape alone cannot tell them apart.
_DECISIONS: Final[dict[str, TypeAdapter[Any]]] = {
    kind.__name__: TypeAdapter(kind) for kind in (RetryRound, RemoveMembers, DissolveGroup)
}


# Every cycle step loads and saves its group's rotation: both statements built once, run with the
# step's values (building a statement and its cache key on every call cost as much CPU as running it).
_ROTATION_LOCKED: Final = (
    select(rotations.c.state, rotations.c.version)
    .where(rotations.c.group_id == bindparam("b_group_id"))
    .with_for_update()
)
_SAVE_ROTATION: Final = (
    update(rotations)
    .where(rotations.c.group_id == bindparam("b_group_id"), rotations.c.version == bindparam("b_version"))
    .values(state=bindparam("b_state"), version=bindparam("b_new_version"), updated_at=bindparam("b_now"))
)


class ConcurrentRotationUpdateError(Exception):
    """Another message of the same group saved first: this message is tried again from the start."""


@dataclass(frozen=True)
class StoredRotation:
    state: RotationState
    version: int


def state_document(state: RotationState) -> dict[str, Any]:
    document: dict[str, Any] = _STATE.dump_python(replace(state, decisions=()), mode="json")
    document["decisions"] = [
        {
            "kind": type(decision).__name__,
            **_DECISIONS[type(decision).__name__].dump_python(decision, mode="json"),
        }
        for decision in state.decisions
    ]
    return document


def state_of(document: dict[str, Any]) -> RotationState:
    decisions: list[RoundDecision] = []
    for stored in document["decisions"]:
        fields = dict(stored)
        decisions.append(_DECISIONS[fields.pop("kind")].validate_python(fields))
    return replace(_STATE.validate_python({**document, "decisions": []}), decisions=tuple(decisions))


async def start_rotation(session: AsyncSession, state: RotationState, now: datetime) -> None:
    """Give the group's freshly recorded rotation row its saga state (version 1)."""
    await session.execute(
        update(rotations)
        .where(rotations.c.group_id == state.group_id)
        .values(state=state_document(state), version=1, updated_at=now)
    )


async def load_rotation(session: AsyncSession, group_id: UUID) -> StoredRotation | None:
    """The group's rotation, locked until the transaction ends; None for a group never activated
    here, or activated before the rotation saga ran."""
    row = (await session.execute(_ROTATION_LOCKED, {"b_group_id": group_id})).first()
    if row is None or row.state is None:
        return None
    return StoredRotation(state_of(row.state), row.version)


async def save_rotation(
    session: AsyncSession, stored: StoredRotation, state: RotationState, now: datetime
) -> None:
    saved = await session.execute(
        _SAVE_ROTATION,
        {
            "b_group_id": state.group_id,
            "b_version": stored.version,
            "b_state": state_document(state),
            "b_new_version": stored.version + 1,
            "b_now": now,
        },
    )
    if saved.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentRotationUpdateError(
            f"rotation {state.group_id} changed since version {stored.version}"
        )


async def group_of_cycle(session: AsyncSession, cycle_id: UUID) -> UUID | None:
    found: UUID | None = await session.scalar(select(cycles.c.group_id).where(cycles.c.cycle_id == cycle_id))
    return found


async def lock_cycles_of_group(session: AsyncSession, group_id: UUID) -> None:
    """Lock every cycle of the group, in one order, before its rotation: a cycle's step locks its
    cycle and then the rotation, so an admin's decision (which may stop or replan cycles) takes
    the same order and the two never wait on each other in a circle."""
    await session.execute(
        select(cycles.c.cycle_id)
        .where(cycles.c.group_id == group_id)
        .order_by(cycles.c.cycle_id)
        .with_for_update()
    )


async def replace_scheduled_plan(
    session: AsyncSession, stored: StoredCycle, state: CycleState, now: datetime
) -> None:
    """A cycle not started gets a new plan: new dates, perhaps fewer members (whose planned
    contributions go: nothing was ever debited for them)."""
    await save_cycle(session, stored, state, now)
    plan = state.plan
    await session.execute(
        update(cycles)
        .where(cycles.c.cycle_id == plan.cycle_id)
        .values(cycle_number=plan.cycle_number, starts_on=plan.starts_on, deadline_on=plan.deadline_on)
    )
    await session.execute(
        delete(contributions).where(
            contributions.c.cycle_id == plan.cycle_id,
            contributions.c.contribution_id.not_in([c.contribution_id for c in state.contributions]),
        )
    )


async def drop_scheduled_cycle(session: AsyncSession, cycle_id: UUID, now: datetime) -> bool:
    """Mark a cycle that never started dropped; False if it started (or is unknown)."""
    dropped = await session.execute(
        update(cycles)
        .where(cycles.c.cycle_id == cycle_id, cycles.c.status == CycleStatus.SCHEDULED.value)
        .values(status=DROPPED, updated_at=now)
        .returning(cycles.c.cycle_id)
    )
    return dropped.first() is not None


async def is_dropped(session: AsyncSession, cycle_id: UUID) -> bool:
    status: str | None = await session.scalar(select(cycles.c.status).where(cycles.c.cycle_id == cycle_id))
    return status == DROPPED
