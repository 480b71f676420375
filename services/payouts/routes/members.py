"""HTTP edge for members: the caller's pots (received, in progress, still to come), a group's
payouts for its members, and the group admin's retry of a paused payout."""

from datetime import date
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from services.payouts.domain.expected import expected_pot_day
from services.payouts.domain.payout import PayoutStatus
from services.payouts.routes.access import documented_errors, group_of_member, service_now
from services.payouts.routes.views import PayoutView, payout_view
from services.payouts.service_layer.retries import ask_retry
from services.payouts.store import bank_payouts, groups, queries
from services.runtime.calendar import BECS_CALENDAR
from services.runtime.errors import ApiError
from services.runtime.member_auth import CallerDep
from services.runtime.service import RuntimeDep

router = APIRouter(tags=["members"], responses=documented_errors(401, 503))


class UpcomingPot(BaseModel):
    group_id: UUID
    cycle_number: int
    expected_on: date = Field(
        description="About when the pot is transferred: the cycle's debit day plus the debits' settlement "
        "(3 BECS business days); later if a debit or the round is retried."
    )


class MyPots(BaseModel):
    received: list[PayoutView] = Field(
        description="Pots transferred to the caller, each transfer and its bank payout."
    )
    in_progress: list[PayoutView] = Field(description="Pots being transferred, held or paused, with why.")
    upcoming: list[UpcomingPot] = Field(
        description="The caller's pots in groups whose cycle has not come yet."
    )


class GroupPayouts(BaseModel):
    group_id: UUID
    payouts: list[PayoutView] = Field(description="The group's payouts, oldest first.")


class RetryAccepted(BaseModel):
    cycle_id: UUID
    status: PayoutStatus = Field(description="The payout's status when the retry was asked (paused).")
    message: str


@router.get(
    "/members/me/pots", summary="The caller's pots: received, in progress and upcoming", response_model=MyPots
)
async def my_pots(caller: CallerDep, runtime: RuntimeDep) -> MyPots:
    async with runtime.database.transaction() as session:
        rows = await queries.of_recipient(session, caller.member_id)
        accounts = sorted({r.payout["connected_account_id"] for r in rows})
        carried = await bank_payouts.of_accounts(session, accounts)
        my_groups = await groups.groups_of_member(session, caller.member_id)
    views = [payout_view(row, carried) for row in rows]
    paid_or_started = {(v.group_id, v.cycle_number) for v in views}
    upcoming = [
        UpcomingPot(
            group_id=group.group_id,
            cycle_number=member.position,
            expected_on=expected_pot_day(group.start_date, group.cadence, member.position, BECS_CALENDAR),
        )
        for group in my_groups
        for member in group.members
        if member.member_id == caller.member_id and (group.group_id, member.position) not in paid_or_started
    ]
    return MyPots(
        received=[v for v in views if v.status is PayoutStatus.PAID],
        in_progress=[v for v in views if v.status is not PayoutStatus.PAID],
        upcoming=sorted(upcoming, key=lambda u: u.expected_on),
    )


@router.get(
    "/groups/{group_id}/payouts",
    summary="A group's payouts, for its members",
    response_model=GroupPayouts,
    responses=documented_errors(404),
)
async def group_payouts(group_id: UUID, caller: CallerDep, runtime: RuntimeDep) -> GroupPayouts:
    async with runtime.database.transaction() as session:
        await group_of_member(session, group_id, caller)
        rows = await queries.of_group(session, group_id)
        accounts = sorted({r.payout["connected_account_id"] for r in rows})
        carried = await bank_payouts.of_accounts(session, accounts)
    return GroupPayouts(group_id=group_id, payouts=[payout_view(row, carried) for row in rows])


@router.post(
    "/groups/{group_id}/cycles/{cycle_id}/retry",
    summary="The group's admin retries a paused payout (Stripe decides whether the account can receive)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryAccepted,
    responses=documented_errors(403, 404, 409),
)
async def admin_retry(
    group_id: UUID, cycle_id: UUID, caller: CallerDep, runtime: RuntimeDep
) -> RetryAccepted:
    now = service_now(runtime)
    async with runtime.database.transaction() as session:
        group = await group_of_member(session, group_id, caller)
        if group.admin_member_id != caller.member_id:
            raise ApiError(403, "not_group_admin", "only the group's admin may retry its payouts")
        was = await ask_retry(session, cycle_id, group_id, "admin", now)
    return RetryAccepted(cycle_id=cycle_id, status=PayoutStatus(was), message="the payout is tried again")
