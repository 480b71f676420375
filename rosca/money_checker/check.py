"""The money checker's run: read the collections ledger and Stripe's books of every cycle in it,
and check every invariant (``invariants.py``).

Only the cycles in the given database are checked, and only the Stripe objects of their members'
customers and of their transfer groups: tests that share one simulator never see each other's.
Payouts' database (its transfers, one per charge) is to join as an argument when that service
books them; today the transfers are read from Stripe by ``transfer_group``. ``transfers_on_stripe``
is False only for a test that plays payouts' part by publishing ``payouts.evt.cycle_paid`` itself,
so the ledger books payouts Stripe never saw.
"""

from collections import defaultdict
from uuid import UUID

import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rosca.money_checker import invariants as rules
from services.collections.domain.reconciliation import compare
from services.collections.service_layer.reconciliation import (
    customers_of_groups,
    cycle_of_intent,
    debt_group_of,
    with_debt_debits,
)
from services.collections.store import reconciliation as ledger_reads
from services.collections.store.tables import (
    contributions,
    cycles,
    debt_refunds,
    ledger_entries,
    ledger_transactions,
)
from services.collections.stripe_books import StripeBooksReader
from services.runtime.db import Database


async def check_money(
    collections_database_url: str,
    stripe_client: stripe.StripeClient,
    *,
    transfers_on_stripe: bool = True,
) -> rules.MoneyReport:
    """Every invariant of ``invariants.py`` on these books; the report's violations are empty when
    they all hold."""
    database = Database(collections_database_url, pool_size=1)
    try:
        async with database.transaction() as session:
            return await _check(
                session, StripeBooksReader(stripe_client), transfers_on_stripe=transfers_on_stripe
            )
    finally:
        await database.dispose()


async def _check(
    session: AsyncSession, reader: StripeBooksReader, *, transfers_on_stripe: bool
) -> rules.MoneyReport:
    statuses = {
        row.cycle_id: row.status for row in await session.execute(select(cycles.c.cycle_id, cycles.c.status))
    }
    entries = await _entries(session)
    of_cycle: dict[UUID, list[UUID]] = defaultdict(list)
    for row in await session.execute(select(contributions.c.cycle_id, contributions.c.contribution_id)):
        of_cycle[row.cycle_id].append(row.contribution_id)
    listed = await reader.intents_of_customers(await customers_of_groups(session, None))
    ours = [
        intent
        for intent in listed
        if cycle_of_intent(intent) in statuses or debt_group_of(intent) is not None
    ]
    ledger = await with_debt_debits(session, await ledger_reads.ledger_books(session, statuses), ours)
    known = [debit.payment_intent_id for debit in ledger.debits if debit.payment_intent_id]
    books = await reader.books(ours, known, statuses)
    refunds = [
        refund
        for debit in books.debits
        if debit.refund_ids
        for refund in await reader.refunds_of(debit.payment_intent_id)
    ]

    paid_twice = await _debts_paid_twice(session)
    debt_refunds_at_stripe = {
        pi: await reader.refunds_of(pi) for pi in sorted({debt.payment_intent_id for debt in paid_twice})
    }

    money = rules.money_of_cycles(entries)
    payout_requested = {e.cycle_id for e in entries if e.reference.startswith("payout-requested-")}
    paid = rules.paid_cycles(money, payout_requested, books.transfers)
    collected = {debit.contribution_id for debit in ledger.debits if debit.collected}
    violations = [
        *rules.unbalanced_transactions(entries),
        *rules.unaccounted_cycles(money, statuses),
        *rules.transfers_before_funded(paid, of_cycle, collected, books.debits),
        *rules.paid_and_refunded(paid, money, books.debits),
        *rules.duplicated_stripe_objects(books.debits, refunds, books.transfers),
        *rules.disagreements(compare(ledger, books, compare_transfers=transfers_on_stripe)),
        *rules.debt_refunds_unaccounted(entries, paid_twice, debt_refunds_at_stripe),
    ]
    return rules.MoneyReport(
        violations=tuple(violations),
        cycles_checked=len(statuses),
        transactions_checked=len({entry.reference for entry in entries}),
        stripe_objects_checked=books.objects_read + sum(len(r) for r in debt_refunds_at_stripe.values()),
    )


async def _debts_paid_twice(session: AsyncSession) -> list[rules.DebtPaidTwice]:
    rows = await session.execute(
        select(
            debt_refunds.c.debt_collection_id,
            debt_refunds.c.dispute_id,
            debt_refunds.c.payment_intent_id,
            debt_refunds.c.currency,
        ).order_by(debt_refunds.c.debt_collection_id, debt_refunds.c.dispute_id)
    )
    return [
        rules.DebtPaidTwice(str(r.debt_collection_id), r.dispute_id, r.payment_intent_id, r.currency)
        for r in rows
    ]


async def _entries(session: AsyncSession) -> list[rules.LedgerEntry]:
    """Every entry as stored, read raw: a transaction that does not balance must be seen, not refused."""
    rows = await session.execute(
        select(
            ledger_entries.c.reference,
            ledger_transactions.c.cycle_id,
            ledger_entries.c.account_kind,
            ledger_entries.c.account_key,
            ledger_entries.c.amount,
        )
        .join(ledger_transactions, ledger_transactions.c.reference == ledger_entries.c.reference)
        .order_by(ledger_entries.c.entry_id)
    )
    return [rules.LedgerEntry(r.reference, r.cycle_id, r.account_kind, r.account_key, r.amount) for r in rows]
