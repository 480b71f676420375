"""Stripe's reports about rosca's debits, refunds and disputes, into the saga of their cycle."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.stripe_events import StripeEventReceived
from services.collections.service_layer import debt_reports
from services.collections.service_layer.cycle_steps import apply_to_cycle
from services.collections.service_layer.stripe_reports import (
    attempt_in_metadata,
    payment_intent_of,
    saga_message,
)
from services.collections.store import parked_events
from services.collections.store.cycles import attempt_of_payment_intent, cycle_of_contribution


async def on_stripe_report(session: AsyncSession, event: StripeEventReceived, now: datetime) -> str:
    """Returns what became of the event, for logs and metrics."""
    debt_outcome = await debt_reports.on_debt_event(session, event, now)
    if debt_outcome is not None:
        return debt_outcome  # about a member's debit of their dispute debt: no cycle's contribution
    tagged = attempt_in_metadata(event)
    if tagged is not None:
        # Our own metadata names the attempt, even when the create's answer is not recorded yet.
        if await cycle_of_contribution(session, tagged.contribution_id) != tagged.cycle_id:
            return "not_ours"
        cycle_id, contribution_id, attempt = tagged.cycle_id, tagged.contribution_id, tagged.attempt
    else:
        payment_intent_id = payment_intent_of(event)
        if payment_intent_id is None:
            return "not_ours"
        recorded = await attempt_of_payment_intent(session, payment_intent_id)
        if recorded is None:
            # A dispute names only its PaymentIntent; the attempt that made it may not have
            # recorded Stripe's answer yet. Kept, and applied when it does.
            await parked_events.park(session, event, payment_intent_id, now)
            return "parked"
        cycle_id, contribution_id, attempt = recorded.cycle_id, recorded.contribution_id, recorded.attempt
    message = saga_message(event, contribution_id, attempt)
    if message is None:
        return "nothing_to_decide"
    moved = await apply_to_cycle(session, cycle_id, message, now, event.message_id)
    return "applied" if moved else "no_change"
