"""A debt paid twice, given back: the refund of the debit that paid it is stored (its key with it)
and asked of Stripe after commit (``debt_calls.create_debt_refund``), and Stripe's reports of it
move it on, each in the caller's transaction.

The rotation saga finds the debt paid twice (``delinquency.receivable_settled``: a dispute won
after its receivable was paid) and books it, in the transaction of the cycle or debt step that
heard the win; ``rotation_steps.carry_out`` then calls ``refund_debt_paid_twice`` in that same
transaction, so the refund is stored exactly when the books say the money is owed back.
"""

import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from services.collections.domain import postings
from services.collections.domain.debt_refunds import (
    DebtRefundOutcome,
    NoDebitToRefundError,
    RefundReport,
    refund_paid_twice,
    refund_reported,
)
from services.collections.domain.rotation_commands import RefundDebtPaidTwice
from services.collections.service_layer import debt_outgoing
from services.collections.store import debt_collections, debt_refunds, ledger
from services.collections.store.rotation_state import load_rotation
from services.runtime.outbox import add_to_outbox

log = logging.getLogger(__name__)


async def refund_debt_paid_twice(
    session: AsyncSession, command: RefundDebtPaidTwice, now: datetime, cause: UUID | None
) -> None:
    """Store the refund of the debit that paid the dispute's debt and ask for it (once)."""
    paid_by = await debt_refunds.collection_that_paid(
        session, command.group_id, command.member_id, command.dispute_id
    )
    collection = await debt_collections.load_collection(session, paid_by) if paid_by is not None else None
    if collection is None:
        log.warning(
            "dispute %s of member %s won after its debt was paid, but no debit of theirs paid it: "
            "%d stays owed to them for an operator",
            command.dispute_id,
            command.member_id,
            command.amount,
        )
        return
    if await debt_refunds.load_refund(session, collection.debt_collection_id, command.dispute_id) is not None:
        return
    try:
        refund = refund_paid_twice(collection, command.dispute_id, command.amount)
    except NoDebitToRefundError as why:
        log.warning("debt paid twice not refunded, owed to the member for an operator: %s", why)
        return
    await debt_refunds.save_refund(session, refund, now)
    await add_to_outbox(
        session, subjects.COLLECTIONS_CREATE_DEBT_REFUND, debt_outgoing.refund_command(refund, now, cause)
    )
    await add_to_outbox(session, *debt_outgoing.debt_refund_started(refund, now, cause))
    log.info("debt of dispute %s paid twice: refunding %s", command.dispute_id, refund.idempotency_key)


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
