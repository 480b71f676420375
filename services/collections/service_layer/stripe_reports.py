"""Stripe's reports (normalized webhook events) as the saga's messages, and how each finds its
contribution: by the metadata rosca put on its PaymentIntents and refunds, else (disputes carry
none) by the PaymentIntent recorded on a debit attempt."""

from dataclasses import dataclass
from typing import Final
from uuid import UUID

from pydantic import JsonValue

from contracts.stripe_events import StripeEventReceived
from services.collections.domain.messages import (
    DisputeClosed,
    DisputeOpened,
    PaymentIntentFailed,
    PaymentIntentProcessing,
    PaymentIntentSucceeded,
    RefundFailed,
    RefundSucceeded,
    SagaMessage,
)

PAYMENT_INTENT_EVENTS: Final = (
    "payment_intent.processing",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
)
REFUND_EVENTS: Final = ("refund.updated", "refund.failed", "charge.refund.updated")
DISPUTE_EVENTS: Final = ("charge.dispute.created", "charge.dispute.closed")
_REFUND_FAILED: Final = frozenset({"failed", "canceled"})


@dataclass(frozen=True)
class MetadataRef:
    cycle_id: UUID
    contribution_id: UUID
    attempt: int


def attempt_in_metadata(event: StripeEventReceived) -> MetadataRef | None:
    """The cycle, contribution and attempt rosca tagged the object with, if it is one of ours."""
    metadata = event.metadata
    try:
        return MetadataRef(
            UUID(metadata["cycle_id"]), UUID(metadata["contribution_id"]), int(metadata["attempt"])
        )
    except (KeyError, ValueError):
        return None


def payment_intent_of(event: StripeEventReceived) -> str | None:
    if event.object_type == "payment_intent":
        return event.object_id
    return _id(event.raw_object.get("payment_intent"))


def saga_message(event: StripeEventReceived, contribution_id: UUID, attempt: int) -> SagaMessage | None:
    """What the event tells the saga about ``attempt`` of the contribution; None for nothing."""
    payment_intent_id = payment_intent_of(event)
    if payment_intent_id is None and event.event_type != "payment_intent.payment_failed":
        return None
    ref = _Ref(event, contribution_id, attempt, payment_intent_id or "")
    if event.event_type in PAYMENT_INTENT_EVENTS:
        return _debit_report(ref)
    if event.event_type in REFUND_EVENTS:
        return _refund_report(ref)
    if event.event_type in DISPUTE_EVENTS:
        return _dispute_report(ref)
    return None


@dataclass(frozen=True)
class _Ref:
    event: StripeEventReceived
    contribution_id: UUID
    attempt: int
    payment_intent_id: str

    @property
    def charge_id(self) -> str | None:
        raw = self.event.raw_object
        return _id(
            raw.get("latest_charge") if self.event.object_type == "payment_intent" else raw.get("charge")
        )


def _debit_report(ref: _Ref) -> SagaMessage | None:
    event, at = ref.event, ref.event.created
    if event.event_type == "payment_intent.processing":
        return PaymentIntentProcessing(at, ref.contribution_id, ref.attempt, ref.payment_intent_id)
    if event.event_type == "payment_intent.payment_failed":
        return PaymentIntentFailed(
            at, ref.contribution_id, ref.attempt, ref.payment_intent_id or None, event.failure_code
        )
    if ref.charge_id is None:
        return None  # a succeeded debit always names its charge; without one there is nothing to pay out
    return PaymentIntentSucceeded(at, ref.contribution_id, ref.attempt, ref.payment_intent_id, ref.charge_id)


def _refund_report(ref: _Ref) -> SagaMessage | None:
    event, at, refund_id = ref.event, ref.event.created, ref.event.object_id
    if refund_id is None:
        return None
    if event.object_status == "succeeded" and ref.charge_id is not None:
        return RefundSucceeded(
            at, ref.contribution_id, ref.attempt, refund_id, ref.payment_intent_id, ref.charge_id
        )
    if event.object_status in _REFUND_FAILED:
        reason = event.failure_code or event.object_status
        return RefundFailed(at, ref.contribution_id, ref.attempt, refund_id, reason)
    return None  # pending: nothing to decide yet


def _dispute_report(ref: _Ref) -> SagaMessage | None:
    event, at, dispute_id, charge_id = ref.event, ref.event.created, ref.event.object_id, ref.charge_id
    if dispute_id is None or charge_id is None:
        return None
    if event.event_type == "charge.dispute.created":
        fee = dispute_fee(event.raw_object)
        return DisputeOpened(
            at, ref.contribution_id, ref.attempt, dispute_id, ref.payment_intent_id, charge_id, fee
        )
    won = event.object_status == "won"
    return DisputeClosed(
        at, ref.contribution_id, ref.attempt, dispute_id, ref.payment_intent_id, charge_id, won
    )


def _id(value: JsonValue) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):
        return _id(value.get("id"))
    return None


def dispute_fee(dispute: dict[str, JsonValue]) -> int:
    """Stripe's dispute fee, from the balance transactions that withdrew the disputed amount."""
    transactions = dispute.get("balance_transactions")
    if not isinstance(transactions, list):
        return 0
    fees = [t.get("fee") if isinstance(t, dict) else None for t in transactions]
    return sum(fee for fee in fees if isinstance(fee, int))
