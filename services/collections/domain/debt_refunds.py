"""Giving back a debt paid twice: the member paid their dispute debt by a debit, and afterwards the
bank decided that dispute for the platform (the disputed money came back), so the platform holds
the amount twice. The debit that paid the debt is refunded by that dispute's amount.

One refund per debt collection and dispute (``debt-refund-<debt_collection_id>-<dispute_id>``,
stored before Stripe is called). Its status never moves backwards, whatever order Stripe's reports
come in: ``requested`` (stored, Stripe not answered yet) < ``pending`` < ``succeeded`` | ``failed``
(final). Succeeded: the money owed back to the member is back with them. Failed (or cancelled):
it stays owed to them (``refund_owed``), for an operator to pay, as a cycle's failed refund does.
"""

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from services.collections.domain import postings
from services.collections.domain.debt_collection import DebtAttemptStatus, DebtCollection
from services.collections.domain.ledger import Transaction


class DebtRefundStatus(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_RANK = {
    DebtRefundStatus.REQUESTED: 0,
    DebtRefundStatus.PENDING: 1,
    DebtRefundStatus.SUCCEEDED: 2,
    DebtRefundStatus.FAILED: 2,
}
_FINAL = frozenset({DebtRefundStatus.SUCCEEDED, DebtRefundStatus.FAILED})


class NoDebitToRefundError(Exception):
    """The debt collection has no collected debit that a refund could return."""


@dataclass(frozen=True)
class DebtRefund:
    debt_collection_id: UUID
    dispute_id: str
    group_id: UUID
    member_id: str
    amount: int
    currency: str
    payment_intent_id: str  # the debit that paid the debt
    status: DebtRefundStatus = DebtRefundStatus.REQUESTED
    refund_id: str | None = None
    failure_reason: str | None = None

    @property
    def idempotency_key(self) -> str:
        """Stripe's key of the refund: the same debt paid twice is never refunded twice."""
        return f"debt-refund-{self.debt_collection_id}-{self.dispute_id}"

    def metadata(self) -> dict[str, str]:
        """What the refund carries at Stripe, so its reports find it (no ``attempt``: it is no debit)."""
        return {
            "debt_collection_id": str(self.debt_collection_id),
            "dispute_id": self.dispute_id,
            "group_id": str(self.group_id),
            "member_id": self.member_id,
            "debt_refund": "true",
        }


def refund_paid_twice(collection: DebtCollection, dispute_id: str, amount: int) -> DebtRefund:
    """The refund of ``amount`` (the won dispute's) from the debit that collected ``collection``."""
    collected = next(
        (a for a in collection.attempts if a.status is DebtAttemptStatus.SUCCEEDED and a.payment_intent_id),
        None,
    )
    if collected is None or collected.payment_intent_id is None:
        raise NoDebitToRefundError(f"debt collection {collection.debt_collection_id} collected no debit")
    if dispute_id not in collection.dispute_ids or not 0 < amount <= collection.amount:
        raise NoDebitToRefundError(
            f"debt collection {collection.debt_collection_id} did not pay {amount} of dispute {dispute_id}"
        )
    return DebtRefund(
        debt_collection_id=collection.debt_collection_id,
        dispute_id=dispute_id,
        group_id=collection.group_id,
        member_id=collection.member_id,
        amount=amount,
        currency=collection.currency,
        payment_intent_id=collected.payment_intent_id,
    )


@dataclass(frozen=True)
class WonAfterDebtClosed:
    """The books of a dispute won after its debt was closed, and the refund it calls for, if any."""

    postings: tuple[Transaction, ...]
    refund: DebtRefund | None


def won_after_debt_closed(
    member_id: str,
    dispute_id: str,
    amount: int,
    currency: str,
    *,
    written_off: bool,
    paid_by: DebtCollection | None,
) -> WonAfterDebtClosed:
    """The win was booked as clearing the receivable (``dispute-won``: receivable to platform funds)
    by the step that heard it, which cannot know the debt was closed already. What the returned
    money is depends on how it was closed:

    - paid by the member's debit (``paid_by``: clearing the receivable, or recovering it from a
      write-off): paid twice. ``debt-paid-twice`` undoes the win's clearing and owes the money to
      the member, and that debit is refunded by the dispute's amount;
    - written off and never paid: the group's loss is recovered, ``write-off-recovered``;
    - otherwise (not expected: a debt closes only so) nothing is booked.
    """
    if paid_by is not None:
        return WonAfterDebtClosed(
            (postings.debt_paid_twice(member_id, dispute_id, amount, currency),),
            refund_paid_twice(paid_by, dispute_id, amount),
        )
    if written_off:
        return WonAfterDebtClosed(
            (postings.write_off_recovered(member_id, dispute_id, amount, currency),), None
        )
    return WonAfterDebtClosed((), None)


@dataclass(frozen=True)
class RefundReport:
    """What Stripe said of the refund (the create's answer or a ``refund.*`` event)."""

    status: DebtRefundStatus
    refund_id: str | None = None
    failure_reason: str | None = None


class DebtRefundOutcome(StrEnum):
    NO_CHANGE = "no_change"
    MOVED = "moved"
    REFUNDED = "refunded"  # landed now: book it, tell the member
    FAILED = "failed"  # failed now: the money stays owed to the member; tell them


def refund_reported(refund: DebtRefund, report: RefundReport) -> tuple[DebtRefund, DebtRefundOutcome]:
    """The refund after Stripe's report, and what that means; a report that would move it back or
    sideways changes nothing (but still names the refund, should that be news)."""
    updated = refund
    if updated.refund_id is None and report.refund_id is not None:
        updated = replace(updated, refund_id=report.refund_id)
    moves_on = refund.status not in _FINAL and _RANK[report.status] > _RANK[refund.status]
    if moves_on:
        failed = report.status is DebtRefundStatus.FAILED
        reason = (report.failure_reason or "refund_failed") if failed else None
        updated = replace(updated, status=report.status, failure_reason=reason)
    if updated == refund:
        return refund, DebtRefundOutcome.NO_CHANGE
    if moves_on and report.status is DebtRefundStatus.SUCCEEDED:
        return updated, DebtRefundOutcome.REFUNDED
    if moves_on and report.status is DebtRefundStatus.FAILED:
        return updated, DebtRefundOutcome.FAILED
    return updated, DebtRefundOutcome.MOVED


_STRIPE_STATUSES = {
    "pending": DebtRefundStatus.PENDING,
    "requires_action": DebtRefundStatus.PENDING,
    "succeeded": DebtRefundStatus.SUCCEEDED,
    "failed": DebtRefundStatus.FAILED,
    "canceled": DebtRefundStatus.FAILED,
}


def refund_status_of(stripe_status: str | None) -> DebtRefundStatus:
    """Stripe's refund status as ours (unknown or missing: as far as being asked)."""
    return _STRIPE_STATUSES.get(stripe_status or "", DebtRefundStatus.REQUESTED)
