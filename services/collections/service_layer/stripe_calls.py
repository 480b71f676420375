"""The saga's Stripe calls, made after the transaction that decided them, and their answers fed
back into the saga.

The call runs before this message's saga step loads (and locks) the cycle: while Stripe is asked,
the consumer's transaction holds only this message's inbox row, never the cycle, and the decision
that asked for the call committed long before. A crash anywhere repeats the call with the same
idempotency key: Stripe answers with the first result, never a second debit. Stripe refusing the
request (a detached payment method, an inactive mandate, a decline at confirmation) is a failed
attempt for the saga, not a poison message. Stripe unreachable is retried by redelivery; after the
last delivery the call is put back on a timer rather than given up.
"""

import logging
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.collections import CreatePaymentIntent, CreateRefund
from services.collections.domain.messages import (
    PaymentIntentCreated,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    RefundCreated,
    RefundFailed,
    SagaMessage,
)
from services.collections.service_layer.cycle_steps import apply_to_cycle
from services.collections.service_layer.outgoing import message_id_for, timer
from services.collections.stripe import PaymentIntentAnswer, StripeCollections
from services.runtime.outbox import add_to_outbox
from services.runtime.stripe_client import StripeRejectedError, StripeUnavailableError

log = logging.getLogger(__name__)

CALL_AGAIN_AFTER: Final = timedelta(minutes=10)
_FAILED_STATUSES: Final = frozenset({"requires_payment_method", "canceled"})


async def create_payment_intent(
    session: AsyncSession,
    stripe: StripeCollections,
    command: CreatePaymentIntent,
    now: datetime,
    *,
    last_try: bool,
) -> str:
    try:
        answer = await stripe.create_payment_intent(command)
    except StripeRejectedError as refused:
        log.warning("Stripe refused debit %s: %s", command.idempotency_key, refused.stripe_message)
        failed = PaymentIntentFailed(
            now, command.contribution_id, command.attempt, None, refused.code or "stripe_rejected"
        )
        await apply_to_cycle(session, command.cycle_id, failed, now, command.message_id)
        return "refused"
    except StripeUnavailableError:
        if not last_try:
            raise
        await _call_again_later(session, command, now)
        return "postponed"
    for message in _reports_of(command, answer, now):
        await apply_to_cycle(session, command.cycle_id, message, now, command.message_id)
    return answer.status


def _reports_of(
    command: CreatePaymentIntent, answer: PaymentIntentAnswer, now: datetime
) -> list[SagaMessage]:
    """What Stripe's answer says: created, and already processing, succeeded or failed if so."""
    contribution_id, attempt, intent = command.contribution_id, command.attempt, answer.payment_intent_id
    reports: list[SagaMessage] = [PaymentIntentCreated(now, contribution_id, attempt, intent)]
    if answer.status == "processing":
        reports.append(PaymentIntentProcessing(now, contribution_id, attempt, intent))
    elif answer.status == "succeeded" and answer.charge_id is not None:
        reports.append(PaymentIntentSucceeded(now, contribution_id, attempt, intent, answer.charge_id))
    elif answer.status in _FAILED_STATUSES:
        reports.append(PaymentIntentFailed(now, contribution_id, attempt, intent, answer.failure_code))
    return reports


async def create_refund(
    session: AsyncSession, stripe: StripeCollections, command: CreateRefund, now: datetime, *, last_try: bool
) -> str:
    try:
        answer = await stripe.create_refund(command)
    except StripeRejectedError as refused:
        # Stripe will not refund this debit (already refunded, disputed, failed): the money stays
        # owed to the member, for an operator to settle.
        log.warning("Stripe refused refund %s: %s", command.idempotency_key, refused.stripe_message)
        failed = RefundFailed(
            now, command.contribution_id, command.attempt, "", refused.code or "stripe_rejected"
        )
        await apply_to_cycle(session, command.cycle_id, failed, now, command.message_id)
        return "refused"
    except StripeUnavailableError:
        if not last_try:
            raise
        await _call_again_later(session, command, now)
        return "postponed"
    created = RefundCreated(now, command.contribution_id, command.attempt, answer.refund_id)
    await apply_to_cycle(session, command.cycle_id, created, now, command.message_id)
    return answer.status or "unknown"


async def _call_again_later(
    session: AsyncSession, command: CreatePaymentIntent | CreateRefund, now: datetime
) -> None:
    """Stripe stayed unreachable through every delivery: ask again later with the same key."""
    subject = (
        subjects.COLLECTIONS_CREATE_PAYMENT_INTENT
        if isinstance(command, CreatePaymentIntent)
        else subjects.COLLECTIONS_CREATE_REFUND
    )
    timer_id = f"stripe-call:{command.idempotency_key}:{command.message_id}"
    again = command.model_copy(update={"message_id": message_id_for(timer_id), "occurred_at": now})
    envelope = {
        "occurred_at": now,
        "correlation_id": command.correlation_id,
        "causation_id": command.message_id,
    }
    log.warning(
        "Stripe unreachable for %s; calling again after %s", command.idempotency_key, CALL_AGAIN_AFTER
    )
    await add_to_outbox(
        session,
        subjects.SCHEDULER_SCHEDULE,
        timer(timer_id, now + CALL_AGAIN_AFTER, subject, again, envelope),
    )
