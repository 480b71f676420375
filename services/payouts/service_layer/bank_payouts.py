"""Stripe's ``payout.*`` events from the Connect endpoint: a recipient's bank payouts followed until
paid, and the recipient told when one fails (the money waits in their Stripe balance)."""

from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.stripe_events import StripeEventReceived
from services.payouts.domain.bank_payouts import BankPayout, apply_report, newly_failed, status_of
from services.payouts.service_layer import outgoing
from services.payouts.store import accounts, groups
from services.payouts.store import bank_payouts as store

PAYOUT_EVENTS: Final = (
    "payout.created",
    "payout.updated",
    "payout.paid",
    "payout.failed",
    "payout.canceled",
)


async def on_payout_event(session: AsyncSession, event: StripeEventReceived, now: datetime) -> str:
    if event.account is None:
        return "the platform's own payout: not a recipient's"
    report = _report(event)
    if report is None:
        return "not a payout object"
    held = await store.load(session, report.payout_id)
    after = apply_report(held, report)
    if after is None:
        return "stale"
    await store.save(session, after)
    if newly_failed(held, after):
        await _tell_recipient(session, after, event, now)
    return after.status


def _report(event: StripeEventReceived) -> BankPayout | None:
    body = event.raw_object
    status = status_of(event.object_status or _text(body.get("status")))
    if event.object_id is None or status is None or event.account is None:
        return None
    amount = body.get("amount")
    arrival = body.get("arrival_date")
    created = body.get("created")
    return BankPayout(
        payout_id=event.object_id,
        connected_account_id=event.account,
        amount=amount if isinstance(amount, int) else 0,
        currency=_text(body.get("currency")) or "aud",
        status=status,
        failure_code=event.failure_code or _text(body.get("failure_code")),
        failure_message=_text(body.get("failure_message")),
        arrival_date=datetime.fromtimestamp(arrival, UTC) if isinstance(arrival, int) else None,
        created=datetime.fromtimestamp(created, UTC) if isinstance(created, int) else event.created,
        as_of=event.created,
    )


async def _tell_recipient(
    session: AsyncSession, payout: BankPayout, event: StripeEventReceived, now: datetime
) -> None:
    view = await accounts.load(session, payout.connected_account_id)
    if view is None or view.member_id is None:
        return  # not an account payouts knows a member of: nobody to tell
    member_groups = await groups.groups_of_member(session, view.member_id)
    await outgoing.notify(
        session,
        subjects.NOTIFY_MEMBER_BANK_PAYOUT_FAILED,
        purpose=f"bank-payout-failed:{payout.payout_id}",
        member_id=view.member_id,
        title="Your bank did not accept your payout",
        body=f"Stripe could not pay {payout.amount / 100:.2f} {payout.currency.upper()} to your bank account "
        f"({payout.failure_code or 'failed'}). The money is safe in your Stripe balance: update your bank "
        "details and it is paid out again.",
        action=outgoing.FIX_PAYOUT_ACCOUNT,
        group_ids=[g.group_id for g in member_groups],
        now=now,
        cause=event.message_id,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
