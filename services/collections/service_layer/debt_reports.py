"""Stripe's reports (``stripe.payment_intent.*``) of a member's debit of their dispute debt, found
by the debt collection and attempt in the PaymentIntent's metadata: so a report that overtakes the
create's answer is applied at once, as a contribution's is."""

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.stripe_events import StripeEventReceived
from services.collections.domain.debt_collection import DebitReport, DebtAttemptStatus
from services.collections.service_layer.debts import on_debit_report

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


async def on_debt_report(session: AsyncSession, event: StripeEventReceived, now: datetime) -> str:
    found = debt_report_of(event)
    if found is None:
        return "nothing_to_decide"
    return await on_debit_report(session, found.debt_collection_id, found.report, now, event.message_id)
