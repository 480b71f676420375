"""Stripe's reports of a member's debit of their dispute debt: ``stripe.payment_intent.*``, found by
the debt collection and attempt in the PaymentIntent's metadata (so a report that overtakes the
create's answer is applied at once, as a contribution's is), ``stripe.charge.dispute.*`` of that
debit, found by its PaymentIntent as recorded on the attempt, and ``stripe.refund.*`` /
``stripe.charge.refund.updated`` of the refund of a debt paid twice, found by the debt collection
and dispute in the refund's metadata."""

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.stripe_events import StripeEventReceived
from services.collections.domain.debt_collection import DebitReport, DebtAttemptStatus
from services.collections.domain.debt_refunds import DebtRefundStatus, RefundReport, refund_status_of
from services.collections.service_layer.debt_refunds import on_refund_report
from services.collections.service_layer.debts import on_debit_disputed, on_debit_report
from services.collections.service_layer.stripe_reports import (
    DISPUTE_EVENTS,
    REFUND_EVENTS,
    dispute_fee,
    payment_intent_of,
)
from services.collections.store import debt_collections

_STATUS_OF_EVENT: Final = {
    "payment_intent.processing": DebtAttemptStatus.PROCESSING,
    "payment_intent.succeeded": DebtAttemptStatus.SUCCEEDED,
    "payment_intent.payment_failed": DebtAttemptStatus.FAILED,
}


@dataclass(frozen=True)
class DebtRef:
    debt_collection_id: UUID
    report: DebitReport


def debt_report_of(event: StripeEventReceived) -> DebtRef | None:
    """The debt debit the event is about, and what it says; None for an event of anything else."""
    status = _STATUS_OF_EVENT.get(event.event_type)
    if status is None or event.object_type != "payment_intent":
        return None
    try:
        debt_collection_id = UUID(event.metadata["debt_collection_id"])
        attempt = int(event.metadata["attempt"])
    except (KeyError, ValueError):
        return None
    failure = (event.failure_code or "debit_failed") if status is DebtAttemptStatus.FAILED else None
    return DebtRef(debt_collection_id, DebitReport(attempt, status, event.object_id, failure))


def is_debt_debit(event: StripeEventReceived) -> bool:
    """Tagged as a debt collection's debit (whatever the event): never a contribution's."""
    return "debt_collection_id" in event.metadata


async def on_debt_event(session: AsyncSession, event: StripeEventReceived, now: datetime) -> str | None:
    """Apply the event if it is about a debt debit (its own, tagged by metadata, or a dispute of
    it, found by its PaymentIntent); None for an event of anything else."""
    if is_debt_debit(event) and event.event_type in REFUND_EVENTS:
        return await on_debt_refund_event(session, event, now)
    if is_debt_debit(event):
        found = debt_report_of(event)
        if found is None:
            return "nothing_to_decide"
        return await on_debit_report(
            session, found.debt_collection_id, found.report, now, cause=event.message_id
        )
    payment_intent_id = payment_intent_of(event)
    if event.event_type in DISPUTE_EVENTS and payment_intent_id is not None:
        return await on_dispute_of_debt_debit(session, event, payment_intent_id, now)
    return None


async def on_debt_refund_event(session: AsyncSession, event: StripeEventReceived, now: datetime) -> str:
    """A report of the refund of a debt paid twice, found by the debt collection and dispute its
    metadata names (a refund is no debit: no ``attempt``)."""
    try:
        debt_collection_id = UUID(event.metadata["debt_collection_id"])
        dispute_id = event.metadata["dispute_id"]
    except (KeyError, ValueError):
        return "nothing_to_decide"
    status = refund_status_of(event.object_status)
    if status is DebtRefundStatus.REQUESTED:
        return "nothing_to_decide"
    failure = (event.failure_code or event.object_status) if status is DebtRefundStatus.FAILED else None
    report = RefundReport(status, event.object_id, failure)
    return await on_refund_report(
        session, debt_collection_id, dispute_id, report, now, cause=event.message_id
    )


async def on_dispute_of_debt_debit(
    session: AsyncSession, event: StripeEventReceived, payment_intent_id: str, now: datetime
) -> str | None:
    """A dispute of a debt debit (found by its PaymentIntent, disputes carry no metadata), applied;
    None when the PaymentIntent is no debt debit."""
    debt_collection_id = await debt_collections.collection_of_payment_intent(session, payment_intent_id)
    if debt_collection_id is None:
        return None
    if event.object_id is None:
        return "nothing_to_decide"
    won = None if event.event_type == "charge.dispute.created" else event.object_status == "won"
    return await on_debit_disputed(
        session,
        debt_collection_id,
        event.object_id,
        now,
        event.message_id,
        dispute_fee=dispute_fee(event.raw_object),
        won=won,
    )
