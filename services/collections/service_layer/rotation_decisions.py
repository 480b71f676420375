"""The group admin's decisions, for the admin API: each one step of the group's rotation saga in
the caller's transaction.

``decided_by`` is the caller's member id (from their token); the saga checks it is the group's
admin. A decision the saga refuses raises its ``rotation_errors.DecisionRefusedError`` subtype
(``NotGroupAdminError``, ``DecisionNotExpectedError``, ``InvalidDecisionError``) and changes
nothing; a group with no rotation raises ``UnknownRotationError``. The same decision asked again
(a retried request) changes nothing and answers the same state.
"""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.rotation_messages import (
    DissolveGroup,
    RemoveMembers,
    RetryRound,
    RotationMessage,
    WriteOffReceivable,
)
from services.collections.domain.rotation_state import RotationState
from services.collections.service_layer.rotation_steps import apply_to_rotation
from services.collections.store.rotation_state import lock_cycles_of_group


async def retry_round(
    session: AsyncSession,
    group_id: UUID,
    cycle_id: UUID,
    *,
    decided_by: str,
    now: datetime,
    start_on: date | None = None,
) -> RotationState:
    """Run cancelled cycle ``cycle_id`` again (a new round, same recipient) from ``start_on`` or
    the next business day; the held cycles follow it at the group's cadence."""
    return await _decide(session, group_id, RetryRound(now, decided_by, cycle_id, start_on), now)


async def remove_members(
    session: AsyncSession,
    group_id: UUID,
    cycle_id: UUID,
    member_ids: tuple[str, ...],
    *,
    decided_by: str,
    now: datetime,
    start_on: date | None = None,
) -> RotationState:
    """Take defaulting members of cancelled cycle ``cycle_id`` out and go on without them."""
    return await _decide(
        session, group_id, RemoveMembers(now, decided_by, cycle_id, member_ids, start_on), now
    )


async def dissolve(
    session: AsyncSession, group_id: UUID, cycle_id: UUID, *, decided_by: str, now: datetime
) -> RotationState:
    """End the group after cancelled cycle ``cycle_id``: a cycle collecting is stopped and refunded."""
    return await _decide(session, group_id, DissolveGroup(now, decided_by, cycle_id), now)


async def write_off(
    session: AsyncSession, group_id: UUID, member_id: str, *, decided_by: str, now: datetime
) -> RotationState:
    """Give up on every debt ``member_id`` still owes the group after disputes."""
    return await _decide(session, group_id, WriteOffReceivable(now, decided_by, member_id), now)


async def _decide(
    session: AsyncSession, group_id: UUID, decision: RotationMessage, now: datetime
) -> RotationState:
    # Cycles before the rotation, the order a cycle's own step takes (see ``rotation_steps``).
    await lock_cycles_of_group(session, group_id)
    return await apply_to_rotation(session, group_id, decision, now, cause=None)
