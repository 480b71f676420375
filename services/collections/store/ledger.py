"""The group ledger: append-only, each transaction once by its reference, in integer minor units."""

from datetime import datetime
from typing import Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.ledger import Account, AccountKind, Entry, Transaction
from services.collections.store.tables import ledger_entries, ledger_transactions

# Built once, run with each transaction's values: building a statement and its cache key on every
# call cost as much CPU as running it (benchmarks/README.md, "Payouts latency").
_NEW_TRANSACTION: Final = (
    insert(ledger_transactions).on_conflict_do_nothing().returning(ledger_transactions.c.reference)
)
_NEW_ENTRIES: Final = insert(ledger_entries)


async def post(
    session: AsyncSession, cycle_id: UUID, transactions: tuple[Transaction, ...], now: datetime
) -> None:
    for transaction in transactions:
        added = await session.execute(
            _NEW_TRANSACTION,
            {
                "reference": transaction.reference,
                "cycle_id": cycle_id,
                "currency": transaction.currency,
                "posted_at": now,
            },
        )
        if added.first() is None:
            continue  # the step that causes it was booked before
        await session.execute(
            _NEW_ENTRIES,
            [
                {
                    "reference": transaction.reference,
                    "account_kind": entry.account.kind.value,
                    "account_key": entry.account.key,
                    "amount": entry.amount,
                    "currency": transaction.currency,
                }
                for entry in transaction.entries
            ],
        )


async def transactions_of_cycle(session: AsyncSession, cycle_id: UUID) -> list[Transaction]:
    rows = await session.execute(
        select(
            ledger_transactions.c.reference,
            ledger_transactions.c.currency,
            ledger_entries.c.account_kind,
            ledger_entries.c.account_key,
            ledger_entries.c.amount,
        )
        .join(ledger_entries, ledger_entries.c.reference == ledger_transactions.c.reference)
        .where(ledger_transactions.c.cycle_id == cycle_id)
        .order_by(ledger_transactions.c.posted_at, ledger_entries.c.entry_id)
    )
    grouped: dict[str, tuple[str, list[Entry]]] = {}
    for row in rows:
        _, entries = grouped.setdefault(row.reference, (row.currency, []))
        entries.append(Entry(Account(AccountKind(row.account_kind), row.account_key), row.amount))
    return [
        Transaction(reference, currency, tuple(entries)) for reference, (currency, entries) in grouped.items()
    ]
