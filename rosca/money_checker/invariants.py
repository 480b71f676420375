"""The invariants rosca's money keeps, as pure checks over the facts ``books.py`` reads; each
returns its violations (none: it holds).

1. Every ledger transaction sums to zero.
2. Per cycle, what the members' debits put in the pot is accounted for: collected = transferred +
   platform fees + refunded (+ refunds Stripe could not make, now owed to the member) + what the pot
   and the recipient's payable still hold, and a completed or cancelled cycle holds nothing.
3. No cycle pays out (payout booked, or a transfer at Stripe in its group) unless every contribution
   of the cycle was collected: booked in the ledger and succeeded at Stripe.
4. No cycle is both paid out and refunded.
5. No Stripe object twice for one idempotent step: one PaymentIntent per contribution attempt, one
   refund per refunded attempt, one transfer per cycle and charge.
6. The ledger and Stripe's books agree to the cent (reconciliation's comparison).
7. A debt paid twice (its dispute won after the member paid it) is refunded once at most, and what
   the ledger booked refunded of it (``debt-refunded``) is what Stripe's succeeded refund returned.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from services.collections.domain.ledger import AccountKind
from services.collections.domain.ledger_steps import step_of
from services.collections.domain.reconciliation import (
    Difference,
    StripeDebit,
    StripeTransfer,
    cycle_of_transfer_group,
)

FINISHED = frozenset({"completed", "cancelled"})


class ViolationKind(StrEnum):
    TRANSACTION_UNBALANCED = "transaction_unbalanced"
    CYCLE_MONEY_UNACCOUNTED = "cycle_money_unaccounted"
    TRANSFER_BEFORE_FUNDED = "transfer_before_funded"
    PAID_AND_REFUNDED = "paid_and_refunded"
    STRIPE_OBJECT_DUPLICATED = "stripe_object_duplicated"
    BOOKS_DISAGREE = "books_disagree"


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    subject: str  # the transaction, cycle or Stripe object concerned
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}: {self.detail}"


@dataclass(frozen=True)
class MoneyReport:
    violations: tuple[Violation, ...]
    cycles_checked: int
    transactions_checked: int
    stripe_objects_checked: int

    @property
    def passed(self) -> bool:
        return not self.violations

    def kinds(self) -> set[ViolationKind]:
        return {violation.kind for violation in self.violations}

    def describe(self) -> str:
        head = (
            f"money checks: {self.cycles_checked} cycles, {self.transactions_checked} ledger transactions, "
            f"{self.stripe_objects_checked} Stripe objects: "
        )
        if self.passed:
            return head + "every invariant holds"
        return head + f"{len(self.violations)} violations\n" + "\n".join(f"  {v}" for v in self.violations)


@dataclass(frozen=True)
class LedgerEntry:
    reference: str
    cycle_id: UUID
    account_kind: str
    account_key: str
    amount: int


def unbalanced_transactions(entries: Iterable[LedgerEntry]) -> list[Violation]:
    totals: dict[str, int] = defaultdict(int)
    for entry in entries:
        totals[entry.reference] += entry.amount
    return [
        Violation(ViolationKind.TRANSACTION_UNBALANCED, reference, f"its entries sum to {total}, not 0")
        for reference, total in sorted(totals.items())
        if total
    ]


@dataclass(frozen=True)
class CycleMoney:
    collected: int = 0
    transferred: int = 0
    platform_fees: int = 0
    refunded: int = 0
    refund_owed: int = 0
    held: int = 0

    @property
    def paid_out(self) -> bool:
        return self.transferred > 0

    @property
    def accounted(self) -> int:
        return self.transferred + self.platform_fees + self.refunded + self.refund_owed + self.held


def money_of_cycles(entries: Iterable[LedgerEntry]) -> dict[UUID, CycleMoney]:
    by_reference: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_reference[entry.reference].append(entry)
    totals: dict[UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for reference, transaction in by_reference.items():
        from_members = any(e.account_kind == AccountKind.MEMBER_CONTRIBUTIONS for e in transaction)
        for entry in transaction:
            cycle = totals[entry.cycle_id]
            own = entry.account_key == str(entry.cycle_id)
            match entry.account_kind:
                case AccountKind.CYCLE_POT if own:
                    cycle["held"] += entry.amount
                    if from_members:
                        cycle["collected"] += entry.amount
                case AccountKind.RECIPIENT_PAYABLE if own:
                    cycle["held"] += entry.amount
                case AccountKind.TRANSFERS if own:
                    cycle["transferred"] += entry.amount
                case AccountKind.PLATFORM_FEES if own:
                    cycle["platform_fees"] += entry.amount
                case AccountKind.REFUNDS if own:
                    cycle["refunded"] += entry.amount
                case AccountKind.REFUND_OWED if step_of(reference) == "refund-failed":
                    cycle["refund_owed"] += entry.amount
    return {cycle: CycleMoney(**amounts) for cycle, amounts in totals.items()}


def unaccounted_cycles(money: Mapping[UUID, CycleMoney], statuses: Mapping[UUID, str]) -> list[Violation]:
    found = []
    for cycle, books in sorted(money.items(), key=lambda item: str(item[0])):
        if books.collected != books.accounted:
            found.append(
                Violation(
                    ViolationKind.CYCLE_MONEY_UNACCOUNTED,
                    f"cycle {cycle}",
                    f"collected {books.collected} != transferred {books.transferred} + fees "
                    f"{books.platform_fees} + refunded {books.refunded} + owed back {books.refund_owed} "
                    f"+ still held {books.held}",
                )
            )
        elif statuses.get(cycle) in FINISHED and books.held:
            found.append(
                Violation(
                    ViolationKind.CYCLE_MONEY_UNACCOUNTED,
                    f"cycle {cycle}",
                    f"{statuses[cycle]}, yet {books.held} is still held in its pot or payable",
                )
            )
    return found


def paid_cycles(
    money: Mapping[UUID, CycleMoney], payout_requested: Iterable[UUID], transfers: Iterable[StripeTransfer]
) -> set[UUID]:
    """Cycles that paid out, or began to: booked, or a transfer at Stripe in their group."""
    at_stripe = {c for t in transfers if (c := cycle_of_transfer_group(t.transfer_group)) is not None}
    booked = {cycle for cycle, books in money.items() if books.paid_out}
    return booked | set(payout_requested) | at_stripe


def transfers_before_funded(
    paid: Iterable[UUID],
    contributions: Mapping[UUID, Iterable[UUID]],
    collected_in_ledger: Iterable[UUID],
    intents: Iterable[StripeDebit],
) -> list[Violation]:
    booked = set(collected_in_ledger)
    succeeded = {
        key[0]
        for intent in intents
        if intent.status == "succeeded" and (key := intent.attempt_key) is not None
    }
    found = []
    for cycle in sorted(paid, key=str):
        uncollected = [c for c in contributions.get(cycle, ()) if c not in booked or c not in succeeded]
        if uncollected:
            found.append(
                Violation(
                    ViolationKind.TRANSFER_BEFORE_FUNDED,
                    f"cycle {cycle}",
                    f"paid out with {len(uncollected)} contributions not collected: "
                    + ", ".join(sorted(str(c) for c in uncollected)),
                )
            )
    return found


def paid_and_refunded(
    paid: Iterable[UUID], money: Mapping[UUID, CycleMoney], intents: Iterable[StripeDebit]
) -> list[Violation]:
    refunded_at_stripe = {intent.cycle_id for intent in intents if intent.refunded}
    found = []
    for cycle in sorted(paid, key=str):
        booked = money.get(cycle, CycleMoney()).refunded
        if booked or cycle in refunded_at_stripe:
            found.append(
                Violation(
                    ViolationKind.PAID_AND_REFUNDED,
                    f"cycle {cycle}",
                    f"paid out, and refunded ({booked} booked; at Stripe: {cycle in refunded_at_stripe})",
                )
            )
    return found


def duplicated_stripe_objects(
    intents: Iterable[StripeDebit], refunds: Iterable[Mapping[str, Any]], transfers: Iterable[StripeTransfer]
) -> list[Violation]:
    found = []
    steps: Counter[str] = Counter()
    ids: dict[str, list[str]] = defaultdict(list)
    for intent in intents:
        if (key := intent.attempt_key) is not None:
            step = f"debit of contribution {key[0]} attempt {key[1]}"
            steps[step] += 1
            ids[step].append(intent.payment_intent_id)
    for refund in refunds:
        tags = refund.get("metadata") or {}
        if tags.get("contribution_id") and tags.get("attempt"):
            step = f"refund of contribution {tags['contribution_id']} attempt {tags['attempt']}"
            steps[step] += 1
            ids[step].append(str(refund["id"]))
    for transfer in transfers:
        if transfer.source_transaction:
            step = f"transfer of {transfer.source_transaction} in {transfer.transfer_group}"
            steps[step] += 1
            ids[step].append(transfer.transfer_id)
    for step, count in sorted(steps.items()):
        if count > 1:
            found.append(
                Violation(
                    ViolationKind.STRIPE_OBJECT_DUPLICATED,
                    step,
                    f"{count} Stripe objects for one idempotent step: {', '.join(sorted(ids[step]))}",
                )
            )
    return found


def disagreements(differences: Iterable[Difference]) -> list[Violation]:
    return [
        Violation(
            ViolationKind.BOOKS_DISAGREE,
            f"{d.object_type} {', '.join(d.object_ids)}",
            f"{d.kind}: ledger {d.expected}, Stripe {d.actual} {d.currency} ({d.note})",
        )
        for d in differences
    ]


@dataclass(frozen=True)
class DebtPaidTwice:
    """A refund of a debt paid twice, as collections stored it (its key before the call)."""

    debt_collection_id: str
    dispute_id: str
    payment_intent_id: str
    currency: str

    @property
    def reference(self) -> str:
        return f"debt-refunded-{self.debt_collection_id}-{self.dispute_id}"


def debt_refunds_unaccounted(
    entries: Iterable[LedgerEntry],
    paid_twice: Iterable[DebtPaidTwice],
    refunds_at_stripe: Mapping[str, Iterable[Mapping[str, Any]]],
) -> list[Violation]:
    """Per debt paid twice: one Stripe refund at most, and the ledger's refunded = Stripe's."""
    booked: dict[str, int] = defaultdict(int)
    for entry in entries:
        if entry.account_kind == AccountKind.REFUND_OWED and entry.reference.startswith("debt-refunded-"):
            booked[entry.reference] -= entry.amount
    found = []
    for debt in paid_twice:
        ours = [
            refund
            for refund in refunds_at_stripe.get(debt.payment_intent_id, ())
            if (refund.get("metadata") or {}).get("debt_collection_id") == debt.debt_collection_id
            and (refund.get("metadata") or {}).get("dispute_id") == debt.dispute_id
        ]
        if len(ours) > 1:
            found.append(
                Violation(
                    ViolationKind.STRIPE_OBJECT_DUPLICATED,
                    f"refund of debt {debt.debt_collection_id} paid twice ({debt.dispute_id})",
                    f"{len(ours)} Stripe objects for one idempotent step: "
                    + ", ".join(sorted(str(r["id"]) for r in ours)),
                )
            )
        returned = sum(int(r["amount"]) for r in ours if r.get("status") == "succeeded")
        if booked.get(debt.reference, 0) != returned:
            found.append(
                Violation(
                    ViolationKind.BOOKS_DISAGREE,
                    f"refund {', '.join(str(r['id']) for r in ours) or '(none)'} of {debt.payment_intent_id}",
                    f"debt paid twice: ledger booked {booked.get(debt.reference, 0)} refunded "
                    f"({debt.reference}), Stripe's succeeded refund {returned} {debt.currency}",
                )
            )
    return found
