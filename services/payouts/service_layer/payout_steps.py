"""A payout's steps: recorded at ``pay_cycle`` and decided at once, then looked at again whenever
something it waits for may have changed (the account is ready again, a hold is over or released, a
person retried it). Each step saves the payout and puts what it sends in the same transaction's
outbox: the command to make the transfers, the pause for collections, the notice to the recipient.
"""

import logging
from dataclasses import replace
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.payouts import MakeTransfers, PayCycle, PayoutPaused, PayoutResumed, RetryPayout
from services.payouts.deps import Payouts
from services.payouts.domain.decision import (
    FIRST_PAYOUT_HOLD,
    Circumstances,
    Decision,
    Hold,
    Pause,
    Transfer,
    decide,
)
from services.payouts.domain.payout import Payout, PayoutStatus, PlannedTransfer
from services.payouts.service_layer import outgoing
from services.payouts.store import accounts, decision_reads
from services.payouts.store import payouts as store

log = logging.getLogger(__name__)


async def on_pay_cycle(session: AsyncSession, command: PayCycle, deps: Payouts, now: datetime) -> str:
    planned = Payout(
        cycle_id=command.cycle_id,
        group_id=command.group_id,
        cycle_number=command.cycle_number,
        recipient_member_id=command.recipient_member_id,
        connected_account_id=command.connected_account_id,
        currency=command.currency,
        transfer_group=command.transfer_group,
        status=PayoutStatus.TRANSFERRING,
        round=1,
        reason=None,
        held_until=None,
        transfers=tuple(
            PlannedTransfer(
                charge_id=charge.charge_id,
                contribution_id=charge.contribution_id,
                payment_intent_id=charge.payment_intent_id,
                payer_member_id=charge.member_id,
                amount=charge.transfer_amount,
            )
            for charge in command.charges
            # A charge the platform's fee took whole leaves nothing to transfer (Stripe refuses 0).
            if charge.transfer_amount > 0
        ),
    )
    await accounts.remember_member(session, command.connected_account_id, command.recipient_member_id)
    decision = await _decide(session, planned, deps, now, forced=False, requested_at=command.occurred_at)
    payout = _after(planned, decision)
    if not await store.record_new(session, payout, command.platform_fee_total, command.occurred_at, now):
        return "already recorded"
    await _announce(session, None, payout, now, command.message_id, resumed_because=None)
    return payout.status


async def look_again(
    session: AsyncSession,
    cycle_id: UUID,
    deps: Payouts,
    now: datetime,
    *,
    why: str,
    forced: bool,
    cause: UUID,
) -> str:
    """A waiting payout, decided again: transferred now, or still waiting (maybe for another reason)."""
    payout = await store.load(session, cycle_id)
    if payout is None:
        return "no payout"
    if not payout.waiting:
        return f"not waiting ({payout.status})"
    decision = await _decide(session, payout, deps, now, forced=forced, requested_at=None)
    after = _after(payout, decision)
    if after == payout:
        return f"still {payout.status}: {payout.reason}"
    await store.save_status(session, payout, after, now)
    await _announce(session, payout, after, now, cause, resumed_because=why)
    return after.status


def retry_later_command(payout: Payout, why: str, now: datetime, cause: UUID | None) -> RetryPayout:
    return RetryPayout(
        **outgoing.envelope(
            f"retry:{payout.cycle_id}:{payout.round}:{why}", now, str(payout.cycle_id), cause
        ),
        cycle_id=payout.cycle_id,
        reason=why,
    )


async def _decide(
    session: AsyncSession,
    payout: Payout,
    deps: Payouts,
    now: datetime,
    *,
    forced: bool,
    requested_at: datetime | None,
) -> Decision:
    reads = await decision_reads.read(session, payout)
    circumstances = Circumstances(
        owes_the_group=reads.held,
        account=await accounts.load(session, payout.connected_account_id),
        first_pot=not reads.recipient_paid_before,
        ready_since_fallback=reads.group_activated_at or requested_at or now,
        first_payout_hold_business_days=deps.settings.first_payout_hold_business_days,
        forced=forced,
    )
    return decide(circumstances, now, deps.calendar)


def _after(payout: Payout, decision: Decision) -> Payout:
    match decision:
        case Transfer():
            # A payout leaving a wait starts a new round: the make_transfers of an earlier one is stale.
            next_round = payout.round + 1 if payout.waiting else payout.round
            return replace(
                payout, status=PayoutStatus.TRANSFERRING, round=next_round, reason=None, held_until=None
            )
        case Hold(reason, until):
            return replace(payout, status=PayoutStatus.HELD, reason=reason, held_until=until)
        case Pause(reason):
            return replace(payout, status=PayoutStatus.PAUSED, reason=reason, held_until=None)


async def _announce(
    session: AsyncSession,
    before: Payout | None,
    after: Payout,
    now: datetime,
    cause: UUID | None,
    *,
    resumed_because: str | None,
) -> None:
    cycle = str(after.cycle_id)
    match after.status:
        case PayoutStatus.TRANSFERRING:
            if before is not None and before.status is PayoutStatus.PAUSED:
                resumed = PayoutResumed(
                    **outgoing.envelope(f"resumed:{cycle}:{after.round}", now, cycle, cause),
                    cycle_id=after.cycle_id,
                    reason=resumed_because or "resumed",
                )
                await outgoing.send(session, subjects.PAYOUTS_PAYOUT_RESUMED, resumed)
            make = MakeTransfers(
                **outgoing.envelope(f"make-transfers:{cycle}:{after.round}", now, cycle, cause),
                cycle_id=after.cycle_id,
                round=after.round,
            )
            await outgoing.send(session, subjects.PAYOUTS_MAKE_TRANSFERS, make)
        case PayoutStatus.PAUSED:
            await announce_pause(session, after, now, cause)
        case PayoutStatus.HELD:
            await _announce_hold(session, before, after, now, cause)
        case PayoutStatus.PAID:
            pass


async def announce_pause(session: AsyncSession, payout: Payout, now: datetime, cause: UUID | None) -> None:
    """Tell collections the payout is paused, and the recipient what to fix and how."""
    cycle, reason = str(payout.cycle_id), payout.reason or "unknown"
    paused = PayoutPaused(
        **outgoing.envelope(f"paused:{cycle}:{payout.round}:{reason}", now, cycle, cause),
        cycle_id=payout.cycle_id,
        reason=reason,
    )
    await outgoing.send(session, subjects.PAYOUTS_PAYOUT_PAUSED, paused)
    view = await accounts.load(session, payout.connected_account_id)
    asked = f" Stripe asks for: {', '.join(view.requirements_due)}." if view and view.requirements_due else ""
    await outgoing.notify(
        session,
        subjects.NOTIFY_MEMBER_PAYOUT_PAUSED,
        purpose=f"paused:{cycle}:{payout.round}:{reason}",
        member_id=payout.recipient_member_id,
        title="Your pot is waiting for your payout account",
        body=f"Your circle's pot of cycle {payout.cycle_number} cannot be transferred to your payout "
        f"account ({reason}).{asked} Complete your payout account's details with Stripe; the pot is "
        "transferred as soon as the account can receive.",
        action=outgoing.FIX_PAYOUT_ACCOUNT,
        group_ids=[payout.group_id],
        now=now,
        cause=cause,
    )
    log.info("payout of cycle %s paused: %s", cycle, reason)


async def _announce_hold(
    session: AsyncSession, before: Payout | None, payout: Payout, now: datetime, cause: UUID | None
) -> None:
    cycle = str(payout.cycle_id)
    if payout.held_until is not None:
        again = retry_later_command(payout, "hold_over", now, cause)
        timer_id = f"payout-hold:{cycle}:{payout.held_until.timestamp():.0f}"
        await outgoing.schedule(
            session,
            timer_id,
            due_at=payout.held_until,
            subject=subjects.PAYOUTS_RETRY_PAYOUT,
            message=again,
            now=now,
        )
    if before is not None and before.status is PayoutStatus.HELD and before.reason == payout.reason:
        return  # the recipient already knows
    if payout.reason != FIRST_PAYOUT_HOLD or payout.held_until is None:
        return  # a debt's hold: collections, which knows the debt, tells the recipient
    body = (
        f"Your circle's pot of cycle {payout.cycle_number} is your first: it is transferred on "
        f"{payout.held_until.date().isoformat()}, once your new payout account has been ready for a while."
    )
    await outgoing.notify(
        session,
        subjects.NOTIFY_MEMBER_PAYOUT_HELD,
        purpose=f"held:{cycle}:{payout.reason}",
        member_id=payout.recipient_member_id,
        title="Your pot is held",
        body=body,
        action=None,
        group_ids=[payout.group_id],
        now=now,
        cause=cause,
    )
