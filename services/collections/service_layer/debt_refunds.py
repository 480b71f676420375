"""A dispute won after its debt was closed, and a debt paid twice given back: the books of the win
and the refund of the debit that paid the debt, stored (its key with it) and asked of Stripe after
commit (``debt_calls.create_debt_refund``); Stripe's reports of the refund move it on. Each in the
caller's transaction.

The rotation saga finds a dispute won after its debt was closed (``delinquency.receivable_settled``)
and asks ``DisputeWonAfterDebtClosed``, which ``rotation_steps.carry_out`` hands here in the
transaction of the cycle or debt step that heard the win (one report at a time or in a batch): the
books then say the money is owed back exactly when the refund is stored.
"""

import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from services.collections.domain import postings
from services.collections.domain.debt_collection import DebtCollection
from services.collections.domain.debt_refunds import (
    DebtRefund,
    DebtRefundOutcome,
    NoDebitToRefundError,
    RefundReport,
    refund_paid_twice,
    refund_reported,
    won_after_debt_closed,
)
from services.collections.domain.rotation_commands import DisputeWonAfterDebtClosed
from services.collections.service_layer import debt_outgoing
from services.collections.store import debt_collections, debt_refunds, ledger
from services.collections.store.rotation_state import load_rotation
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)


async def on_dispute_won_after_debt_closed(
    session: AsyncSession, command: DisputeWonAfterDebtClosed, now: datetime, cause: UUID | None
) -> None:
    """Book what the returned money is, and refund the debit that paid the debt, if one did."""
    paid_by_id = await debt_refunds.collection_that_paid(
        session, command.group_id, command.member_id, command.dispute_id
    )
    paid_by = await debt_collections.load_collection(session, paid_by_id) if paid_by_id is not None else None
    try:
        decided = won_after_debt_closed(
            command.member_id,
            command.dispute_id,
            command.amount,
            command.currency,
            written_off=command.written_off,
            paid_by=paid_by,
        )
    except NoDebitToRefundError as why:
        log.warning(
            "dispute %s won after its debt was paid, left to an operator: %s", command.dispute_id, why
        )
        return
    if not decided.postings:
        log.warning("dispute %s won after its debt closed, neither paid nor written off", command.dispute_id)
    # Filed under the group, as the debt's own transactions are.
    await ledger.post(session, command.group_id, decided.postings, now)
    if decided.refund is not None:
        await _ask_for(session, decided.refund, now, cause)


async def refund_debt_paid_twice(
    session: AsyncSession,
    collection: DebtCollection,
    dispute_id: str,
    amount: int,
    now: datetime,
    *,
    cause: UUID | None,
) -> None:
    """Refund ``amount`` of the debit that collected ``collection`` (the caller booked it owed back)."""
    try:
        refund = refund_paid_twice(collection, dispute_id, amount)
    except NoDebitToRefundError as why:
        log.warning("debt paid twice not refunded, owed to the member for an operator: %s", why)
        return
    await _ask_for(session, refund, now, cause)


async def _ask_for(session: AsyncSession, refund: DebtRefund, now: datetime, cause: UUID | None) -> None:
    """Store the refund with its key and ask for it after commit (once: a refund stored is asked)."""
    if await debt_refunds.load_refund(session, refund.debt_collection_id, refund.dispute_id) is not None:
        return
    await debt_refunds.save_refund(session, refund, now)
    await add_to_outbox(
        session, subjects.COLLECTIONS_CREATE_DEBT_REFUND, debt_outgoing.refund_command(refund, now, cause)
    )
    await add_to_outbox(session, *debt_outgoing.debt_refund_started(refund, now, cause))
    log.info("debt of dispute %s paid twice: refunding %s", refund.dispute_id, refund.idempotency_key)


async def on_refund_report(
    session: AsyncSession,
    debt_collection_id: UUID,
    dispute_id: str,
    report: RefundReport,
    now: datetime,
    *,
    cause: UUID | None,
) -> str:
    """Apply what Stripe said of a debt's refund; returns what became of it, for logs."""
    group_id = await debt_collections.group_of_collection(session, debt_collection_id)
    if group_id is None:
        return "not_ours"
    await load_rotation(session, group_id)  # the group's lock, as every debt step takes it first
    refund = await debt_refunds.load_refund(session, debt_collection_id, dispute_id)
    if refund is None:
        return "not_ours"
    after, outcome = refund_reported(refund, report)
    if outcome is DebtRefundOutcome.NO_CHANGE:
        return outcome.value
    await debt_refunds.save_refund(session, after, now)
    if outcome is DebtRefundOutcome.REFUNDED:
        landed = postings.debt_refunded(
            after.debt_collection_id, after.dispute_id, after.member_id, after.amount, after.currency
        )
        # Filed under the group, as the debt's own transactions are.
        await ledger.post(session, group_id, (landed,), now)
        await add_to_outbox(session, *debt_outgoing.debt_refunded(after, now, cause))
    elif outcome is DebtRefundOutcome.FAILED:
        # Nothing to book: the money was owed back to the member since the dispute was won, and
        # stays so (``refund_owed``) until an operator pays it.
        log.warning("refund %s of a debt paid twice failed: %s", after.idempotency_key, after.failure_reason)
        await add_to_outbox(session, *debt_outgoing.debt_refund_failed(after, now, cause))
    return outcome.value
