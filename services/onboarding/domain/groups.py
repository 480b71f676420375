"""Groups: who may join, leave or change one, and when its admin may start it.

Pure: no I/O. A group forms (members join and leave, the admin adjusts its terms and payout
order, members choose their slots). Once it is full, every member is ready and its payout order
is complete, it is ready to start, and stays so, still open to changes of its order, until its
admin starts it: then it activates, its order is locked, and the circle belongs to collections.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.onboarding import ActivatedMember, GroupActivated, GroupPolicy, PayoutOrderDraw
from services.onboarding.domain.errors import DomainError
from services.onboarding.domain.group_terms import GroupTerms
from services.onboarding.domain.members import MemberState
from services.onboarding.domain.payout_order import (
    DRAW_ALGORITHM,
    PayoutOrderMethod,
    Seat,
    payout_order,
    seed_commitment,
)


class GroupStatus(StrEnum):
    FORMING = "forming"
    # Never stored: a forming group with nothing left to wait for but its admin's start.
    READY_TO_START = "ready_to_start"
    ACTIVE = "active"


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class GroupNotFoundError(DomainError):
    """Also what a non-member hears: whether a group exists is the members' business."""

    kind = "group_not_found"


class NotGroupAdminError(DomainError):
    kind = "not_group_admin"


class GroupFullError(DomainError):
    kind = "group_full"


class GroupLockedError(DomainError):
    kind = "group_already_active"


class AdminCannotLeaveError(DomainError):
    kind = "admin_cannot_leave"


@dataclass(frozen=True)
class StartBlocker:
    """One thing the start waits for: ``field`` is where it lies in the group (``members``,
    ``members.<member_id>``, ``members.<member_id>.chosen_slot``, ``start_date``), ``message``
    says it in a sentence of its own."""

    field: str
    message: str


class GroupNotReadyToStartError(DomainError):
    """Its ``problems`` are the blockers, one each, so a client can show each where it lies."""

    kind = "group_not_ready_to_start"

    def __init__(self, blockers: Sequence[StartBlocker]) -> None:
        super().__init__(f"the group cannot start yet: {'; '.join(b.message for b in blockers)}")
        self.problems = tuple(blockers)


@dataclass(frozen=True)
class Group:
    group_id: UUID
    terms: GroupTerms
    admin_member_id: str
    status: GroupStatus
    invite_code: str
    draw_seed: str
    fixed_order: tuple[str, ...] = ()
    locked_order: tuple[str, ...] = ()
    activated_at: datetime | None = None

    @property
    def seed_commitment(self) -> str:
        return seed_commitment(self.draw_seed)


def is_member(seats: Sequence[Seat], member_id: str) -> bool:
    return any(seat.member_id == member_id for seat in seats)


def require_member(seats: Sequence[Seat], member_id: str) -> None:
    if not is_member(seats, member_id):
        raise GroupNotFoundError("no such group among yours")


def require_admin(group: Group, seats: Sequence[Seat], member_id: str) -> None:
    require_member(seats, member_id)
    if group.admin_member_id != member_id:
        raise NotGroupAdminError("only the group's admin may do this")


def require_forming(group: Group) -> None:
    if group.status is not GroupStatus.FORMING:
        raise GroupLockedError("the group has started: its members, terms and order are locked")


def may_join(group: Group, seats: Sequence[Seat], member_id: str) -> bool:
    """False when the member is already in (joining twice changes nothing)."""
    if is_member(seats, member_id):
        return False
    require_forming(group)
    if len(seats) >= group.terms.size:
        raise GroupFullError(f"the group already has its {group.terms.size} members")
    return True


def check_may_leave(group: Group, seats: Sequence[Seat], member_id: str) -> None:
    require_member(seats, member_id)
    require_forming(group)
    if group.admin_member_id == member_id:
        raise AdminCannotLeaveError("the admin cannot leave the group they run")


def start_blockers(
    group: Group, seats: Sequence[Seat], members: Mapping[str, MemberState], now: datetime
) -> list[StartBlocker]:
    """Why the admin cannot start the group yet, for the group's page; empty when they can."""
    if group.status is not GroupStatus.FORMING:
        return []
    blockers = []
    if len(seats) < group.terms.size:
        blockers.append(StartBlocker("members", f"{len(seats)} of {group.terms.size} members have joined"))
    in_joining_order = sorted(seats, key=lambda seat: seat.join_seq)
    for seat in in_joining_order:
        state = members.get(seat.member_id)
        if state is None or not state.ready:
            # What a member lacks is theirs to see (GET /members/me), not the group's.
            blockers.append(StartBlocker(f"members.{seat.member_id}", f"{seat.member_id} is not ready yet"))
    if group.terms.payout_order_method is PayoutOrderMethod.MEMBERS_CHOICE:
        # Each member's choice is the point of this method: nobody's slot is chosen for them.
        blockers.extend(
            StartBlocker(
                f"members.{seat.member_id}.chosen_slot", f"{seat.member_id} has not chosen a payout slot"
            )
            for seat in in_joining_order
            if seat.chosen_slot is None
        )
    today = now.astimezone(ZoneInfo(group.terms.timezone)).date()
    if group.terms.start_date <= today:
        blockers.append(
            StartBlocker("start_date", "the start date has passed: the admin must choose a new one")
        )
    return blockers


def shown_status(group: Group, blockers: Sequence[StartBlocker]) -> GroupStatus:
    """The status members see: a forming group that waits only for its admin is ready to start."""
    if group.status is GroupStatus.FORMING and not blockers:
        return GroupStatus.READY_TO_START
    return group.status


def activate(
    group: Group,
    seats: Sequence[Seat],
    members: Mapping[str, MemberState],
    now: datetime,
    causation_id: UUID | None = None,
) -> tuple[Group, GroupActivated]:
    """The started group, its order locked, and the fact to publish; only when ``start_blockers``
    is empty."""
    require_forming(group)
    if blockers := start_blockers(group, seats, members, now):
        raise GroupNotReadyToStartError(blockers)
    terms = group.terms
    order = payout_order(
        terms.payout_order_method, seats, fixed_order=group.fixed_order, seed=group.draw_seed
    )
    activated = GroupActivated(
        occurred_at=now,
        correlation_id=str(group.group_id),
        causation_id=causation_id,
        group_id=group.group_id,
        name=terms.name,
        admin_member_id=group.admin_member_id,
        contribution_amount=terms.contribution_amount,
        currency="aud",
        cadence=terms.cadence.value,
        start_date=terms.start_date,
        timezone=terms.timezone,
        size=terms.size,
        policy=GroupPolicy(
            attempt_limit=terms.policy.attempt_limit,
            retry_spacing_business_days=terms.policy.retry_spacing_business_days,
            collection_window_business_days=terms.policy.collection_window_business_days,
            platform_fee_bps=terms.policy.platform_fee_bps,
        ),
        payout_order_method=terms.payout_order_method.value,
        draw=(
            PayoutOrderDraw(
                algorithm=DRAW_ALGORITHM, seed=group.draw_seed, seed_commitment=group.seed_commitment
            )
            if terms.payout_order_method is PayoutOrderMethod.RANDOM_DRAW
            else None
        ),
        members=[
            _activated_member(position, members[member_id]) for position, member_id in enumerate(order, 1)
        ],
        activated_at=now,
    )
    locked = replace(group, status=GroupStatus.ACTIVE, locked_order=tuple(order), activated_at=now)
    return locked, activated


def _activated_member(position: int, member: MemberState) -> ActivatedMember:
    # The start checked readiness: every one of these is set.
    assert member.customer_id is not None
    assert member.payment_method_id is not None
    assert member.mandate_id is not None
    assert member.payout_account is not None
    return ActivatedMember(
        position=position,
        member_id=member.member_id,
        customer_id=member.customer_id,
        payment_method_id=member.payment_method_id,
        mandate_id=member.mandate_id,
        connected_account_id=member.payout_account.account_id,
    )
