"""HTTP edge for groups: create, join by invite code, leave, read, and the admin's changes.

A group is visible only to its members: to anyone else it does not exist (404). Changing its
terms, payout order or invite code takes the admin role (403 for other members).
"""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StringConstraints

from services.onboarding import groups
from services.onboarding.api import documented_errors
from services.onboarding.deps import CallerDep
from services.onboarding.group_rules import (
    GroupStatus,
    Role,
)
from services.onboarding.group_terms import (
    CURRENCY,
    MAX_CONTRIBUTION,
    MAX_SIZE,
    MIN_CONTRIBUTION,
    MIN_SIZE,
    Cadence,
    GroupTerms,
    Policy,
    default_policy,
)
from services.onboarding.payout_order import DRAW_ALGORITHM, PayoutOrderMethod, payout_order
from services.runtime.service import RuntimeDep

router = APIRouter(
    prefix="/groups", tags=["groups"], responses=documented_errors(400, 401, 403, 404, 409, 422, 503)
)

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]
MemberId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
GroupId = Annotated[UUID, Field(description="The group's id.")]


class PolicyChoice(BaseModel):
    """Any field left out takes the cadence's default (weekly 2/1/5, fortnightly 3/1/10, monthly 3/2/15)."""

    attempt_limit: int | None = Field(
        default=None, description="Most debit attempts per contribution, the first included (1-5)."
    )
    retry_spacing_business_days: int | None = Field(
        default=None, description="Business days between a failed debit's notice and its retry (1-10)."
    )
    collection_window_business_days: int | None = Field(
        default=None,
        description="Business days each cycle has to collect every contribution: at most the cadence's "
        "(weekly 5, fortnightly 10, monthly 20), and enough for every attempt (2 business days each "
        "to settle, plus the spacing).",
    )
    platform_fee_bps: int | None = Field(default=None, description="Platform fee in basis points (0-1000).")

    def applied_to(self, policy: Policy) -> Policy:
        return Policy(
            attempt_limit=_either(self.attempt_limit, policy.attempt_limit),
            retry_spacing_business_days=_either(
                self.retry_spacing_business_days, policy.retry_spacing_business_days
            ),
            collection_window_business_days=_either(
                self.collection_window_business_days, policy.collection_window_business_days
            ),
            platform_fee_bps=_either(self.platform_fee_bps, policy.platform_fee_bps),
        )


class NewGroup(BaseModel):
    name: Name = Field(description="1-80 characters.")
    contribution_amount: int = Field(
        description=f"What each member pays each cycle, in cents ({MIN_CONTRIBUTION}-{MAX_CONTRIBUTION})."
    )
    currency: Annotated[str, StringConstraints(max_length=10)] = Field(
        default=CURRENCY, description="aud (BECS Direct Debit collects Australian dollars only)."
    )
    cadence: Cadence = Field(description="How often a cycle starts.")
    size: int = Field(description=f"Members, and cycles ({MIN_SIZE}-{MAX_SIZE}).")
    start_date: date = Field(description="The first cycle's date: after today, within a year.")
    timezone: Annotated[str, StringConstraints(max_length=64)] = Field(
        default="Australia/Sydney", description="IANA time zone the dates are in."
    )
    policy: PolicyChoice = Field(default_factory=PolicyChoice, description="Retries, window and fee.")
    payout_order_method: PayoutOrderMethod = Field(
        default=PayoutOrderMethod.JOIN_ORDER,
        description="fixed (the admin sets it), join_order, random_draw (seeded, verifiable) or "
        "members_choice (members pick open slots; the rest fill in join order).",
    )


class TermsChange(BaseModel):
    start_date: date | None = Field(default=None, description="A new first cycle date.")
    policy: PolicyChoice | None = Field(default=None, description="Fields to change; the others stay.")


class Invitation(BaseModel):
    invite_code: str = Field(
        pattern=r"^[A-Za-z0-9]{8}$", description="The 8-character code the admin shared."
    )


class OrderChoice(BaseModel):
    method: PayoutOrderMethod = Field(description="How the payout order is decided.")
    order: list[MemberId] | None = Field(
        default=None,
        max_length=MAX_SIZE,
        description="With fixed: every member id, first recipient first. Default: the join order.",
    )


class SlotChoice(BaseModel):
    slot: int | None = Field(description="The cycle (1 = first) whose pot you want; null to give yours up.")


class PolicyView(BaseModel):
    attempt_limit: int
    retry_spacing_business_days: int
    collection_window_business_days: int
    platform_fee_bps: int


class PayoutOrderView(BaseModel):
    method: PayoutOrderMethod
    locked: bool = Field(description="True once the group is active: the order never changes again.")
    order: list[str] | None = Field(description="Member ids, first recipient first, when already known.")
    draw_algorithm: str | None = Field(description="For random_draw: how the order is drawn from the seed.")
    seed_commitment: str | None = Field(
        description="For random_draw: SHA-256 of the seed, fixed at creation."
    )
    seed: str | None = Field(description="For random_draw: the seed, revealed at activation.")


class GroupMemberView(BaseModel):
    member_id: str
    display_name: str
    role: Role
    joined_at: datetime
    ready: bool = Field(description="Whether this member is ready (details are theirs alone).")
    chosen_slot: int | None
    position: int | None = Field(description="Place in the payout order, once locked.")


class GroupView(BaseModel):
    group_id: UUID
    name: str
    status: GroupStatus = Field(description="forming until full and every member ready; then active.")
    admin_member_id: str
    your_role: Role
    invite_code: str | None = Field(description="Share it to invite; null once the group is active.")
    contribution_amount: int = Field(description="Per member per cycle, in cents.")
    currency: str
    cadence: Cadence
    size: int
    start_date: date
    timezone: str
    policy: PolicyView
    payout_order: PayoutOrderView
    members: list[GroupMemberView] = Field(description="In the order they joined.")
    waiting_for: list[str] = Field(description="What activation still waits for; empty once active.")
    activated_at: datetime | None


class GroupSummary(BaseModel):
    group_id: UUID
    name: str
    status: GroupStatus
    your_role: Role
    start_date: date
    size: int


@router.post("", summary="Create a group: the caller becomes its admin and first member", status_code=201)
async def create_group(new: NewGroup, caller: CallerDep, runtime: RuntimeDep) -> GroupView:
    terms = GroupTerms(
        name=new.name,
        contribution_amount=new.contribution_amount,
        currency=new.currency,
        cadence=new.cadence,
        size=new.size,
        start_date=new.start_date,
        timezone=new.timezone,
        policy=new.policy.applied_to(default_policy(new.cadence)),
        payout_order_method=new.payout_order_method,
    )
    return _view(
        await groups.create_group(runtime.database, runtime.clock, caller.member_id, terms), caller.member_id
    )


@router.get("", summary="The caller's groups")
async def list_groups(caller: CallerDep, runtime: RuntimeDep) -> list[GroupSummary]:
    return [
        GroupSummary(
            group_id=group.group_id,
            name=group.terms.name,
            status=group.status,
            your_role=Role.ADMIN if group.admin_member_id == caller.member_id else Role.MEMBER,
            start_date=group.terms.start_date,
            size=group.terms.size,
        )
        for group in await groups.groups_of(runtime.database, caller.member_id)
    ]


@router.post("/join", summary="Join a group by its invite code (joining again changes nothing)")
async def join_group(invitation: Invitation, caller: CallerDep, runtime: RuntimeDep) -> GroupView:
    view = await groups.join_group(runtime.database, runtime.clock, caller.member_id, invitation.invite_code)
    return _view(view, caller.member_id)


@router.get("/{group_id}", summary="A group of the caller's: terms, members, payout order, what it waits for")
async def read_group(group_id: GroupId, caller: CallerDep, runtime: RuntimeDep) -> GroupView:
    return _view(
        await groups.read_group(runtime.database, runtime.clock, caller.member_id, group_id), caller.member_id
    )


@router.post(
    "/{group_id}/leave",
    summary="Leave a group before it starts (not its admin)",
    status_code=204,
    response_class=Response,
)
async def leave_group(group_id: GroupId, caller: CallerDep, runtime: RuntimeDep) -> Response:
    await groups.leave_group(runtime.database, runtime.clock, caller.member_id, group_id)
    return Response(status_code=204)


@router.patch(
    "/{group_id}", summary="Admin: move the start date or change the policy before the group starts"
)
async def change_group(
    group_id: GroupId, change: TermsChange, caller: CallerDep, runtime: RuntimeDep
) -> GroupView:
    view = await groups.change_terms(
        runtime.database,
        runtime.clock,
        caller.member_id,
        group_id,
        start_date=change.start_date,
        policy_change=change.policy.applied_to if change.policy else None,
    )
    return _view(view, caller.member_id)


@router.put(
    "/{group_id}/payout-order", summary="Admin: choose how the payout order is decided (or set it, fixed)"
)
async def set_payout_order(
    group_id: GroupId, choice: OrderChoice, caller: CallerDep, runtime: RuntimeDep
) -> GroupView:
    view = await groups.set_payout_order(
        runtime.database, runtime.clock, caller.member_id, group_id, method=choice.method, order=choice.order
    )
    return _view(view, caller.member_id)


@router.put("/{group_id}/payout-slot", summary="Choose your payout slot, when the group's members choose")
async def choose_payout_slot(
    group_id: GroupId, choice: SlotChoice, caller: CallerDep, runtime: RuntimeDep
) -> GroupView:
    view = await groups.choose_payout_slot(
        runtime.database, runtime.clock, caller.member_id, group_id, choice.slot
    )
    return _view(view, caller.member_id)


@router.post("/{group_id}/invite-code", summary="Admin: replace the invite code (the old one stops working)")
async def new_invite_code(group_id: GroupId, caller: CallerDep, runtime: RuntimeDep) -> GroupView:
    return _view(
        await groups.new_invite_code(runtime.database, runtime.clock, caller.member_id, group_id),
        caller.member_id,
    )


def _view(view: groups.GroupView, member_id: str) -> GroupView:
    group, terms = view.group, view.group.terms
    active = group.status is GroupStatus.ACTIVE
    positions = {member: index for index, member in enumerate(group.locked_order, 1)}
    return GroupView(
        group_id=group.group_id,
        name=terms.name,
        status=group.status,
        admin_member_id=group.admin_member_id,
        your_role=Role.ADMIN if group.admin_member_id == member_id else Role.MEMBER,
        invite_code=None if active else group.invite_code,
        contribution_amount=terms.contribution_amount,
        currency=terms.currency,
        cadence=terms.cadence,
        size=terms.size,
        start_date=terms.start_date,
        timezone=terms.timezone,
        policy=PolicyView(
            attempt_limit=terms.policy.attempt_limit,
            retry_spacing_business_days=terms.policy.retry_spacing_business_days,
            collection_window_business_days=terms.policy.collection_window_business_days,
            platform_fee_bps=terms.policy.platform_fee_bps,
        ),
        payout_order=_order_view(view),
        members=[
            GroupMemberView(
                member_id=seat.member_id,
                display_name=view.members[seat.member_id].display_name,
                role=Role.ADMIN if seat.member_id == group.admin_member_id else Role.MEMBER,
                joined_at=view.joined_at[seat.member_id],
                ready=view.members[seat.member_id].state.ready,
                chosen_slot=seat.chosen_slot,
                position=positions.get(seat.member_id),
            )
            for seat in view.seats
        ],
        waiting_for=view.waiting_for,
        activated_at=group.activated_at,
    )


def _order_view(view: groups.GroupView) -> PayoutOrderView:
    group = view.group
    method = group.terms.payout_order_method
    drawn = method is PayoutOrderMethod.RANDOM_DRAW
    locked = group.status is GroupStatus.ACTIVE
    order: list[str] | None = list(group.locked_order) if locked else None
    if not locked and method in (PayoutOrderMethod.FIXED, PayoutOrderMethod.JOIN_ORDER):
        order = payout_order(method, view.seats, fixed_order=group.fixed_order, seed="")
    return PayoutOrderView(
        method=method,
        locked=locked,
        order=order,
        draw_algorithm=DRAW_ALGORITHM if drawn else None,
        seed_commitment=group.seed_commitment if drawn else None,
        seed=group.draw_seed if drawn and locked else None,
    )


def _either(chosen: int | None, current: int) -> int:
    return current if chosen is None else chosen
