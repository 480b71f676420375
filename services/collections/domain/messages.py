"""What the cycle saga reacts to, in the domain's words (handlers translate contracts into these)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.collections.domain.contribution import PaymentMethodRef


@dataclass(frozen=True)
class MemberMandate:
    member_id: str
    payment_method: PaymentMethodRef


@dataclass(frozen=True)
class CycleStarted:
    """The cycle's start timer fired; each member's payment method and mandate as known now."""

    occurred_at: datetime
    members: tuple[MemberMandate, ...]


@dataclass(frozen=True)
class AttemptMessage:
    """A fact about one debit attempt of one contribution (from Stripe, or from our own timers)."""

    occurred_at: datetime
    contribution_id: UUID
    attempt: int


@dataclass(frozen=True)
class PaymentIntentCreated(AttemptMessage):
    payment_intent_id: str


@dataclass(frozen=True)
class PaymentIntentProcessing(AttemptMessage):
    payment_intent_id: str


@dataclass(frozen=True)
class PaymentIntentSucceeded(AttemptMessage):
    payment_intent_id: str
    charge_id: str
    stripe_fee: int = 0


@dataclass(frozen=True)
class PaymentIntentFailed(AttemptMessage):
    payment_intent_id: str | None
    failure_code: str | None


@dataclass(frozen=True)
class RetryDue(AttemptMessage):
    """The retry timer of ``attempt`` (the attempt to make now) fired."""


@dataclass(frozen=True)
class RefundCreated(AttemptMessage):
    refund_id: str


@dataclass(frozen=True)
class RefundSucceeded(AttemptMessage):
    """Stripe refunds only a settled debit, so this also says the debit succeeded."""

    refund_id: str
    payment_intent_id: str
    charge_id: str


@dataclass(frozen=True)
class RefundFailed(AttemptMessage):
    """Stripe failed or cancelled the refund of ``attempt``'s debit."""

    refund_id: str
    failure_reason: str | None


@dataclass(frozen=True)
class DisputeOpened(AttemptMessage):
    """The member's bank took the debit back (and Stripe its fee); only a settled debit is disputed."""

    dispute_id: str
    payment_intent_id: str
    charge_id: str
    dispute_fee: int = 0


@dataclass(frozen=True)
class DisputeClosed(AttemptMessage):
    dispute_id: str
    payment_intent_id: str
    charge_id: str
    won: bool


@dataclass(frozen=True)
class MandateActivated:
    """Onboarding reports a new active mandate for the member."""

    occurred_at: datetime
    member_id: str
    payment_method: PaymentMethodRef


@dataclass(frozen=True)
class DeadlineReached:
    occurred_at: datetime


@dataclass(frozen=True)
class CyclePaid:
    """Payouts made every transfer of the cycle; their total, in minor units."""

    occurred_at: datetime
    transferred_amount: int


@dataclass(frozen=True)
class PayoutPaused:
    """A transfer failed: the recipient's account cannot receive now."""

    occurred_at: datetime
    reason: str


SagaMessage = (
    CycleStarted
    | PaymentIntentCreated
    | PaymentIntentProcessing
    | PaymentIntentSucceeded
    | PaymentIntentFailed
    | RetryDue
    | RefundCreated
    | RefundSucceeded
    | RefundFailed
    | DisputeOpened
    | DisputeClosed
    | MandateActivated
    | DeadlineReached
    | CyclePaid
    | PayoutPaused
)
