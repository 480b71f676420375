"""Refunds of debts paid twice (``domain/debt_refunds.py``), as rows; changed under the group's
rotation row lock, as the debt collections are."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.debt_refunds import DebtRefund, DebtRefundStatus
from services.collections.store.tables import debt_collections, debt_refunds


async def save_refund(session: AsyncSession, refund: DebtRefund, now: datetime) -> None:
    changing = {
        "status": refund.status.value,
        "refund_id": refund.refund_id,
        "failure_reason": refund.failure_reason,
        "updated_at": now,
    }
    await session.execute(
        insert(debt_refunds)
        .values(
            debt_collection_id=refund.debt_collection_id,
            dispute_id=refund.dispute_id,
            group_id=refund.group_id,
            member_id=refund.member_id,
            amount=refund.amount,
            currency=refund.currency,
            payment_intent_id=refund.payment_intent_id,
            idempotency_key=refund.idempotency_key,
            created_at=now,
            **changing,
        )
        .on_conflict_do_update(
            index_elements=[debt_refunds.c.debt_collection_id, debt_refunds.c.dispute_id], set_=changing
        )
    )


def _refund(row: Any) -> DebtRefund:
    return DebtRefund(
        debt_collection_id=row.debt_collection_id,
        dispute_id=row.dispute_id,
        group_id=row.group_id,
        member_id=row.member_id,
        amount=row.amount,
        currency=row.currency,
        payment_intent_id=row.payment_intent_id,
        status=DebtRefundStatus(row.status),
        refund_id=row.refund_id,
        failure_reason=row.failure_reason,
    )


async def load_refund(session: AsyncSession, debt_collection_id: UUID, dispute_id: str) -> DebtRefund | None:
    row = (
        await session.execute(
            select(debt_refunds).where(
                debt_refunds.c.debt_collection_id == debt_collection_id,
                debt_refunds.c.dispute_id == dispute_id,
            )
        )
    ).first()
    return _refund(row) if row is not None else None


async def refunds_of_member(session: AsyncSession, group_id: UUID, member_id: str) -> list[DebtRefund]:
    rows = await session.execute(
        select(debt_refunds)
        .where(debt_refunds.c.group_id == group_id, debt_refunds.c.member_id == member_id)
        .order_by(debt_refunds.c.created_at, debt_refunds.c.dispute_id)
    )
    return [_refund(row) for row in rows]


async def collection_that_paid(
    session: AsyncSession, group_id: UUID, member_id: str, dispute_id: str
) -> UUID | None:
    """The member's succeeded debt collection that paid ``dispute_id`` (one at most: a paid debt
    is no longer owed, so no later collection covers it)."""
    found: UUID | None = await session.scalar(
        select(debt_collections.c.debt_collection_id).where(
            debt_collections.c.group_id == group_id,
            debt_collections.c.member_id == member_id,
            debt_collections.c.status == "succeeded",
            debt_collections.c.dispute_ids.contains([dispute_id]),
        )
    )
    return found
