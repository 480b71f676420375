"""Collecting a member's dispute debt by a debit they authorise: what they owe, the debit's
attempts, and how Stripe's reports move them.

A member who owes the group after a dispute (``rotation_state.Receivable``) asks to pay; that
request is their authorisation of one debit of what they owe, from their active BECS mandate. One
debt collection covers the disputes outstanding when it was asked for. Its debits are attempts:
the first when it is asked for, another each time the member asks again after one failed. A
collection is ``collecting`` while its latest attempt is with Stripe, ``failed`` when that one
failed (the debt is still owed; asking again makes the next attempt), ``succeeded`` once one was
collected (final).

An attempt's status never moves backwards: ``requested`` (its idempotency key stored, Stripe not
answered yet) < ``processing`` < ``succeeded`` | ``failed`` (final). Stripe's reports come
duplicated, late and out of order, possibly before the create's answer: each is applied to the
attempt its metadata names, and one that would move it back or sideways changes nothing.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

from services.collections.domain import postings
from services.collections.domain.contribution import PaymentMethodRef
from services.collections.domain.ledger import Transaction
from services.collections.domain.rotation_state import Receivable


class DebtStatus(StrEnum):
    COLLECTING = "collecting"
    FAILED = "failed"
    SUCCEEDED = "succeeded"


class DebtAttemptStatus(StrEnum):
    REQUESTED = "requested"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_RANK = {
    DebtAttemptStatus.REQUESTED: 0,
    DebtAttemptStatus.PROCESSING: 1,
    DebtAttemptStatus.SUCCEEDED: 2,
    DebtAttemptStatus.FAILED: 2,
}
_FINAL = frozenset({DebtAttemptStatus.SUCCEEDED, DebtAttemptStatus.FAILED})


class DebtRefusedError(Exception):
    """The member's request to pay cannot be met; ``kind`` names why for the API."""

    kind = "debt_refused"


class NothingOwedError(DebtRefusedError):
    kind = "nothing_owed"


class NoActiveMandateError(DebtRefusedError):
    """The member has no BECS mandate that allows a debit now."""

    kind = "no_active_mandate"


class NotRetryableError(DebtRefusedError):
    """Only a collection whose latest debit failed may be tried again."""

    kind = "debt_not_retryable"


@dataclass(frozen=True)
class Debt:
    """What a member owes the group now: the outstanding receivables of their disputes."""

    member_id: str
    amount: int
    dispute_ids: tuple[str, ...]


def debt_of(member_id: str, receivables: Iterable[Receivable]) -> Debt:
    owed = sorted(
        (r for r in receivables if r.member_id == member_id and r.outstanding), key=lambda r: r.dispute_id
    )
    return Debt(member_id, sum(r.amount for r in owed), tuple(r.dispute_id for r in owed))


@dataclass(frozen=True)
class PaymentMethod:
    """The member's active BECS mandate the debit is taken from."""

    customer_id: str
    payment_method_id: str
    mandate_id: str


def debit_source(member_id: str, mandate: PaymentMethodRef | None) -> PaymentMethod:
    """The mandate the member's debt is debited from: only an active one."""
    if mandate is None or not mandate.mandate_active:
        raise NoActiveMandateError(
            f"member {member_id} has no active BECS mandate: authorise a bank account again"
        )
    return PaymentMethod(mandate.customer_id, mandate.payment_method_id, mandate.mandate_id)


@dataclass(frozen=True)
class DebtAttempt:
    attempt: int
    request_key: str  # the member's Idempotency-Key of the request that asked for it
    payment_method: PaymentMethod
    status: DebtAttemptStatus = DebtAttemptStatus.REQUESTED
    payment_intent_id: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True)
class DebtCollection:
    debt_collection_id: UUID
    group_id: UUID
    member_id: str
    amount: int
    currency: str
    dispute_ids: tuple[str, ...]
    attempts: tuple[DebtAttempt, ...]

    @property
    def latest(self) -> DebtAttempt:
        return self.attempts[-1]

    @property
    def status(self) -> DebtStatus:
        if any(a.status is DebtAttemptStatus.SUCCEEDED for a in self.attempts):
            return DebtStatus.SUCCEEDED
        if self.latest.status is DebtAttemptStatus.FAILED:
            return DebtStatus.FAILED
        return DebtStatus.COLLECTING

    def attempt(self, number: int) -> DebtAttempt | None:
        return next((a for a in self.attempts if a.attempt == number), None)

    def asked_by(self, request_key: str) -> DebtAttempt | None:
        return next((a for a in self.attempts if a.request_key == request_key), None)

    def idempotency_key(self, attempt: int) -> str:
        """Stripe's key of an attempt's debit: the same attempt is never debited twice."""
        return f"debt-{self.debt_collection_id}-{attempt}"

    def metadata(self, attempt: int) -> dict[str, str]:
        """What the debit carries at Stripe, so its reports find the attempt (and an operator the debt)."""
        return {
            "debt_collection_id": str(self.debt_collection_id),
            "attempt": str(attempt),
            "group_id": str(self.group_id),
            "member_id": self.member_id,
            "dispute_ids": ",".join(self.dispute_ids),
        }


def start_collection(
    debt_collection_id: UUID,
    group_id: UUID,
    debt: Debt,
    *,
    currency: str,
    request_key: str,
    payment_method: PaymentMethod,
) -> DebtCollection:
    """The member asked to pay ``debt``: its first debit attempt, to make after this is stored."""
    if debt.amount <= 0:
        raise NothingOwedError(f"member {debt.member_id} owes the group nothing")
    return DebtCollection(
        debt_collection_id=debt_collection_id,
        group_id=group_id,
        member_id=debt.member_id,
        amount=debt.amount,
        currency=currency,
        dispute_ids=debt.dispute_ids,
        attempts=(DebtAttempt(1, request_key, payment_method),),
    )


def try_again(collection: DebtCollection, request_key: str, payment_method: PaymentMethod) -> DebtCollection:
    """The member asks again after the latest debit failed: the next attempt, perhaps from a new mandate."""
    if collection.status is not DebtStatus.FAILED:
        raise NotRetryableError(f"debt collection {collection.debt_collection_id} is {collection.status}")
    attempt = DebtAttempt(collection.latest.attempt + 1, request_key, payment_method)
    return replace(collection, attempts=(*collection.attempts, attempt))


@dataclass(frozen=True)
class DebitReport:
    """What Stripe said of an attempt's debit (the create's answer or a ``payment_intent.*`` event)."""

    attempt: int
    status: DebtAttemptStatus
    payment_intent_id: str | None = None
    failure_code: str | None = None


class DebtOutcome(StrEnum):
    NO_CHANGE = "no_change"
    MOVED = "moved"
    COLLECTED = "collected"  # the debt is paid now: settle it
    FAILED = "failed"  # the debit failed now: tell the member, who may ask again


def reported(collection: DebtCollection, report: DebitReport) -> tuple[DebtCollection, DebtOutcome]:
    """The collection after Stripe's report about one of its attempts, and what that means."""
    attempt = collection.attempt(report.attempt)
    if attempt is None:
        return collection, DebtOutcome.NO_CHANGE  # not an attempt of ours
    updated = attempt
    if updated.payment_intent_id is None and report.payment_intent_id is not None:
        updated = replace(updated, payment_intent_id=report.payment_intent_id)
    moves_on = attempt.status not in _FINAL and _RANK[report.status] > _RANK[attempt.status]
    if moves_on:
        failed = report.status is DebtAttemptStatus.FAILED
        failure = (report.failure_code or "debit_failed") if failed else None
        updated = replace(updated, status=report.status, failure_code=failure)
    if updated == attempt:
        return collection, DebtOutcome.NO_CHANGE
    was = collection.status
    after = replace(
        collection,
        attempts=tuple(updated if a.attempt == attempt.attempt else a for a in collection.attempts),
    )
    if moves_on and report.status is DebtAttemptStatus.SUCCEEDED and was is not DebtStatus.SUCCEEDED:
        return after, DebtOutcome.COLLECTED
    if moves_on and report.status is DebtAttemptStatus.FAILED and after.status is DebtStatus.FAILED:
        return after, DebtOutcome.FAILED
    return after, DebtOutcome.MOVED


@dataclass(frozen=True)
class Settlement:
    """The books of a collected debt, and the disputes whose receivables it clears."""

    transaction: Transaction
    cleared_dispute_ids: tuple[str, ...]
    # Disputes won before this debit collected their debt: paid twice, each (dispute, amount) to
    # refund from this debit.
    paid_twice: tuple[tuple[str, int], ...] = ()


def settlement(collection: DebtCollection, receivables: Iterable[Receivable]) -> Settlement:
    """What the collected debit pays, dispute by dispute, as the receivables stand now.

    Usually every one is still outstanding and the money clears it. One the admin wrote off while
    the debit was processing is recovered from the write-off; one cleared meanwhile (the dispute
    decided for the platform: the bank returned the money) was paid twice, so it is owed back to
    the member, and refunded from this debit (``paid_twice``)."""
    known = {r.dispute_id: r for r in receivables if r.member_id == collection.member_id}
    cleared, recovered, overpaid, paid_twice = [], 0, 0, []
    for dispute_id in collection.dispute_ids:
        receivable = known.get(dispute_id)
        if receivable is not None and receivable.outstanding:
            cleared.append(receivable)
        elif receivable is not None and receivable.won:
            # The bank returned the money meanwhile (a write-off it recovered, too): paid twice.
            overpaid += receivable.amount
            paid_twice.append((dispute_id, receivable.amount))
        elif receivable is not None and receivable.written_off:
            recovered += receivable.amount
        else:
            overpaid += receivable.amount if receivable is not None else 0
    # What the collection was asked for, whatever became of each dispute since.
    unaccounted = collection.amount - sum(r.amount for r in cleared) - recovered - overpaid
    transaction = postings.debt_collected(
        collection.debt_collection_id,
        collection.member_id,
        collection.currency,
        cleared=sum(r.amount for r in cleared),
        recovered_from_write_off=recovered,
        owed_back=overpaid + unaccounted,
    )
    return Settlement(transaction, tuple(r.dispute_id for r in cleared), tuple(paid_twice))


@dataclass(frozen=True)
class DebtDebitDisputed:
    """What a dispute of the debit that paid a debt changes: the member owes again (a receivable of
    its own, ``opened``), and, should the bank decide for the platform, the money comes back
    (``won``): it clears that receivable, or, paid meanwhile, makes a debt paid twice (the rotation
    tells which, hearing ``ReceivableSettled(won=True)``)."""

    postings: tuple[Transaction, ...]
    opened: Receivable
    won: bool


def debt_debit_disputed(
    collection: DebtCollection,
    dispute_id: str,
    dispute_fee: int,
    *,
    won: bool | None,
) -> DebtDebitDisputed:
    """A dispute of the collection's debit (``won`` None while open; a close heard first opens it
    too). Booked as any dispute of money already paid out: a receivable, the fee the platform's
    cost. Won, the money comes back and is booked as clearing that receivable (``dispute-won``),
    as a contribution's won dispute is: still owed, that is all; paid meanwhile by another debit,
    or written off, the rotation has the rest booked (``DisputeWonAfterDebtClosed``: the debt paid
    twice refunded, or the write-off recovered)."""
    opened = Receivable(collection.member_id, dispute_id, collection.amount)
    postings_made = postings.debt_debit_disputed(
        collection.member_id, dispute_id, collection.amount, collection.currency, dispute_fee
    )
    if won is not True:
        return DebtDebitDisputed(postings_made, opened, won=False)
    won_back = postings.dispute_won(
        collection.member_id, dispute_id, collection.amount, collection.currency, was_receivable=True
    )
    return DebtDebitDisputed((*postings_made, won_back), opened, won=True)
