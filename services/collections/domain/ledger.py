"""The group ledger: double-entry, append-only, integer cents; accounts, transactions, balances."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class AccountKind(StrEnum):
    """Positive balances are money sitting in the account; the two outside sources (members'
    bank accounts and the platform's own money) go negative as money comes from them."""

    MEMBER_CONTRIBUTIONS = "member_contributions"  # per member: paid in by debit (negative)
    CYCLE_POT = "cycle_pot"  # per cycle: collected and held
    RECIPIENT_PAYABLE = "recipient_payable"  # per cycle: earmarked for the recipient, not yet sent
    TRANSFERS = "transfers"  # per cycle: sent to the recipient's connected account
    PLATFORM_FEES = "platform_fees"  # per cycle: the platform's share of the pot
    REFUNDS = "refunds"  # per cycle: returned to members
    REFUND_OWED = "refund_owed"  # per member: Stripe could not refund it; owed back
    DISPUTE_RECEIVABLE = "dispute_receivable"  # per member: what they owe after a dispute
    PLATFORM_FUNDS = "platform_funds"  # the platform's own money (negative as it pays)
    STRIPE_FEES = "stripe_fees"  # the platform's cost, apart from members' money
    WRITE_OFF = "write_off"  # receivables given up on


@dataclass(frozen=True, order=True)
class Account:
    kind: AccountKind
    key: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}" if self.key else str(self.kind)


@dataclass(frozen=True)
class Entry:
    account: Account
    amount: int


class LedgerError(Exception):
    """A posting the ledger's rules refuse: the books would stop being true."""


@dataclass(frozen=True)
class Transaction:
    """One balanced step. ``reference`` names the step that caused it, so reposting is a no-op."""

    reference: str
    currency: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        if len(self.entries) < 2:
            raise LedgerError(f"{self.reference}: a transaction moves money between two accounts at least")
        if any(entry.amount == 0 for entry in self.entries):
            raise LedgerError(f"{self.reference}: an entry of zero records nothing")
        if sum(entry.amount for entry in self.entries) != 0:
            raise LedgerError(f"{self.reference}: entries must sum to zero")


def transfer(
    reference: str, currency: str, amount: int, source: Account, destination: Account
) -> Transaction:
    """``amount`` moves from ``source`` to ``destination``."""
    return Transaction(reference, currency, (Entry(source, -amount), Entry(destination, amount)))


@dataclass(frozen=True)
class Ledger:
    """Transactions in the order they were posted; never edited, a mistake is reversed by another."""

    transactions: tuple[Transaction, ...] = ()
    _by_reference: Mapping[str, Transaction] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        by_reference: dict[str, Transaction] = {}
        for transaction in self.transactions:
            if transaction.reference in by_reference:
                raise LedgerError(f"reference {transaction.reference} appears twice")
            by_reference[transaction.reference] = transaction
        object.__setattr__(self, "_by_reference", by_reference)

    def post(self, transaction: Transaction) -> "Ledger":
        """The ledger with ``transaction``; itself when that exact transaction is already in it."""
        known = self._by_reference.get(transaction.reference)
        if known == transaction:
            return self
        if known is not None:
            raise LedgerError(f"reference {transaction.reference} already posted with other entries")
        self._refuse_negative_pot(transaction)
        return Ledger((*self.transactions, transaction))

    def post_all(self, transactions: Iterable[Transaction]) -> "Ledger":
        ledger = self
        for transaction in transactions:
            ledger = ledger.post(transaction)
        return ledger

    def balance(self, account: Account) -> int:
        return balance(self.transactions, account)

    def _refuse_negative_pot(self, transaction: Transaction) -> None:
        for entry in transaction.entries:
            if entry.account.kind is AccountKind.CYCLE_POT and entry.amount < 0:
                held = self.balance(entry.account)
                if held + entry.amount < 0:
                    raise LedgerError(
                        f"{transaction.reference}: {entry.account} holds {held}, cannot give {-entry.amount}"
                    )


def balance(transactions: Iterable[Transaction], account: Account) -> int:
    return sum(entry.amount for tx in transactions for entry in tx.entries if entry.account == account)


def balances(transactions: Iterable[Transaction]) -> dict[Account, int]:
    totals: dict[Account, int] = defaultdict(int)
    for transaction in transactions:
        for entry in transaction.entries:
            totals[entry.account] += entry.amount
    return dict(totals)


def balance_of_kind(transactions: Iterable[Transaction], kind: AccountKind) -> int:
    """The total over every account of ``kind`` (every member's receivable, say)."""
    return sum(entry.amount for tx in transactions for entry in tx.entries if entry.account.kind is kind)


def collected_into_pot(transactions: Iterable[Transaction], cycle_key: str) -> int:
    """What members' debits put into the cycle's pot, less what disputes took back out to them."""
    pot = Account(AccountKind.CYCLE_POT, cycle_key)
    return sum(
        entry.amount
        for tx in transactions
        if any(e.account.kind is AccountKind.MEMBER_CONTRIBUTIONS for e in tx.entries)
        for entry in tx.entries
        if entry.account == pot
    )


def cycle_books_problems(transactions: Iterable[Transaction], cycle_key: str, cycle_status: str) -> list[str]:
    """Where the cycle's books contradict its status; empty when they hold."""
    transactions = tuple(transactions)

    def held(kind: AccountKind) -> int:
        return balance(transactions, Account(kind, cycle_key))

    collected = collected_into_pot(transactions, cycle_key)
    problems = []
    if held(AccountKind.CYCLE_POT) < 0:
        problems.append("the pot is negative")
    if cycle_status == "completed":
        paid_out = held(AccountKind.TRANSFERS) + held(AccountKind.PLATFORM_FEES)
        if paid_out != collected or held(AccountKind.CYCLE_POT) or held(AccountKind.RECIPIENT_PAYABLE):
            problems.append(f"completed, yet collected {collected} != transfers + fees {paid_out}")
    if cycle_status == "cancelled":
        if held(AccountKind.CYCLE_POT) != 0:
            problems.append(f"cancelled with {held(AccountKind.CYCLE_POT)} still in the pot")
        if held(AccountKind.TRANSFERS) or held(AccountKind.PLATFORM_FEES):
            problems.append("cancelled, yet money went to the recipient or the platform")
    return problems
