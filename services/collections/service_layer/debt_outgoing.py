"""A debt collection's messages: the Stripe call of an attempt's debit, and the notices to the member."""

from datetime import datetime
from typing import Any, Final
from uuid import UUID

from contracts import subjects
from contracts.collections import CreateDebtPaymentIntent, CreateDebtRefund, ReadDebtChargeFee
from contracts.notifications import MemberNotification
from services.collections.domain.contribution import FailureClass, classify_failure
from services.collections.domain.debt_collection import DebtAttemptStatus, DebtCollection
from services.collections.domain.debt_refunds import DebtRefund
from services.collections.service_layer.outgoing import message_id_for

# What a member does about a failed debit of their debt: pay again, or first authorise a bank
# account again when the bank refused the mandate itself.
AUTHORISE_AGAIN: Final = "POST /onboarding/members/me/becs/setup-intents"


def pay_again(group_id: UUID) -> str:
    return f"POST /collections/groups/{group_id}/members/me/debt/payments"


def _envelope(collection: DebtCollection, now: datetime, cause: UUID | None) -> dict[str, Any]:
    return {"occurred_at": now, "correlation_id": str(collection.debt_collection_id), "causation_id": cause}


def debit_command(collection: DebtCollection, now: datetime, cause: UUID | None) -> CreateDebtPaymentIntent:
    """The latest attempt's debit, to make after this transaction (one message id per attempt)."""
    attempt = collection.latest
    key = collection.idempotency_key(attempt.attempt)
    return CreateDebtPaymentIntent(
        **_envelope(collection, now, cause),
        message_id=message_id_for(key),
        group_id=collection.group_id,
        debt_collection_id=collection.debt_collection_id,
        member_id=collection.member_id,
        attempt=attempt.attempt,
        idempotency_key=key,
        amount=collection.amount,
        currency=collection.currency,
        customer_id=attempt.payment_method.customer_id,
        payment_method_id=attempt.payment_method.payment_method_id,
        mandate_id=attempt.payment_method.mandate_id,
        metadata=collection.metadata(attempt.attempt),
    )


def read_fee_command(
    collection: DebtCollection, now: datetime, cause: UUID | None
) -> ReadDebtChargeFee | None:
    """Read Stripe's fee on the debit that collected the debt (None if no attempt names it)."""
    collected = next((a for a in collection.attempts if a.status is DebtAttemptStatus.SUCCEEDED), None)
    if collected is None or collected.payment_intent_id is None:
        return None
    return ReadDebtChargeFee(
        **_envelope(collection, now, cause),
        message_id=message_id_for(f"read-debt-charge-fee-{collection.debt_collection_id}"),
        group_id=collection.group_id,
        debt_collection_id=collection.debt_collection_id,
        payment_intent_id=collected.payment_intent_id,
        currency=collection.currency,
    )


def _amount(collection: DebtCollection | DebtRefund) -> str:
    dollars, cents = divmod(collection.amount, 100)
    return f"{dollars}.{cents:02d} {collection.currency.upper()}"


def debt_collected(
    collection: DebtCollection, now: datetime, cause: UUID | None
) -> tuple[str, MemberNotification]:
    notice = MemberNotification(
        **_envelope(collection, now, cause),
        message_id=message_id_for(f"debt-collected-{collection.debt_collection_id}"),
        member_id=collection.member_id,
        kind="debt_collected",
        title="Your debt is paid",
        body=f"We collected {_amount(collection)} you owed your circle after a disputed debit. "
        "A pot held for it will be paid to you.",
        action=None,
        group_ids=[collection.group_id],
    )
    return subjects.NOTIFY_MEMBER_DEBT_COLLECTED, notice


def debt_debit_failed(
    collection: DebtCollection, now: datetime, cause: UUID | None
) -> tuple[str, MemberNotification]:
    attempt = collection.latest
    reason = attempt.failure_code or "debit_failed"
    # As the cycle's retry rule reads a failure: one not known to pass needs a new mandate.
    authorise = classify_failure(attempt.failure_code) is FailureClass.MANDATE_GONE
    what_to_do = (
        "Authorise a bank account again, then ask to pay again."
        if authorise
        else "Make sure the money is in your account, then ask to pay again."
    )
    notice = MemberNotification(
        **_envelope(collection, now, cause),
        message_id=message_id_for(f"debt-debit-failed-{collection.idempotency_key(attempt.attempt)}"),
        member_id=collection.member_id,
        kind="debt_debit_failed",
        title="Your debt could not be collected",
        body=f"Your bank declined the debit of {_amount(collection)} you owe your circle "
        f"(reason: {reason}). You still owe it, and your pot stays held until it is paid. {what_to_do}",
        action=AUTHORISE_AGAIN if authorise else pay_again(collection.group_id),
        group_ids=[collection.group_id],
    )
    return subjects.NOTIFY_MEMBER_DEBT_DEBIT_FAILED, notice


def debt_debit_disputed(
    collection: DebtCollection, dispute_id: str, now: datetime, cause: UUID | None
) -> tuple[str, MemberNotification]:
    notice = MemberNotification(
        **_envelope(collection, now, cause),
        message_id=message_id_for(f"debt-debit-disputed-{dispute_id}"),
        member_id=collection.member_id,
        kind="debt_debit_disputed",
        title="You owe your circle again",
        body=f"Your bank returned the debit of {_amount(collection)} that paid what you owed your circle, "
        "so you owe it again, and your pot is held until it is paid.",
        action=pay_again(collection.group_id),
        group_ids=[collection.group_id],
    )
    return subjects.NOTIFY_MEMBER_DEBT_DEBIT_DISPUTED, notice


def _refund_envelope(refund: DebtRefund, now: datetime, cause: UUID | None) -> dict[str, Any]:
    return {"occurred_at": now, "correlation_id": str(refund.debt_collection_id), "causation_id": cause}


def refund_command(refund: DebtRefund, now: datetime, cause: UUID | None) -> CreateDebtRefund:
    """The refund of a debt paid twice, to make after this transaction (one message id per refund)."""
    return CreateDebtRefund(
        **_refund_envelope(refund, now, cause),
        message_id=message_id_for(refund.idempotency_key),
        group_id=refund.group_id,
        debt_collection_id=refund.debt_collection_id,
        dispute_id=refund.dispute_id,
        member_id=refund.member_id,
        idempotency_key=refund.idempotency_key,
        payment_intent_id=refund.payment_intent_id,
        amount=refund.amount,
        currency=refund.currency,
        metadata=refund.metadata(),
    )


def debt_refund_started(
    refund: DebtRefund, now: datetime, cause: UUID | None
) -> tuple[str, MemberNotification]:
    notice = MemberNotification(
        **_refund_envelope(refund, now, cause),
        message_id=message_id_for(f"debt-refund-started-{refund.idempotency_key}"),
        member_id=refund.member_id,
        kind="debt_refund_started",
        title="You paid your circle twice: we are refunding you",
        body=f"The disputed debit you had already paid back was settled in the circle's favour, so you "
        f"paid {_amount(refund)} twice. We are refunding it to the bank account it came from; BECS "
        "refunds take a few business days.",
        action=None,
        group_ids=[refund.group_id],
    )
    return subjects.NOTIFY_MEMBER_DEBT_REFUND_STARTED, notice


def debt_refunded(refund: DebtRefund, now: datetime, cause: UUID | None) -> tuple[str, MemberNotification]:
    notice = MemberNotification(
        **_refund_envelope(refund, now, cause),
        message_id=message_id_for(f"debt-refunded-{refund.idempotency_key}"),
        member_id=refund.member_id,
        kind="debt_refunded",
        title="Your refund has been paid",
        body=f"We refunded the {_amount(refund)} you paid your circle twice to your bank account.",
        action=None,
        group_ids=[refund.group_id],
    )
    return subjects.NOTIFY_MEMBER_DEBT_REFUNDED, notice


def debt_refund_failed(
    refund: DebtRefund, now: datetime, cause: UUID | None
) -> tuple[str, MemberNotification]:
    reason = refund.failure_reason or "refund_failed"
    notice = MemberNotification(
        **_refund_envelope(refund, now, cause),
        message_id=message_id_for(f"debt-refund-failed-{refund.idempotency_key}"),
        member_id=refund.member_id,
        kind="debt_refund_failed",
        title="We could not refund you yet",
        body=f"Your bank returned our refund of the {_amount(refund)} you paid your circle twice "
        f"(reason: {reason}). We still owe it to you, and our support team will pay it another way.",
        action=None,
        group_ids=[refund.group_id],
    )
    return subjects.NOTIFY_MEMBER_DEBT_REFUND_FAILED, notice
