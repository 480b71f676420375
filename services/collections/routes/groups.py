"""HTTP edge for a member's view of their group: its rotation, one cycle with every contribution,
and its ledger, a page at a time.

Any member of the group sees every cycle, contribution and ledger entry (a circle's money is its
members' business); why a debit failed is shown only to the member it was debited from and to the
group's admin.
"""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from contracts.onboarding import GroupActivated
from services.collections.domain.contribution import IN_POT, Contribution, ContributionStatus
from services.collections.domain.cycle import CycleState, CycleStatus
from services.collections.domain.ledger_steps import step_of
from services.collections.domain.rotation_state import CycleProgress, RotationState, RotationStatus
from services.collections.routes.access import documented_errors, group_of_member
from services.collections.store import queries
from services.runtime.errors import ApiError
from services.runtime.member_auth import Caller, CallerDep
from services.runtime.service import RuntimeDep

router = APIRouter(prefix="/groups", tags=["groups"], responses=documented_errors(401, 404, 422, 503))

GroupId = Annotated[UUID, Path(description="The group's id.")]
CycleNumber = Annotated[int, Path(ge=1, le=1000, description="The cycle's number: 1 is the first.")]


class CycleSummary(BaseModel):
    cycle_number: int = Field(description="1 for the first cycle; cycle k pays the member at position k.")
    cycle_id: UUID = Field(description="The cycle's id (also the correlation id of its messages).")
    status: CycleStatus = Field(
        description="scheduled, collecting, funded, paying_out, payout_paused, completed, cancelling "
        "or cancelled."
    )
    recipient_member_id: str = Field(description="Who receives this cycle's pot.")
    starts_on: date = Field(description="The day its debits go out, in the group's time zone.")
    start_at: datetime = Field(description="When its debits go out.")
    deadline_on: date = Field(description="The last day a contribution may settle.")
    deadline_at: datetime = Field(description="When the deadline passes (the end of deadline_on).")
    currency: str = Field(description="Currency of every amount, e.g. aud.")
    expected: int = Field(description="What every member's contribution adds up to, in cents.")
    collected: int = Field(
        description="Contributions collected and kept (in the pot or paid out from it), in cents."
    )
    refunded: int = Field(description="Contributions collected and then returned to members, in cents.")
    waiting_on: str | None = Field(
        description="'members' (a member must authorise a bank account again) or 'recipient' (the "
        "payout is paused for them); null when the cycle waits on no one."
    )

    @classmethod
    def of(cls, state: CycleState) -> "CycleSummary":
        plan = state.plan

        def total(statuses: frozenset[ContributionStatus]) -> int:
            return sum(c.amount for c in state.contributions if c.status in statuses)

        return cls(
            cycle_number=plan.cycle_number,
            cycle_id=plan.cycle_id,
            status=state.status,
            recipient_member_id=plan.recipient.member_id,
            starts_on=plan.starts_on,
            start_at=plan.start_at,
            deadline_on=plan.deadline_on,
            deadline_at=plan.deadline_at,
            currency=plan.currency,
            expected=sum(c.amount for c in state.contributions),
            collected=total(IN_POT),
            refunded=total(frozenset({ContributionStatus.REFUNDED})),
            waiting_on=state.waiting_on,
        )


class RotationMember(BaseModel):
    member_id: str
    position: int = Field(description="Their place in the payout order: they receive in that cycle.")


class RotationView(BaseModel):
    group_id: UUID
    name: str
    status: str = Field(
        description="not_started (no cycle started yet), running, awaiting_admin_decision (a round "
        "was cancelled at its deadline), completed (every member received once) or dissolved."
    )
    admin_member_id: str = Field(description="The group's admin.")
    contribution_amount: int = Field(description="What each member pays each cycle, in cents.")
    currency: str
    cadence: str = Field(description="weekly, fortnightly or monthly.")
    timezone: str = Field(description="IANA time zone of the group's dates.")
    members: list[RotationMember] = Field(description="Every member, in payout order.")
    cycles: list[CycleSummary] = Field(description="Every cycle, first to last.")


class AttemptView(BaseModel):
    attempt: int = Field(description="1 for the first debit, then one more for each retry.")
    status: ContributionStatus = Field(description="Where this debit stands, or stood when the next began.")
    updated_at: datetime = Field(description="When collections last heard of it (service clock).")
    failure_code: str | None = Field(
        description="Why the debit failed (Stripe's code, e.g. refer_to_customer for insufficient "
        "funds); shown only to the member it was debited from and to the group's admin, null otherwise "
        "or when it did not fail."
    )


class ContributionView(BaseModel):
    member_id: str
    contribution_id: UUID
    amount: int = Field(description="In cents.")
    currency: str
    status: ContributionStatus = Field(
        description="pending, processing, succeeded, retry_scheduled, awaiting_mandate (the member "
        "must authorise a bank account again), failed_final, refund_pending, refunded, refund_failed "
        "or disputed."
    )
    next_attempt_at: datetime | None = Field(description="When the next debit goes out, if one is due.")
    failure_code: str | None = Field(
        description="Why the latest debit failed; visible as each attempt's failure_code is."
    )
    attempts: list[AttemptView] = Field(description="Every debit attempt, first first.")


class CycleView(CycleSummary):
    group_id: UUID
    contributions: list[ContributionView] = Field(description="Every member's contribution, in payout order.")


class AccountBalance(BaseModel):
    account: str = Field(
        description="kind:key, e.g. cycle_pot:<cycle_id> or member_contributions:<member_id>."
    )
    account_kind: str = Field(
        description="member_contributions, cycle_pot, recipient_payable, transfers, platform_fees, "
        "refunds, refund_owed, dispute_receivable, platform_funds, stripe_fees or write_off."
    )
    account_key: str = Field(description="The cycle or member it is of; empty for platform accounts.")
    currency: str
    balance: int = Field(
        description="In cents: positive is money sitting there; members' and the platform's own "
        "accounts go negative as money comes from them."
    )


class LedgerEntryView(BaseModel):
    entry_id: int = Field(description="Increases in the order entries were posted.")
    reference: str = Field(description="The transaction's reference: the step and what it is about.")
    step: str = Field(
        description="The saga step that posted it: debit-collected, debit-stripe-fee, debit-refunded, "
        "refund-failed, dispute-opened, dispute-fee, dispute-won, refund-after-dispute, "
        "payout-requested, cycle-paid, write-off, debt-collected, debt-stripe-fee, debt-paid-twice or "
        "debt-refunded or write-off-recovered."
    )
    cycle_id: UUID = Field(description="The cycle it belongs to; the group's id for the group as a whole.")
    cycle_number: int | None = Field(
        description="Its cycle's number; null for the group as a whole (a write-off, a debt collected)."
    )
    account: str = Field(description="kind:key, as in balances.")
    amount: int = Field(description="In cents; the entries of one reference add up to zero.")
    currency: str
    posted_at: datetime = Field(description="When it was booked (service clock).")


class LedgerView(BaseModel):
    group_id: UUID
    balances: list[AccountBalance] = Field(
        description="Every account the group's cycles touched, over all of its entries (not only this page)."
    )
    entries: list[LedgerEntryView] = Field(description="This page of entries, oldest first.")
    next_after: int | None = Field(description="Pass as ?after= for the next page; null on the last.")


@router.get(
    "/{group_id}/rotation",
    summary="The group's rotation: every cycle, its recipient, dates and totals",
    response_model=RotationView,
)
async def get_rotation(group_id: GroupId, caller: CallerDep, runtime: RuntimeDep) -> RotationView:
    async with runtime.database.transaction() as session:
        activation = await group_of_member(session, group_id, caller)
        stored = await queries.cycles_of_group(session, group_id)
        rotation = await queries.rotation_of(session, group_id)
    states = [cycle.state for cycle in stored]
    return RotationView(
        group_id=activation.group_id,
        name=activation.name,
        status=_rotation_status(rotation, states),
        admin_member_id=activation.admin_member_id,
        contribution_amount=activation.contribution_amount,
        currency=activation.currency,
        cadence=activation.cadence,
        timezone=activation.timezone,
        members=[
            RotationMember(member_id=m.member_id, position=m.position)
            for m in sorted(activation.members, key=lambda m: m.position)
        ],
        cycles=[CycleSummary.of(state) for state in states],
    )


def _rotation_status(rotation: RotationState | None, states: list[CycleState]) -> str:
    if rotation is None:  # activated before the rotation saga kept a state
        return "not_started" if all(state.status is CycleStatus.SCHEDULED for state in states) else "running"
    if rotation.status is not RotationStatus.RUNNING:
        return rotation.status.value  # awaiting_admin_decision, completed or dissolved
    # Any round that ever started (a cancelled and retried one too) means the rotation has begun.
    started = any(cycle.progress is not CycleProgress.PLANNED for cycle in rotation.cycles)
    return "running" if started else "not_started"


@router.get(
    "/{group_id}/cycles/{cycle_number}",
    summary="One cycle: its status, dates, and every contribution with its debit attempts",
    response_model=CycleView,
)
async def get_cycle(
    group_id: GroupId, cycle_number: CycleNumber, caller: CallerDep, runtime: RuntimeDep
) -> CycleView:
    async with runtime.database.transaction() as session:
        activation = await group_of_member(session, group_id, caller)
        stored = await queries.cycle_of_group(session, group_id, cycle_number)
        if stored is None:
            raise ApiError(404, "cycle_not_found", f"the group has no cycle {cycle_number}")
        attempts = await queries.attempts_of_cycle(session, stored.state.plan.cycle_id)
    state = stored.state
    return CycleView(
        **CycleSummary.of(state).model_dump(),
        group_id=group_id,
        contributions=[
            _contribution(
                contribution, attempts.get(contribution.contribution_id, []), state, activation, caller
            )
            for contribution in state.contributions
        ],
    )


def _contribution(
    contribution: Contribution,
    attempts: list[queries.AttemptRow],
    state: CycleState,
    activation: GroupActivated,
    caller: Caller,
) -> ContributionView:
    # Why a debit failed is between the member, their bank and the admin who must decide on it.
    shown = caller.member_id in {contribution.member_id, activation.admin_member_id}
    return ContributionView(
        member_id=contribution.member_id,
        contribution_id=contribution.contribution_id,
        amount=contribution.amount,
        currency=state.plan.currency,
        status=contribution.status,
        next_attempt_at=contribution.next_attempt_at,
        failure_code=contribution.last_failure_code if shown else None,
        attempts=[
            AttemptView(
                attempt=attempt.attempt,
                status=ContributionStatus(attempt.status),
                updated_at=attempt.updated_at,
                failure_code=attempt.failure_code if shown else None,
            )
            for attempt in attempts
        ],
    )


@router.get(
    "/{group_id}/ledger",
    summary="The group's ledger: balances by account, and its entries a page at a time",
    response_model=LedgerView,
)
async def get_ledger(
    group_id: GroupId,
    caller: CallerDep,
    runtime: RuntimeDep,
    *,
    limit: Annotated[int, Query(ge=1, le=500, description="Entries per page.")] = 100,
    after: Annotated[
        int | None, Query(ge=0, description="The previous page's next_after: entries after that one.")
    ] = None,
) -> LedgerView:
    async with runtime.database.transaction() as session:
        await group_of_member(session, group_id, caller)
        balances = await queries.ledger_balances_of_group(session, group_id)
        # One more than asked: whether a next page exists, without counting them all.
        rows = await queries.ledger_entries_of_group(session, group_id, after=after, limit=limit + 1)
    page = rows[:limit]
    return LedgerView(
        group_id=group_id,
        balances=[
            AccountBalance(
                account=_account(b.account_kind, b.account_key),
                account_kind=b.account_kind,
                account_key=b.account_key,
                currency=b.currency,
                balance=b.balance,
            )
            for b in balances
        ],
        entries=[
            LedgerEntryView(
                entry_id=row.entry_id,
                reference=row.reference,
                step=step_of(row.reference),
                cycle_id=row.cycle_id,
                cycle_number=row.cycle_number,
                account=_account(row.account_kind, row.account_key),
                amount=row.amount,
                currency=row.currency,
                posted_at=row.posted_at,
            )
            for row in page
        ],
        next_after=page[-1].entry_id if len(rows) > limit else None,
    )


def _account(kind: str, key: str) -> str:
    return f"{kind}:{key}" if key else kind
