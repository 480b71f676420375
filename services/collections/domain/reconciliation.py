"""Reconciliation: what the ledger says each debit, refund, dispute and transfer came to, beside
what Stripe's own records say, and every place they differ. Pure: the facts on both sides are read
elsewhere (``store/reconciliation_reads.py``, ``stripe_books.py``).

Amounts are compared per Stripe object the ledger books: a debit (one PaymentIntent per attempt)
is collected, carries Stripe's fee and may be refunded; a dispute is opened and may be won; a
cycle's transfers (``transfer_group=cycle_<id>``) add up to what the ledger booked as paid to the
recipient. ``expected`` is always the ledger's figure, ``actual`` Stripe's.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo

PLATFORM_TIMEZONE: Final = "Australia/Sydney"
# The daily run of day D starts at this time on D+1, once BECS' overnight reports are in.
DAILY_RUN_AT: Final = time(3, 0)


class DifferenceKind(StrEnum):
    DEBIT_UNKNOWN_TO_LEDGER = "debit_unknown_to_ledger"  # a PaymentIntent no debit attempt recorded
    DEBIT_MISSING_AT_STRIPE = "debit_missing_at_stripe"  # an attempt's PaymentIntent Stripe does not have
    COLLECTED_DIFFERS = "collected_differs"  # booked collected vs succeeded at Stripe
    STRIPE_FEE_DIFFERS = "stripe_fee_differs"  # booked fee vs the charge's balance transaction fee
    REFUNDED_DIFFERS = "refunded_differs"  # booked refunded vs Stripe's succeeded refunds
    DISPUTED_DIFFERS = "disputed_differs"  # booked dispute vs Stripe's dispute
    DISPUTE_WON_DIFFERS = "dispute_won_differs"  # booked as won vs Stripe's dispute status
    TRANSFERRED_DIFFERS = "transferred_differs"  # booked paid to the recipient vs the cycle's transfers


@dataclass(frozen=True)
class LedgerDebit:
    """One debit attempt as collections recorded it, with what the ledger booked for it."""

    cycle_id: UUID
    contribution_id: UUID
    attempt: int
    payment_intent_id: str | None
    amount: int
    currency: str
    collected: int  # debit-collected
    stripe_fee: int  # debit-stripe-fee
    refunded: int  # debit-refunded (a failed refund is not one)

    @property
    def reference(self) -> str:
        return f"{self.contribution_id}-{self.attempt}"


@dataclass(frozen=True)
class LedgerDispute:
    dispute_id: str
    cycle_id: UUID
    currency: str
    opened: int  # dispute-opened
    won: int  # dispute-won


@dataclass(frozen=True)
class LedgerDebtDebit:
    """One debit attempt of a member's dispute debt, with what the ledger booked for its collection
    (``debt-collected``, ``debt-stripe-fee``, ``debt-refunded``: the collected attempt's only)."""

    group_id: UUID
    debt_collection_id: UUID
    attempt: int
    payment_intent_id: str | None
    currency: str
    collected: int
    stripe_fee: int
    refunded: int


@dataclass(frozen=True)
class LedgerBooks:
    """The ledger's side of the cycles in scope (and of the debt debits among Stripe's objects)."""

    cycle_ids: frozenset[UUID]
    debits: tuple[LedgerDebit, ...] = ()
    disputes: tuple[LedgerDispute, ...] = ()
    transferred: Mapping[UUID, int] = field(default_factory=dict)  # the cycle's ``transfers`` account
    currencies: Mapping[UUID, str] = field(default_factory=dict)
    debt_debits: tuple[LedgerDebtDebit, ...] = ()
    # Disputes of debt debits, by id: (opened, won) as booked under their group.
    debt_disputes: Mapping[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class StripeDebit:
    """A PaymentIntent, its latest charge and what Stripe refunded of it."""

    payment_intent_id: str
    status: str
    amount: int
    currency: str
    metadata: Mapping[str, str]
    charge_id: str | None
    fee: int | None  # the charge's balance transaction fee, once Stripe booked the charge
    refunded: int  # succeeded refunds
    refund_ids: tuple[str, ...] = ()
    created: int = 0

    @property
    def collected(self) -> int:
        return self.amount if self.status == "succeeded" else 0

    @property
    def cycle_id(self) -> UUID | None:
        return _uuid(self.metadata.get("cycle_id"))

    @property
    def debt_key(self) -> tuple[UUID, int] | None:
        """The debt collection and attempt of a member's debt debit, or None for any other object."""
        collection = _uuid(self.metadata.get("debt_collection_id"))
        attempt = self.metadata.get("attempt", "")
        if collection is None or not attempt.isdigit():
            return None
        return collection, int(attempt)

    @property
    def attempt_key(self) -> tuple[UUID, int] | None:
        """The contribution and attempt rosca tagged it with, or None for an object not rosca's."""
        contribution = _uuid(self.metadata.get("contribution_id"))
        attempt = self.metadata.get("attempt", "")
        if contribution is None or not attempt.isdigit():
            return None
        return contribution, int(attempt)


@dataclass(frozen=True)
class StripeDispute:
    dispute_id: str
    payment_intent_id: str | None
    amount: int
    currency: str
    status: str


@dataclass(frozen=True)
class StripeTransfer:
    transfer_id: str
    transfer_group: str | None
    amount: int
    amount_reversed: int
    currency: str
    source_transaction: str | None = None


@dataclass(frozen=True)
class StripeBooks:
    """Stripe's side: the PaymentIntents read (those of the cycles in scope, and in a day's run
    every one created that day), their disputes, and the transfers of each cycle in scope."""

    debits: tuple[StripeDebit, ...] = ()
    disputes: tuple[StripeDispute, ...] = ()
    transfers: tuple[StripeTransfer, ...] = ()

    @property
    def objects_read(self) -> int:
        refunds = sum(len(debit.refund_ids) for debit in self.debits)
        return len(self.debits) + refunds + len(self.disputes) + len(self.transfers)


@dataclass(frozen=True)
class Difference:
    kind: DifferenceKind
    cycle_id: UUID | None
    object_type: str
    object_ids: tuple[str, ...]
    ledger_reference: str | None
    expected: int
    actual: int
    currency: str
    note: str


def transfer_group_of(cycle_id: UUID) -> str:
    return f"cycle_{cycle_id}"


def cycle_of_transfer_group(group: str | None) -> UUID | None:
    return _uuid(group.removeprefix("cycle_")) if group and group.startswith("cycle_") else None


def compare(ledger: LedgerBooks, stripe: StripeBooks, *, compare_transfers: bool = True) -> list[Difference]:
    """Every difference between the ledger's books and Stripe's; empty when they agree to the cent.

    ``compare_transfers`` is False only where no payouts service makes the transfers (a test that
    plays payouts' part): the ledger then books payouts Stripe never saw.
    """
    differences = [
        *_debit_differences(ledger, stripe),
        *_debt_debit_differences(ledger, stripe),
        *_dispute_differences(ledger, stripe),
    ]
    if compare_transfers:
        differences += _transfer_differences(ledger, stripe)
    return differences


def counts_by_kind(differences: Iterable[Difference]) -> dict[str, int]:
    return dict(sorted(Counter(d.kind.value for d in differences).items()))


def day_bounds(day: date, timezone: str = PLATFORM_TIMEZONE) -> tuple[datetime, datetime]:
    """The instants a day in ``timezone`` starts and ends (23 or 25 hours on a DST change)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def day_of(moment: datetime, timezone: str = PLATFORM_TIMEZONE) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def daily_run_due_at(day: date, timezone: str = PLATFORM_TIMEZONE) -> datetime:
    """When the run of ``day`` is due: ``DAILY_RUN_AT`` on the day after, in ``timezone``."""
    return datetime.combine(day + timedelta(days=1), DAILY_RUN_AT, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def daily_timer_id(day: date) -> str:
    """One timer per day: scheduling it again changes nothing, and it fires once."""
    return f"collections:reconcile:{day.isoformat()}"


def _debit_differences(ledger: LedgerBooks, stripe: StripeBooks) -> list[Difference]:
    by_intent = {debit.payment_intent_id: debit for debit in ledger.debits if debit.payment_intent_id}
    by_attempt = {(debit.contribution_id, debit.attempt): debit for debit in ledger.debits}
    seen: set[tuple[UUID, int]] = set()
    found: list[Difference] = []
    for intent in stripe.debits:
        if intent.debt_key is not None:
            continue  # a member's debt debit: ``_debt_debit_differences``
        recorded = by_intent.get(intent.payment_intent_id)
        if recorded is None and intent.attempt_key is not None:
            candidate = by_attempt.get(intent.attempt_key)
            # An attempt whose create's answer never came knows no PaymentIntent yet: this is it.
            # One that knows another is a second PaymentIntent for the same attempt.
            if candidate is not None and candidate.payment_intent_id is None:
                recorded = candidate
        if recorded is None:
            found.append(_unknown_debit(intent))
            continue
        seen.add((recorded.contribution_id, recorded.attempt))
        found += _matched_debit_differences(recorded, intent)
    stripe_intents = {intent.payment_intent_id for intent in stripe.debits}
    for debit in ledger.debits:
        if (debit.contribution_id, debit.attempt) in seen or debit.payment_intent_id is None:
            continue
        if debit.payment_intent_id not in stripe_intents:
            found.append(
                Difference(
                    DifferenceKind.DEBIT_MISSING_AT_STRIPE,
                    debit.cycle_id,
                    "payment_intent",
                    (debit.payment_intent_id,),
                    f"debit-collected-{debit.reference}" if debit.collected else None,
                    debit.collected,
                    0,
                    debit.currency,
                    f"attempt {debit.attempt} of contribution {debit.contribution_id} names "
                    f"{debit.payment_intent_id}, which Stripe does not have",
                )
            )
    return found


def _debt_debit_differences(ledger: LedgerBooks, stripe: StripeBooks) -> list[Difference]:
    """A member's debt debits among Stripe's objects: each an attempt recorded (unknown otherwise),
    and its collection's ``debt-collected``, fee and refunds of a debt paid twice as Stripe's."""
    by_intent = {d.payment_intent_id: d for d in ledger.debt_debits if d.payment_intent_id}
    by_attempt = {(d.debt_collection_id, d.attempt): d for d in ledger.debt_debits}
    found: list[Difference] = []
    for intent in stripe.debits:
        key = intent.debt_key
        if key is None:
            continue
        recorded = by_intent.get(intent.payment_intent_id)
        if recorded is None:
            candidate = by_attempt.get(key)
            if candidate is not None and candidate.payment_intent_id is None:
                recorded = candidate
        if recorded is None:
            found.append(_unknown_debit(intent))
            continue
        found += _matched_debt_differences(recorded, intent)
    return found


def _matched_debt_differences(debit: LedgerDebtDebit, intent: StripeDebit) -> list[Difference]:
    collection = debit.debt_collection_id
    compared = [
        (DifferenceKind.COLLECTED_DIFFERS, f"debt-collected-{collection}", debit.collected, intent.collected),
        (DifferenceKind.REFUNDED_DIFFERS, f"debt-refunded-{collection}", debit.refunded, intent.refunded),
    ]
    if intent.collected and intent.fee is not None:
        fee = (
            DifferenceKind.STRIPE_FEE_DIFFERS,
            f"debt-stripe-fee-{collection}",
            debit.stripe_fee,
            intent.fee,
        )
        compared.append(fee)
    found = []
    for kind, reference, booked, actual in compared:
        if booked == actual:
            continue
        refund = kind is DifferenceKind.REFUNDED_DIFFERS
        found.append(
            Difference(
                kind,
                debit.group_id,
                "refund" if refund else "payment_intent",
                (intent.payment_intent_id, *(intent.refund_ids if refund else ())),
                reference,
                booked,
                actual,
                debit.currency,
                f"debt debit {intent.payment_intent_id} (attempt {debit.attempt} of debt collection "
                f"{collection}): the ledger booked {booked}, Stripe says {actual}",
            )
        )
    return found


def _unknown_debit(intent: StripeDebit) -> Difference:
    tagged = intent.attempt_key
    what = (
        f"attempt {tagged[1]} of contribution {tagged[0]}"
        if tagged
        else "no contribution (no rosca metadata)"
    )
    return Difference(
        DifferenceKind.DEBIT_UNKNOWN_TO_LEDGER,
        intent.cycle_id,
        "payment_intent",
        (intent.payment_intent_id,),
        None,
        0,
        intent.collected,
        intent.currency,
        f"{intent.payment_intent_id} ({intent.status}, {intent.amount} {intent.currency}) is for {what}, "
        "which the ledger does not record",
    )


def _matched_debit_differences(debit: LedgerDebit, intent: StripeDebit) -> list[Difference]:
    found = []
    if debit.collected != intent.collected:
        found.append(
            _debit_difference(
                debit,
                DifferenceKind.COLLECTED_DIFFERS,
                object_ids=(intent.payment_intent_id,),
                reference=f"debit-collected-{debit.reference}",
                actual=intent.collected,
                note=f"the ledger booked {debit.collected} collected; Stripe's {intent.payment_intent_id} is "
                f"{intent.status} for {intent.amount}",
            )
        )
    if intent.collected and intent.fee is not None and debit.stripe_fee != intent.fee:
        found.append(
            _debit_difference(
                debit,
                DifferenceKind.STRIPE_FEE_DIFFERS,
                object_ids=(intent.payment_intent_id,),
                reference=f"debit-stripe-fee-{debit.reference}",
                actual=intent.fee,
                note=f"the ledger booked Stripe's fee as {debit.stripe_fee}; charge {intent.charge_id} cost "
                f"{intent.fee}",
                expected=debit.stripe_fee,
            )
        )
    if debit.refunded != intent.refunded:
        found.append(
            _debit_difference(
                debit,
                DifferenceKind.REFUNDED_DIFFERS,
                object_ids=(intent.payment_intent_id, *intent.refund_ids),
                reference=f"debit-refunded-{debit.reference}",
                actual=intent.refunded,
                note=f"the ledger booked {debit.refunded} refunded; Stripe's succeeded refunds of "
                f"{intent.payment_intent_id} come to {intent.refunded}",
                expected=debit.refunded,
            )
        )
    return found


def _debit_difference(
    debit: LedgerDebit,
    kind: DifferenceKind,
    *,
    object_ids: tuple[str, ...],
    reference: str,
    actual: int,
    note: str,
    expected: int | None = None,
) -> Difference:
    return Difference(
        kind,
        debit.cycle_id,
        "refund" if kind is DifferenceKind.REFUNDED_DIFFERS else "payment_intent",
        object_ids,
        reference,
        debit.collected if expected is None else expected,
        actual,
        debit.currency,
        note,
    )


def _dispute_differences(ledger: LedgerBooks, stripe: StripeBooks) -> list[Difference]:
    booked = {dispute.dispute_id: dispute for dispute in ledger.disputes}
    cycle_of_intent = {
        debit.payment_intent_id: debit.cycle_id for debit in ledger.debits if debit.payment_intent_id
    }
    found = []
    for dispute in stripe.disputes:
        ours = booked.pop(dispute.dispute_id, None)
        cycle = ours.cycle_id if ours else cycle_of_intent.get(dispute.payment_intent_id or "")
        opened = ours.opened if ours else 0
        won = ours.won if ours else 0
        booked_here = ours is not None
        if ours is None and dispute.dispute_id in ledger.debt_disputes:
            # A dispute of a member's debt debit: booked under its group, not a cycle.
            opened, won = ledger.debt_disputes[dispute.dispute_id]
            booked_here = True
        returned = dispute.amount if dispute.status == "won" else 0
        if opened != dispute.amount:
            found.append(
                Difference(
                    DifferenceKind.DISPUTED_DIFFERS,
                    cycle,
                    "dispute",
                    (dispute.dispute_id,),
                    f"dispute-opened-{dispute.dispute_id}" if booked_here else None,
                    opened,
                    dispute.amount,
                    dispute.currency,
                    f"Stripe's dispute {dispute.dispute_id} of {dispute.payment_intent_id} is for "
                    f"{dispute.amount}; the ledger booked {opened}",
                )
            )
        if won != returned:
            found.append(
                Difference(
                    DifferenceKind.DISPUTE_WON_DIFFERS,
                    cycle,
                    "dispute",
                    (dispute.dispute_id,),
                    f"dispute-won-{dispute.dispute_id}" if won else None,
                    won,
                    returned,
                    dispute.currency,
                    f"Stripe's dispute {dispute.dispute_id} is {dispute.status}; "
                    f"the ledger booked {won} won back",
                )
            )
    for missing in booked.values():
        found.append(
            Difference(
                DifferenceKind.DISPUTED_DIFFERS,
                missing.cycle_id,
                "dispute",
                (missing.dispute_id,),
                f"dispute-opened-{missing.dispute_id}",
                missing.opened,
                0,
                missing.currency,
                f"the ledger booked dispute {missing.dispute_id}, which Stripe does not have",
            )
        )
    return found


def _transfer_differences(ledger: LedgerBooks, stripe: StripeBooks) -> list[Difference]:
    sent: dict[UUID, int] = {}
    ids: dict[UUID, list[str]] = {}
    currencies = dict(ledger.currencies)
    for transfer in stripe.transfers:
        cycle = cycle_of_transfer_group(transfer.transfer_group)
        if cycle is None or cycle not in ledger.cycle_ids:
            continue
        sent[cycle] = sent.get(cycle, 0) + transfer.amount - transfer.amount_reversed
        ids.setdefault(cycle, []).append(transfer.transfer_id)
        currencies.setdefault(cycle, transfer.currency)
    found = []
    for cycle in sorted(set(sent) | {c for c, amount in ledger.transferred.items() if amount}, key=str):
        booked, made = ledger.transferred.get(cycle, 0), sent.get(cycle, 0)
        if booked != made:
            found.append(
                Difference(
                    DifferenceKind.TRANSFERRED_DIFFERS,
                    cycle,
                    "transfer",
                    tuple(ids.get(cycle, ())),
                    f"cycle-paid-{cycle}" if booked else None,
                    booked,
                    made,
                    currencies.get(cycle, "aud"),
                    f"the ledger booked {booked} paid to the recipient; Stripe's transfers in "
                    f"{transfer_group_of(cycle)} come to {made}",
                )
            )
    return found


def _uuid(text: str | None) -> UUID | None:
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        return None
