"""The ledger's books of members' debt debits, for reconciliation: what each debt collection's
collected debit booked (collected, Stripe's fee, refunds of a debt paid twice) and the disputes of
debt debits, all filed under their group."""

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.ledger_steps import step_of
from services.collections.domain.reconciliation import LedgerDebtDebit
from services.collections.store.reconciliation import booked_amounts
from services.collections.store.tables import debt_attempts, debt_collections


async def debt_books(
    session: AsyncSession, group_ids: Iterable[UUID]
) -> tuple[tuple[LedgerDebtDebit, ...], dict[str, tuple[int, int]]]:
    """Every debt debit attempt of the groups with its collection's books, and the groups' disputes
    of debt debits (opened, won) by id."""
    groups = frozenset(group_ids)
    if not groups:
        return (), {}
    amounts, _, _ = await booked_amounts(session, groups)
    rows = await session.execute(
        select(
            debt_attempts.c.group_id,
            debt_attempts.c.debt_collection_id,
            debt_attempts.c.attempt,
            debt_attempts.c.payment_intent_id,
            debt_attempts.c.status,
            debt_collections.c.currency,
        )
        .join(debt_collections, debt_collections.c.debt_collection_id == debt_attempts.c.debt_collection_id)
        .where(debt_attempts.c.group_id.in_(groups))
        .order_by(debt_attempts.c.debt_collection_id, debt_attempts.c.attempt)
    )
    debits = []
    for row in rows:
        collected = row.status == "succeeded"  # the collection's books are its collected debit's
        refunds = f"debt-refunded-{row.debt_collection_id}-"
        debits.append(
            LedgerDebtDebit(
                group_id=row.group_id,
                debt_collection_id=row.debt_collection_id,
                attempt=row.attempt,
                payment_intent_id=row.payment_intent_id,
                currency=row.currency,
                collected=amounts.get(f"debt-collected-{row.debt_collection_id}", 0) if collected else 0,
                stripe_fee=amounts.get(f"debt-stripe-fee-{row.debt_collection_id}", 0) if collected else 0,
                refunded=sum(a for r, a in amounts.items() if r.startswith(refunds)) if collected else 0,
            )
        )
    disputes = {
        reference.removeprefix("dispute-opened-"): (
            amount,
            amounts.get(reference.replace("dispute-opened-", "dispute-won-", 1), 0),
        )
        for reference, amount in amounts.items()
        if step_of(reference) == "dispute-opened"
    }
    return tuple(debits), disputes
