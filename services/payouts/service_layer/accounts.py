"""Reports about a recipient's payout account, from onboarding and from Stripe's Connect endpoint,
into payouts' view of it; an account that can receive again has its waiting payouts looked at
again, each by a ``payouts.cmd.retry_payout`` to itself: the payout is then decided under its own
lock, never while this account's row is locked (a transfer refused for the account locks the payout,
then the account: the other order here could deadlock with it)."""

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.onboarding import MemberReadinessChanged, PayoutAccountRestored, PayoutAccountRestricted
from contracts.payouts import RetryPayout
from services.payouts.domain.recipient import PAYOUT_ACCOUNT_GAPS, AccountReport, apply_report
from services.payouts.service_layer import outgoing
from services.payouts.store import accounts
from services.payouts.store import payouts as store


async def on_report(session: AsyncSession, report: AccountReport, now: datetime, cause: UUID) -> str:
    view = await accounts.load(session, report.connected_account_id, lock=True)
    after = apply_report(view, report)
    if after is None:
        return "stale report"
    await accounts.save(session, after)
    if not after.can_receive or (view is not None and view.can_receive):
        return "can receive" if after.can_receive else f"cannot receive: {after.reason}"
    waiting = await store.waiting_for_account(session, report.connected_account_id)
    for cycle_id in waiting:
        retry = RetryPayout(
            **outgoing.envelope(
                f"account-ready:{cycle_id}:{report.as_of.isoformat()}", now, str(cycle_id), cause
            ),
            cycle_id=cycle_id,
            reason="account_ready",
        )
        await outgoing.send(session, subjects.PAYOUTS_RETRY_PAYOUT, retry)
    return f"ready again; {len(waiting)} waiting payouts looked at again"


def from_readiness(message: MemberReadinessChanged) -> AccountReport | None:
    if message.connected_account_id is None:
        return None
    gaps = [gap for gap in message.missing if gap in PAYOUT_ACCOUNT_GAPS]
    return AccountReport(
        connected_account_id=message.connected_account_id,
        member_id=message.member_id,
        can_receive=not gaps,
        reason=gaps[0] if gaps else None,
        requirements_due=(),
        as_of=message.occurred_at,
    )


def from_restricted(message: PayoutAccountRestricted) -> AccountReport:
    return AccountReport(
        connected_account_id=message.connected_account_id,
        member_id=message.member_id,
        can_receive=False,
        reason=message.disabled_reason or f"payout_account_{message.status}",
        requirements_due=tuple(message.requirements_due),
        as_of=message.occurred_at,
    )


def from_restored(message: PayoutAccountRestored) -> AccountReport:
    return AccountReport(
        connected_account_id=message.connected_account_id,
        member_id=message.member_id,
        can_receive=True,
        reason=None,
        requirements_due=(),
        as_of=message.occurred_at,
    )
