"""The saga's Stripe calls, made after the transaction that decided them, and their answers fed
back into the saga.

The call runs before this message's saga step loads (and locks) the cycle: while Stripe is asked,
the consumer's transaction holds only this message's inbox row, never the cycle, and the decision
that asked for the call committed long before. A crash anywhere repeats the call with the same
idempotency key: Stripe answers with the first result, never a second debit. Stripe refusing the
request (a detached payment method, an inactive mandate, a decline at confirmation) is a failed
attempt for the saga, not a poison message. Stripe unreachable is retried by redelivery; after the
last delivery the call is put back on a timer rather than given up.

Stripe busy (the shared request budget's queue is longer than a call may wait, or Stripe still
answers 429 after the client's retries) is no failure of the call: the message is put off until the
budget's next free slot (``RetryLater``), does not use up its deliveries and never goes to the
timer. Waiting in the budget instead, for minutes, would hold this consumer's transaction and
outlast the message's ack wait; and a call waiting far ahead in the queue holds a slot a member's
request would then queue behind.

Stripe keeps an idempotency key 24 hours. A call whose saga step decided it more than
``KEY_KEPT_FOR`` ago (``occurred_at`` is kept through every retry and timer, and no try is older)
first looks for what an earlier try made, by its metadata, and adopts it rather than create a
second debit or refund under a key Stripe has forgotten.
"""

import logging
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.collections import CreatePaymentIntent, CreateRefund, ReadChargeFee
from services.collections.domain import postings
from services.collections.domain.messages import (
    PaymentIntentCreated,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    RefundCreated,
    RefundFailed,
    SagaMessage,
)
from services.collections.service_layer.cycle_steps import apply_in_turn_to_cycle, apply_to_cycle
from services.collections.service_layer.outgoing import message_id_for, timer
from services.collections.store import ledger
from services.collections.stripe import PaymentIntentAnswer, RefundAnswer, StripeCollections
from services.runtime.consumer import RetryLater
from services.runtime.outbox import add_to_outbox
from services.runtime.request_budget import RequestBudgetExhaustedError
from services.runtime.stripe_client import StripeBusyError, StripeRejectedError, StripeUnavailableError

log = logging.getLogger(__name__)

CALL_AGAIN_AFTER: Final = timedelta(minutes=10)
# Stripe keeps a key for at least 24 h; an hour's margin for the clocks' difference.
KEY_KEPT_FOR: Final = timedelta(hours=23)
# Stripe said 429 through every retry of the client: its own limit, which names no time.
RATE_LIMITED_AGAIN_AFTER_SECONDS: Final = 5.0
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
        earlier = await _earlier_payment_intent(stripe, command, now)
        answer = earlier or await stripe.create_payment_intent(command)
    except StripeBusyError as busy:
        raise put_off(busy) from busy
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
    reports = _reports_of(command, answer, now)
    await apply_in_turn_to_cycle(session, command.cycle_id, reports, now, command.message_id)
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
        answer = await _earlier_refund(stripe, command, now) or await stripe.create_refund(command)
    except StripeBusyError as busy:
        raise put_off(busy) from busy
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


class ChargeNotBookedError(Exception):
    """A collected debit's charge has no balance transaction at Stripe, so no fee to read."""


async def book_charge_fee(
    session: AsyncSession, stripe: StripeCollections, command: ReadChargeFee, now: datetime, *, last_try: bool
) -> str:
    """Stripe's fee on a collected debit, read from its charge and booked once (by the debit's
    reference) as the platform's cost: from platform funds to ``stripe_fees``, never from the pot."""
    try:
        fee = await stripe.charge_fee(command.payment_intent_id)
    except StripeBusyError as busy:
        raise put_off(busy) from busy
    except StripeUnavailableError:
        if not last_try:
            raise
        await _call_again_later(session, command, now)
        return "postponed"
    if fee is None:
        # Stripe books a charge as its debit succeeds: one without is for redelivery, then an operator.
        raise ChargeNotBookedError(f"charge {command.charge_id} has no balance transaction at Stripe")
    reference = postings.debit_reference(command.contribution_id, command.attempt)
    await ledger.post(
        session, command.cycle_id, postings.debit_stripe_fee(reference, command.currency, fee), now
    )
    return f"fee {fee}"


async def _earlier_payment_intent(
    stripe: StripeCollections, command: CreatePaymentIntent, now: datetime
) -> PaymentIntentAnswer | None:
    if now - command.occurred_at < KEY_KEPT_FOR:
        return None  # Stripe still holds the key: a repeat gets the first answer
    found = await stripe.find_payment_intent(command)
    if found is not None:
        log.warning(
            "debit %s decided %s ago: adopting what an earlier try made, %s",
            command.idempotency_key,
            now - command.occurred_at,
            found,
        )
    return found


async def _earlier_refund(
    stripe: StripeCollections, command: CreateRefund, now: datetime
) -> RefundAnswer | None:
    if now - command.occurred_at < KEY_KEPT_FOR:
        return None
    found = await stripe.find_refund(command)
    if found is not None:
        log.warning(
            "refund %s decided %s ago: adopting what an earlier try made, %s",
            command.idempotency_key,
            now - command.occurred_at,
            found,
        )
    return found


def put_off(busy: StripeBusyError) -> RetryLater:
    """Come back when the budget's next free slot, which this call could not wait for, is due:
    by then the queue seen now has drained."""
    cause = busy.__cause__
    if isinstance(cause, RequestBudgetExhaustedError):
        return RetryLater(cause.wait_seconds, str(busy))
    return RetryLater(RATE_LIMITED_AGAIN_AFTER_SECONDS, str(busy))


_SUBJECTS: Final = {
    CreatePaymentIntent: subjects.COLLECTIONS_CREATE_PAYMENT_INTENT,
    CreateRefund: subjects.COLLECTIONS_CREATE_REFUND,
    ReadChargeFee: subjects.COLLECTIONS_READ_CHARGE_FEE,
}


async def _call_again_later(
    session: AsyncSession, command: CreatePaymentIntent | CreateRefund | ReadChargeFee, now: datetime
) -> None:
    """Stripe stayed unreachable through every delivery: ask again later with the same key.

    The copy keeps ``occurred_at``, when the saga decided the call: no try of it is older, which is
    how a try a day later knows Stripe may have forgotten the key."""
    subject = _SUBJECTS[type(command)]
    key = command.idempotency_key if not isinstance(command, ReadChargeFee) else f"fee-{command.charge_id}"
    timer_id = f"stripe-call:{key}:{command.message_id}"
    again = command.model_copy(update={"message_id": message_id_for(timer_id)})
    envelope = {
        "occurred_at": now,
        "correlation_id": command.correlation_id,
        "causation_id": command.message_id,
    }
    log.warning("Stripe unreachable for %s; calling again after %s", key, CALL_AGAIN_AFTER)
    await add_to_outbox(
        session,
        subjects.SCHEDULER_SCHEDULE,
        timer(timer_id, now + CALL_AGAIN_AFTER, subject, again, envelope),
    )
