"""Activating groups: when the last member joins or becomes ready, the group locks and says so."""

import logging
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from services.onboarding.domain.groups import GroupStatus, activate, activation_blockers
from services.onboarding.metrics import GROUPS_ACTIVATED
from services.onboarding.store.groups import GroupStore
from services.onboarding.store.members import MemberStore
from services.runtime.clock import Clock
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)


async def activate_if_complete(
    session: AsyncSession, group_id: UUID, *, clock: Clock, causation_id: UUID | None
) -> bool:
    """Activate the group if it is full and every member ready; True if this call activated it.

    The group's row lock makes the check and the activation one step: two members becoming ready
    at once activate the group once.
    """
    groups = GroupStore(session)
    group = await groups.get(group_id, lock=True)
    if group.status is not GroupStatus.FORMING:
        return False
    seats = await groups.seats(group_id)
    members = await MemberStore(session).states([seat.member_id for seat in seats])
    now = clock.now()
    if activation_blockers(group, seats, members, now):
        return False
    locked, activated = activate(group, seats, members, now, causation_id)
    await groups.save(locked)
    await add_to_outbox(session, subjects.ONBOARDING_GROUP_ACTIVATED, activated)
    GROUPS_ACTIVATED.inc()
    log.info("group %s activated with %d members", group_id, len(seats))
    return True


async def activate_groups_of(
    session: AsyncSession, member_id: str, *, clock: Clock, causation_id: UUID | None
) -> None:
    """A member became ready: each forming group of theirs may now be complete."""
    for group_id in await GroupStore(session).forming_ids_of(member_id):
        await activate_if_complete(session, group_id, clock=clock, causation_id=causation_id)
