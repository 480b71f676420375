"""A member's contribution to one cycle: its status, its debit attempts, and why a debit failed."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID


class ContributionStatus(StrEnum):
    """Where a contribution stands.

    ``pending``: a debit attempt is requested, Stripe has not said ``processing`` yet (or, with
    ``attempt == 0``, the cycle has not started). ``awaiting_mandate``: the last debit failed for
    good or the mandate was inactive, so the member must authorise a bank account again before the
    next attempt. ``refund_failed``: Stripe could not return a collected debit; the money is booked
    as owed to the member.
    """

    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    RETRY_SCHEDULED = "retry_scheduled"
    AWAITING_MANDATE = "awaiting_mandate"
    FAILED_FINAL = "failed_final"
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"
    DISPUTED = "disputed"


# A debit of the current attempt is out at Stripe, outcome unknown.
IN_FLIGHT: Final = frozenset({ContributionStatus.PENDING, ContributionStatus.PROCESSING})
# The collected money sits in the cycle's pot.
IN_POT: Final = frozenset({ContributionStatus.SUCCEEDED, ContributionStatus.REFUND_PENDING})
# Nothing more will happen to the contribution in a cancelled cycle.
SETTLED_FOR_CANCELLATION: Final = frozenset(
    {
        ContributionStatus.FAILED_FINAL,
        ContributionStatus.REFUNDED,
        ContributionStatus.REFUND_FAILED,
        ContributionStatus.DISPUTED,
    }
)


class RefundProgress(StrEnum):
    """The refund of the current attempt's debit, in a cancelled cycle.

    ``wanted``: the debit is out but its PaymentIntent id is not known yet, so the refund is asked
    for as soon as it is.
    """

    NONE = "none"
    WANTED = "wanted"
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class FailureClass(StrEnum):
    TRANSIENT = "transient"
    """Try again later on the same mandate."""
    MANDATE_GONE = "mandate_gone"
    """No blind retry: wait until the member authorises a bank account again."""


_TRANSIENT_CODES: Final = frozenset(
    {
        "refer_to_customer",  # how BECS reports insufficient funds
        "insufficient_funds",
        "charge_exceeds_source_limit",  # the weekly limit: a later day may fit
        "api_error",  # Stripe 5xx, as the handler reports a failed create
        "api_connection_error",
        "rate_limit",
        "lock_timeout",
        "processing_error",
    }
)
_MANDATE_GONE_CODES: Final = frozenset(
    {
        "account_closed",
        "no_account",
        "debit_not_authorized",
        "bank_account_restricted",
        "bank_account_unusable",
        "invalid_account_number",
        "payment_method_unactivated",
        "mandate_inactive",
        "mandate_revoked",
        # Over the per-debit limit: the same debit can never pass, so no blind retry; only the
        # member's new arrangement (or an operator) can help.
        "charge_exceeds_transaction_limit",
        # A dispute is the member telling their bank the debit was not authorised: debiting the
        # same mandate again would invite a second one.
        "disputed",
    }
)


def classify_failure(failure_code: str | None) -> FailureClass:
    """Why a debit failed, as the retry rule needs it.

    An unknown (or missing) code counts as the mandate being gone. A blind retry of a debit whose
    failure we do not understand may debit an account the member no longer authorises (a dispute,
    and a bank fee for them); waiting for the member to authorise again costs at most this cycle.
    """
    if failure_code in _TRANSIENT_CODES:
        return FailureClass.TRANSIENT
    return FailureClass.MANDATE_GONE


@dataclass(frozen=True)
class PaymentMethodRef:
    """The Stripe objects a debit uses, and whether the mandate allows debiting now (as of when
    that was last reported, if known)."""

    customer_id: str
    payment_method_id: str
    mandate_id: str
    mandate_active: bool
    as_of: datetime | None = None


@dataclass(frozen=True)
class Contribution:
    """One member's contribution to one cycle.

    ``attempt`` is the latest debit attempt (0 before the first); ``payment_intent_id`` and
    ``charge_id`` are that attempt's. ``attempt_mandate_id`` is the mandate it debited, and
    ``lost_mandate_ids`` every mandate a debit failed on for good, so a late or repeated report of
    one of those being active never leads to debiting it again.
    """

    contribution_id: UUID
    member_id: str
    amount: int
    payment_method: PaymentMethodRef
    status: ContributionStatus = ContributionStatus.PENDING
    attempt: int = 0
    attempt_mandate_id: str | None = None
    lost_mandate_ids: tuple[str, ...] = ()
    payment_intent_id: str | None = None
    charge_id: str | None = None
    last_failure_code: str | None = None
    refund: RefundProgress = RefundProgress.NONE
    next_attempt_at: datetime | None = None


def payment_intent_idempotency_key(contribution_id: UUID, attempt: int) -> str:
    return f"contribution-{contribution_id}-{attempt}"


def refund_idempotency_key(contribution_id: UUID, attempt: int) -> str:
    return f"refund-{contribution_id}-{attempt}"


def retry_timer_id(contribution_id: UUID, attempt: int) -> str:
    return f"contribution:{contribution_id}:attempt:{attempt}"


def deadline_timer_id(cycle_id: UUID) -> str:
    return f"cycle:{cycle_id}:deadline"
