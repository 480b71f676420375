"""What the cycle saga asks for: data the handler turns into Stripe calls, timers and messages."""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID


@dataclass(frozen=True)
class CreatePaymentIntent:
    """One BECS debit attempt: ``confirm=true``, ``off_session=true``, ``au_becs_debit``."""

    idempotency_key: str
    contribution_id: UUID
    member_id: str
    attempt: int
    amount: int
    currency: str
    customer_id: str
    payment_method_id: str
    mandate_id: str
    transfer_group: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class ScheduleRetry:
    """A timer that delivers ``RetryDue(contribution_id, attempt)`` at ``at``."""

    timer_id: str
    contribution_id: UUID
    attempt: int
    at: datetime


@dataclass(frozen=True)
class CancelRetry:
    timer_id: str


@dataclass(frozen=True)
class ScheduleDeadline:
    """A timer that delivers ``DeadlineReached`` for the cycle at ``at``."""

    timer_id: str
    cycle_id: UUID
    at: datetime


@dataclass(frozen=True)
class CancelDeadline:
    timer_id: str


@dataclass(frozen=True)
class CreateRefund:
    """Refund one debit in full; Stripe holds it while the debit is processing."""

    idempotency_key: str
    contribution_id: UUID
    member_id: str
    attempt: int
    payment_intent_id: str
    amount: int
    currency: str
    metadata: dict[str, str]


@dataclass(frozen=True)
class ReadStripeFee:
    """Read Stripe's fee on a collected debit (its charge's balance transaction) and book it:
    Stripe's reports of a debit do not carry it, and reading Stripe has no place inside a step."""

    contribution_id: UUID
    attempt: int
    payment_intent_id: str
    charge_id: str
    currency: str


@dataclass(frozen=True)
class PayoutCharge:
    """One collected debit and how it splits: ``transfer_amount + platform_fee == amount``."""

    contribution_id: UUID
    member_id: str
    payment_intent_id: str
    charge_id: str
    amount: int
    platform_fee: int
    transfer_amount: int


@dataclass(frozen=True)
class RequestPayout:
    """Pay the pot to the recipient: one transfer per charge (``payouts.cmd.pay_cycle``)."""

    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    recipient_member_id: str
    connected_account_id: str
    currency: str
    transfer_group: str
    charges: tuple[PayoutCharge, ...]


class NoticeKind(StrEnum):
    MANDATE_NEEDED = "contribution_mandate_needed"
    DEBIT_FAILED_RETRYING = "contribution_debit_failed_retrying"
    DEBIT_FAILED_AUTHORISE_AGAIN = "contribution_debit_failed_authorise_again"
    DEBIT_FAILED_FINAL = "contribution_debit_failed_final"
    DEBIT_DISPUTED_OWED = "contribution_disputed_amount_owed"
    REFUND_FAILED = "contribution_refund_failed"


@dataclass(frozen=True)
class NotifyMember:
    """What happened, the next attempt (or that the member must act), and the deadline."""

    member_id: str
    kind: NoticeKind
    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    contribution_id: UUID
    amount: int
    currency: str
    deadline_on: date
    failure_code: str | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class PublishCycleStatus:
    """The cycle's status changed: ``collections.evt.cycle_<status>`` for the rest of the system."""

    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    status: str
    defaulting_member_ids: tuple[str, ...]
    delinquent_member_ids: tuple[str, ...]


Command = (
    CreatePaymentIntent
    | ScheduleRetry
    | CancelRetry
    | ScheduleDeadline
    | CancelDeadline
    | CreateRefund
    | ReadStripeFee
    | RequestPayout
    | NotifyMember
    | PublishCycleStatus
)
