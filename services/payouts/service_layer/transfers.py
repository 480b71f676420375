"""Making a payout's transfers: every one not made yet, asked of Stripe at once (each in its turn of
the shared request budget), with the idempotency key stored for it before this call.

The payout row is locked while Stripe is asked, so two tries of one payout never run together. A
crash anywhere repeats the calls with the same keys: Stripe answers with the transfers it made, never
a second one. Whatever Stripe made is kept; then:

- every transfer exists: the payout is paid, ``payouts.evt.cycle_paid`` lists them;
- Stripe refused one (the destination cannot receive, the charge cannot fund it): the payout
  pauses with Stripe's code, and that transfer's next try gets a new key (a refusal made nothing);
- Stripe busy (the budget's queue, or 429 after the client's retries): the message is put off, no
  failure; Stripe unreachable or failing: redelivered with back-off, and after the last delivery
  the call is put on a timer rather than given up.

Stripe keeps a key 24 hours: a transfer whose key was first sent more than ``KEY_KEPT_FOR`` ago is
looked for (by its transfer group and metadata) before it is asked for again.
"""

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.payouts import CyclePaid, MakeTransfers, PaidTransfer
from services.payouts.deps import Payouts
from services.payouts.domain.payout import Payout, PayoutStatus, PlannedTransfer
from services.payouts.domain.recipient import ACCOUNT_REFUSALS, AccountView, refused_by_stripe
from services.payouts.service_layer import outgoing
from services.payouts.service_layer.payout_steps import announce_pause
from services.payouts.store import accounts
from services.payouts.store import payouts as store
from services.payouts.stripe import MadeTransfer, StripePayouts, TransferRequest
from services.runtime.consumer import RetryLater
from services.runtime.request_budget import RequestBudgetExhaustedError
from services.runtime.stripe_client import StripeBusyError, StripeRejectedError, StripeUnavailableError

log = logging.getLogger(__name__)

CALL_AGAIN_AFTER: Final = timedelta(minutes=10)
KEY_KEPT_FOR: Final = timedelta(hours=23)
RATE_LIMITED_AGAIN_AFTER_SECONDS: Final = 5.0


@dataclass(frozen=True)
class Made:
    transfer: MadeTransfer


@dataclass(frozen=True)
class Refused:
    code: str
    message: str


@dataclass(frozen=True)
class Failed:
    error: StripeUnavailableError


Outcome = Made | Refused | Failed


async def make_transfers(
    session: AsyncSession, command: MakeTransfers, deps: Payouts, now: datetime, *, last_try: bool
) -> str:
    loaded = await store.load_with_first_tries(session, command.cycle_id)
    if loaded is None:
        return "stale: the payout moved on"
    payout, first_tried = loaded
    if payout.status is not PayoutStatus.TRANSFERRING or payout.round != command.round:
        return "stale: the payout moved on"
    to_make = payout.transfers_to_make
    await store.mark_tried(session, payout.cycle_id, [t.charge_id for t in to_make], now)
    outcomes = await asyncio.gather(
        *(_make_one(deps.stripe, _request(payout, t), first_tried.get(t.charge_id), now) for t in to_make)
    )
    busy = [o.error for o in outcomes if isinstance(o, Failed) and isinstance(o.error, StripeBusyError)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    if busy and not refused:
        # Nothing commits; the transfers Stripe made are answered again under their keys next time.
        raise _put_off(busy[0])
    after = payout
    for transfer, outcome in zip(to_make, outcomes, strict=True):
        changed = _with_outcome(transfer, outcome)
        if changed != transfer:
            await store.save_transfer(session, payout.cycle_id, changed, now)
            after = _replace_transfer(after, changed)
    if refused:
        return await _pause(session, payout, after, refused[0], now=now, command=command)
    failures = [o.error for o in outcomes if isinstance(o, Failed)]
    if failures:
        if not last_try:
            raise failures[0]
        await _call_again_later(session, command, now)
        return f"{len(failures)} transfers postponed: Stripe unreachable"
    return await _paid(session, payout, after, now, command)


def _request(payout: Payout, transfer: PlannedTransfer) -> TransferRequest:
    return TransferRequest(
        cycle_id=payout.cycle_id,
        group_id=payout.group_id,
        cycle_number=payout.cycle_number,
        recipient_member_id=payout.recipient_member_id,
        connected_account_id=payout.connected_account_id,
        currency=payout.currency,
        transfer_group=payout.transfer_group,
        charge_id=transfer.charge_id,
        contribution_id=transfer.contribution_id,
        amount=transfer.amount,
        attempt=transfer.attempt,
        idempotency_key=transfer.key(payout.cycle_id),
    )


async def _make_one(
    stripe: StripePayouts, request: TransferRequest, first_tried_at: datetime | None, now: datetime
) -> Outcome:
    try:
        if first_tried_at is not None and now - first_tried_at >= KEY_KEPT_FOR:
            found = await stripe.find_transfer(request)
            if found is not None:
                log.warning(
                    "transfer %s: adopting %s, made by a try a day ago",
                    request.idempotency_key,
                    found.transfer_id,
                )
                return Made(found)
        return Made(await stripe.create_transfer(request))
    except StripeRejectedError as refusal:
        log.warning("Stripe refused transfer %s: %s", request.idempotency_key, refusal.stripe_message)
        return Refused(refusal.code or "stripe_rejected", refusal.stripe_message)
    except StripeUnavailableError as error:
        return Failed(error)


def _with_outcome(transfer: PlannedTransfer, outcome: Outcome) -> PlannedTransfer:
    match outcome:
        case Made(made):
            return replace(transfer, transfer_id=made.transfer_id, created_at_stripe=made.created)
        case Refused(code, _):
            return transfer.refused(code)
        case Failed():
            return transfer


def _replace_transfer(payout: Payout, changed: PlannedTransfer) -> Payout:
    transfers = tuple(changed if t.charge_id == changed.charge_id else t for t in payout.transfers)
    return replace(payout, transfers=transfers)


async def _pause(
    session: AsyncSession,
    before: Payout,
    after: Payout,
    refusal: Refused,
    *,
    now: datetime,
    command: MakeTransfers,
) -> str:
    if refusal.code in ACCOUNT_REFUSALS:
        # The account cannot receive, whatever payouts' view said: wait for the next report of it.
        view = await accounts.load(session, before.connected_account_id, lock=True)
        await accounts.save(session, refused_by_stripe(view or _unknown(before), refusal.code))
    paused = replace(after, status=PayoutStatus.PAUSED, reason=refusal.code)
    await store.save_status(session, before, paused, now)
    await announce_pause(session, paused, now, command.message_id)
    return f"paused: {refusal.code}"


def _unknown(payout: Payout) -> AccountView:
    """A view of an account payouts never heard about: dated before any report, so every report applies."""
    return AccountView(
        connected_account_id=payout.connected_account_id,
        member_id=payout.recipient_member_id,
        can_receive=True,
        reason=None,
        requirements_due=(),
        ready_since=None,
        as_of=accounts.NEVER,
    )


async def _paid(
    session: AsyncSession, before: Payout, after: Payout, now: datetime, command: MakeTransfers
) -> str:
    paid = replace(after, status=PayoutStatus.PAID, reason=None)
    await store.save_status(session, before, paid, now)
    cycle = str(paid.cycle_id)
    fact = CyclePaid(
        **outgoing.envelope(f"cycle-paid:{cycle}", now, cycle, command.message_id),
        cycle_id=paid.cycle_id,
        transferred_amount=paid.transfer_total,
        group_id=paid.group_id,
        recipient_member_id=paid.recipient_member_id,
        connected_account_id=paid.connected_account_id,
        transfers=[
            PaidTransfer(
                charge_id=t.charge_id,
                transfer_id=t.transfer_id or "",
                amount=t.amount,
                idempotency_key=t.key(paid.cycle_id),
            )
            for t in paid.transfers
        ],
    )
    transferred = outgoing.notice(
        subjects.NOTIFY_MEMBER_POT_TRANSFERRED,
        purpose=f"transferred:{cycle}",
        member_id=paid.recipient_member_id,
        title="Your pot is on its way",
        body=f"Your circle's pot of cycle {paid.cycle_number} ({paid.transfer_total / 100:.2f} "
        f"{paid.currency.upper()}) was transferred to your payout account; Stripe pays it to your bank "
        "on your account's payout schedule.",
        action=None,
        group_ids=[paid.group_id],
        now=now,
        cause=command.message_id,
    )
    await outgoing.send_all(
        session,
        [(subjects.PAYOUTS_CYCLE_PAID, fact), (subjects.NOTIFY_MEMBER_POT_TRANSFERRED, transferred)],
    )
    return f"paid: {len(paid.transfers)} transfers"


def _put_off(busy: StripeBusyError) -> RetryLater:
    cause = busy.__cause__
    if isinstance(cause, RequestBudgetExhaustedError):
        return RetryLater(cause.wait_seconds, str(busy))
    return RetryLater(RATE_LIMITED_AGAIN_AFTER_SECONDS, str(busy))


async def _call_again_later(session: AsyncSession, command: MakeTransfers, now: datetime) -> None:
    """Stripe stayed unreachable through every delivery: the same round again later, same keys."""
    timer_id = f"make-transfers:{command.cycle_id}:{command.round}:{command.message_id}"
    again = command.model_copy(update={"message_id": outgoing.message_id_for(timer_id), "occurred_at": now})
    log.warning(
        "Stripe unreachable for cycle %s's transfers; again after %s", command.cycle_id, CALL_AGAIN_AFTER
    )
    await outgoing.schedule(
        session,
        timer_id,
        due_at=now + CALL_AGAIN_AFTER,
        subject=subjects.PAYOUTS_MAKE_TRANSFERS,
        message=again,
        now=now,
    )
