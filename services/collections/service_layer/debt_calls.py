"""The debit of a member's dispute debt, made at Stripe after the request that asked for it
committed, and Stripe's answer fed back into the debt collection.

As a contribution's debit (``stripe_calls``): the call runs before anything is locked, with the key
stored with the attempt (``debt-<debt_collection_id>-<attempt>``), so a crash or a redelivery gets
Stripe's first answer, never a second debit; Stripe busy puts the message off (``RetryLater``);
Stripe unreachable is redelivered, then asked again on a timer; Stripe refusing the debit (an
inactive mandate, a detached payment method) is a failed attempt the member hears of; a call
decided more than a day ago first looks for what an earlier try made.
"""

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.collections import CreateDebtPaymentIntent, CreateDebtRefund, ReadDebtChargeFee
from services.collections.domain import postings
from services.collections.domain.debt_collection import DebitReport, DebtAttemptStatus
from services.collections.domain.debt_refunds import DebtRefundStatus, RefundReport, refund_status_of
from services.collections.service_layer.debt_refunds import on_refund_report
from services.collections.service_layer.debts import on_debit_report
from services.collections.service_layer.outgoing import message_id_for, timer
from services.collections.service_layer.stripe_calls import (
    CALL_AGAIN_AFTER,
    KEY_KEPT_FOR,
    ChargeNotBookedError,
    put_off,
)
from services.collections.store import ledger
from services.collections.stripe import PaymentIntentAnswer, StripeCollections
from services.runtime.outbox import add_to_outbox
from services.runtime.stripe_client import StripeBusyError, StripeRejectedError, StripeUnavailableError

log = logging.getLogger(__name__)

_STATUSES = {
    "processing": DebtAttemptStatus.PROCESSING,
    "succeeded": DebtAttemptStatus.SUCCEEDED,
    "requires_payment_method": DebtAttemptStatus.FAILED,
    "canceled": DebtAttemptStatus.FAILED,
}


async def create_debt_payment_intent(
    session: AsyncSession,
    stripe: StripeCollections,
    command: CreateDebtPaymentIntent,
    now: datetime,
    *,
    last_try: bool,
) -> str:
    try:
        earlier = await _earlier(stripe, command, now)
        answer = earlier or await stripe.create_debt_payment_intent(command)
    except StripeBusyError as busy:
        raise put_off(busy) from busy
    except StripeRejectedError as refused:
        log.warning("Stripe refused debt debit %s: %s", command.idempotency_key, refused.stripe_message)
        failed = DebitReport(
            command.attempt, DebtAttemptStatus.FAILED, None, refused.code or "stripe_rejected"
        )
        await on_debit_report(session, command.debt_collection_id, failed, now, command.message_id)
        return "refused"
    except StripeUnavailableError:
        if not last_try:
            raise
        await _call_again_later(session, command, subjects.COLLECTIONS_CREATE_DEBT_PAYMENT_INTENT, now)
        return "postponed"
    await on_debit_report(
        session, command.debt_collection_id, report_of(command, answer), now, command.message_id
    )
    return answer.status


async def book_debt_charge_fee(
    session: AsyncSession,
    stripe: StripeCollections,
    command: ReadDebtChargeFee,
    now: datetime,
    *,
    last_try: bool,
) -> str:
    """Stripe's fee on the debit that paid the debt, booked once as the platform's cost (filed under
    the group, as the debt's own posting is)."""
    try:
        fee = await stripe.charge_fee(command.payment_intent_id)
    except StripeBusyError as busy:
        raise put_off(busy) from busy
    except StripeUnavailableError:
        if not last_try:
            raise
        await _call_again_later(session, command, subjects.COLLECTIONS_READ_DEBT_CHARGE_FEE, now)
        return "postponed"
    if fee is None:
        raise ChargeNotBookedError(
            f"debt debit {command.payment_intent_id} has no balance transaction at Stripe"
        )
    await ledger.post(
        session,
        command.group_id,
        postings.debt_stripe_fee(command.debt_collection_id, command.currency, fee),
        now,
    )
    return f"fee {fee}"


async def create_debt_refund(
    session: AsyncSession,
    stripe: StripeCollections,
    command: CreateDebtRefund,
    now: datetime,
    *,
    last_try: bool,
) -> str:
    """Refund a debt paid twice, with the key stored with the refund; Stripe refusing it is a
    failed refund (the money stays owed to the member), never a dead letter."""
    try:
        earlier = None
        if now - command.occurred_at >= KEY_KEPT_FOR:
            earlier = await stripe.find_debt_refund(command)
        answer = earlier or await stripe.create_debt_refund(command)
    except StripeBusyError as busy:
        raise put_off(busy) from busy
    except StripeRejectedError as refused:
        log.warning("Stripe refused debt refund %s: %s", command.idempotency_key, refused.stripe_message)
        failed = RefundReport(DebtRefundStatus.FAILED, None, refused.code or "stripe_rejected")
        await on_refund_report(
            session, command.debt_collection_id, command.dispute_id, failed, now, cause=command.message_id
        )
        return "refused"
    except StripeUnavailableError:
        if not last_try:
            raise
        await _call_again_later(session, command, subjects.COLLECTIONS_CREATE_DEBT_REFUND, now)
        return "postponed"
    status = refund_status_of(answer.status)
    failure = answer.failure_reason if status is DebtRefundStatus.FAILED else None
    report = RefundReport(status, answer.refund_id, failure)
    await on_refund_report(
        session, command.debt_collection_id, command.dispute_id, report, now, cause=command.message_id
    )
    return answer.status or "unknown"


def report_of(command: CreateDebtPaymentIntent, answer: PaymentIntentAnswer) -> DebitReport:
    """Stripe's answer as a report: the PaymentIntent made, and how far it got already."""
    status = _STATUSES.get(answer.status, DebtAttemptStatus.REQUESTED)
    failure = answer.failure_code if status is DebtAttemptStatus.FAILED else None
    return DebitReport(command.attempt, status, answer.payment_intent_id, failure)


async def _earlier(
    stripe: StripeCollections, command: CreateDebtPaymentIntent, now: datetime
) -> PaymentIntentAnswer | None:
    if now - command.occurred_at < KEY_KEPT_FOR:
        return None  # Stripe still holds the key: a repeat gets the first answer
    found = await stripe.find_debt_payment_intent(command)
    if found is not None:
        log.warning("debt debit %s: adopting what an earlier try made, %s", command.idempotency_key, found)
    return found


async def _call_again_later(
    session: AsyncSession,
    command: CreateDebtPaymentIntent | ReadDebtChargeFee | CreateDebtRefund,
    subject: str,
    now: datetime,
) -> None:
    """Stripe stayed unreachable through every delivery: ask again later (a debit with the same
    key; the copy keeps ``occurred_at``, when the member asked)."""
    key = (
        f"debt-fee-{command.debt_collection_id}"
        if isinstance(command, ReadDebtChargeFee)
        else command.idempotency_key
    )
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
