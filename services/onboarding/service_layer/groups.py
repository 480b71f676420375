"""Groups: create, invite, join, leave, adjust terms and payout order, start, read; each under the
group's lock."""

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from services.onboarding.domain.group_terms import (
    GroupTerms,
    Policy,
    check_terms,
)
from services.onboarding.domain.groups import (
    Group,
    GroupStatus,
    Role,
    activate,
    check_may_leave,
    may_join,
    require_admin,
    require_forming,
    require_member,
    shown_status,
    start_blockers,
)
from services.onboarding.domain.payout_order import (
    InvalidPayoutOrderError,
    PayoutOrderMethod,
    Seat,
    WrongPayoutOrderMethodError,
    check_slot_choice,
    checked_fixed_order,
    fixed_order_with,
    fixed_order_without,
)
from services.onboarding.metrics import GROUPS_ACTIVATED
from services.onboarding.store.groups import GroupStore
from services.onboarding.store.members import MemberRecord, MemberStore
from services.runtime.clock import Clock
from services.runtime.db import Database
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)

# No 0/O or 1/I: codes are read aloud and typed from a message.
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INVITE_LENGTH = 8


@dataclass(frozen=True)
class GroupSnapshot:
    """A group as one of its members sees it."""

    group: Group
    seats: list[Seat]
    members: dict[str, MemberRecord]
    joined_at: dict[str, datetime]
    status: GroupStatus
    waiting_for: list[str]


async def create_group(database: Database, clock: Clock, member_id: str, terms: GroupTerms) -> GroupSnapshot:
    now = clock.now()
    check_terms(terms, now)
    async with database.transaction() as session:
        await MemberStore(session).get(member_id)
        groups = GroupStore(session)
        group = Group(
            group_id=uuid4(),
            terms=terms,
            admin_member_id=member_id,
            status=GroupStatus.FORMING,
            invite_code=await _unused_invite_code(groups),
            # Secret until activation; members see its SHA-256 from now on (payout_order.py).
            draw_seed=secrets.token_hex(32),
            fixed_order=(member_id,) if terms.payout_order_method is PayoutOrderMethod.FIXED else (),
        )
        await groups.add(group, now)
        await groups.add_seat(group.group_id, member_id, Role.ADMIN, now)
        return await _view(session, group.group_id, clock)


async def join_group(database: Database, clock: Clock, member_id: str, invite_code: str) -> GroupSnapshot:
    """Join by invite code; joining a group one is in already changes nothing."""
    async with database.transaction() as session:
        await MemberStore(session).get(member_id)
        groups = GroupStore(session)
        group = await groups.with_invite_code(invite_code.upper(), lock=True)
        if may_join(group, await groups.seats(group.group_id), member_id):
            await groups.add_seat(group.group_id, member_id, Role.MEMBER, clock.now())
            if group.terms.payout_order_method is PayoutOrderMethod.FIXED:
                await groups.save(replace(group, fixed_order=fixed_order_with(group.fixed_order, member_id)))
        return await _view(session, group.group_id, clock)


async def leave_group(database: Database, clock: Clock, member_id: str, group_id: UUID) -> None:
    async with database.transaction() as session:
        groups = GroupStore(session)
        group = await groups.get(group_id, lock=True)
        check_may_leave(group, await groups.seats(group_id), member_id)
        await groups.remove_seat(group_id, member_id)
        if group.fixed_order:
            await groups.save(replace(group, fixed_order=fixed_order_without(group.fixed_order, member_id)))


async def change_terms(
    database: Database,
    clock: Clock,
    member_id: str,
    group_id: UUID,
    *,
    start_date: date | None,
    policy_change: Callable[[Policy], Policy] | None,
) -> GroupSnapshot:
    """The admin moves the start date or changes the policy while the group forms."""
    async with database.transaction() as session:
        groups = GroupStore(session)
        group = await groups.get(group_id, lock=True)
        require_admin(group, await groups.seats(group_id), member_id)
        require_forming(group)
        terms = replace(
            group.terms,
            start_date=start_date or group.terms.start_date,
            policy=policy_change(group.terms.policy) if policy_change else group.terms.policy,
        )
        check_terms(terms, clock.now())
        await groups.save(replace(group, terms=terms))
        return await _view(session, group_id, clock)


async def set_payout_order(
    database: Database,
    clock: Clock,
    member_id: str,
    group_id: UUID,
    *,
    method: PayoutOrderMethod,
    order: list[str] | None,
) -> GroupSnapshot:
    """The admin chooses how the order is decided; with ``fixed``, the order itself."""
    async with database.transaction() as session:
        groups = GroupStore(session)
        group = await groups.get(group_id, lock=True)
        seats = await groups.seats(group_id)
        require_admin(group, seats, member_id)
        require_forming(group)
        if order is not None and method is not PayoutOrderMethod.FIXED:
            raise InvalidPayoutOrderError("an order is given only with the fixed method")
        members = [seat.member_id for seat in seats]
        fixed = checked_fixed_order(order if order is not None else members, members)
        terms = replace(group.terms, payout_order_method=method)
        await groups.save(
            replace(group, terms=terms, fixed_order=fixed if method is PayoutOrderMethod.FIXED else ())
        )
        return await _view(session, group_id, clock)


async def choose_payout_slot(
    database: Database, clock: Clock, member_id: str, group_id: UUID, slot: int | None
) -> GroupSnapshot:
    """A member picks (or, with None, gives up) their slot, when the group lets members choose."""
    async with database.transaction() as session:
        groups = GroupStore(session)
        group = await groups.get(group_id, lock=True)
        seats = await groups.seats(group_id)
        require_member(seats, member_id)
        require_forming(group)
        if group.terms.payout_order_method is not PayoutOrderMethod.MEMBERS_CHOICE:
            raise WrongPayoutOrderMethodError("this group's payout order is not chosen by its members")
        if slot is not None:
            check_slot_choice(slot, member_id, seats, group.terms.size)
        await groups.choose_slot(group_id, member_id, slot)
        return await _view(session, group_id, clock)


async def new_invite_code(database: Database, clock: Clock, member_id: str, group_id: UUID) -> GroupSnapshot:
    """The admin replaces the invite code: the old one stops working."""
    async with database.transaction() as session:
        groups = GroupStore(session)
        group = await groups.get(group_id, lock=True)
        require_admin(group, await groups.seats(group_id), member_id)
        require_forming(group)
        await groups.save(replace(group, invite_code=await _unused_invite_code(groups)))
        return await _view(session, group_id, clock)


async def start_group(database: Database, clock: Clock, member_id: str, group_id: UUID) -> GroupSnapshot:
    """The admin starts the group: its order is locked and ``group_activated`` published, once.

    Starting a group that has started already changes nothing, so a retried request is harmless.
    The group's row lock makes the check and the start one step.
    """
    async with database.transaction() as session:
        groups = GroupStore(session)
        group = await groups.get(group_id, lock=True)
        seats = await groups.seats(group_id)
        require_admin(group, seats, member_id)
        if group.status is GroupStatus.FORMING:
            members = await MemberStore(session).states([seat.member_id for seat in seats])
            started, activated = activate(group, seats, members, clock.now())
            await groups.save(started)
            await add_to_outbox(session, subjects.ONBOARDING_GROUP_ACTIVATED, activated)
            GROUPS_ACTIVATED.inc()
            log.info("group %s started with %d members", group_id, len(seats))
        return await _view(session, group_id, clock)


async def read_group(database: Database, clock: Clock, member_id: str, group_id: UUID) -> GroupSnapshot:
    async with database.transaction() as session:
        view = await _view(session, group_id, clock)
    require_member(view.seats, member_id)
    return view


async def groups_of(database: Database, clock: Clock, member_id: str) -> list[GroupSnapshot]:
    async with database.transaction() as session:
        await MemberStore(session).get(member_id)
        return [
            await _view(session, group.group_id, clock)
            for group in await GroupStore(session).of_member(member_id)
        ]


async def _view(session: AsyncSession, group_id: UUID, clock: Clock) -> GroupSnapshot:
    groups = GroupStore(session)
    group = await groups.get(group_id)
    seats, joined_at = await groups.seating(group_id)
    members = await MemberStore(session).records([seat.member_id for seat in seats])
    states = {member_id: record.state for member_id, record in members.items()}
    blockers = start_blockers(group, seats, states, clock.now())
    status = shown_status(group, blockers)
    return GroupSnapshot(
        group=group,
        seats=seats,
        members=members,
        joined_at=joined_at,
        status=status,
        waiting_for=(
            ["the admin to start the group"]
            if status is GroupStatus.READY_TO_START
            else [blocker.message for blocker in blockers]
        ),
    )


async def _unused_invite_code(groups: GroupStore) -> str:
    while True:
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        if not await groups.invite_code_taken(code):
            return code
