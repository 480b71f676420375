"""Debt collections and their debit attempts (``domain/debt_collection.py``), as rows.

Who changes a collection holds its group's rotation row locked first (``load_rotation``), so the
member's requests and Stripe's reports of one debt are decided one at a time, in the order a cycle
step and an admin's decision also take.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.collections.domain.debt_collection import (
    DebtAttempt,
    DebtAttemptStatus,
    DebtCollection,
    PaymentMethod,
)
from services.collections.domain.rotation_state import RotationState
from services.collections.store.rotation_state import state_of
from services.collections.store.tables import debt_attempts, debt_collections, rotations


async def save_collection(session: AsyncSession, collection: DebtCollection, now: datetime) -> None:
    """Insert or update the collection and every attempt of it."""
    values = {"status": collection.status.value, "updated_at": now}
    await session.execute(
        insert(debt_collections)
        .values(
            debt_collection_id=collection.debt_collection_id,
            group_id=collection.group_id,
            member_id=collection.member_id,
            amount=collection.amount,
            currency=collection.currency,
            dispute_ids=list(collection.dispute_ids),
            created_at=now,
            **values,
        )
        .on_conflict_do_update(index_elements=[debt_collections.c.debt_collection_id], set_=values)
    )
    for attempt in collection.attempts:
        changing = {
            "status": attempt.status.value,
            "payment_intent_id": attempt.payment_intent_id,
            "failure_code": attempt.failure_code,
            "updated_at": now,
        }
        await session.execute(
            insert(debt_attempts)
            .values(
                debt_collection_id=collection.debt_collection_id,
                attempt=attempt.attempt,
                group_id=collection.group_id,
                member_id=collection.member_id,
                request_key=attempt.request_key,
                idempotency_key=collection.idempotency_key(attempt.attempt),
                customer_id=attempt.payment_method.customer_id,
                payment_method_id=attempt.payment_method.payment_method_id,
                mandate_id=attempt.payment_method.mandate_id,
                **changing,
            )
            .on_conflict_do_update(
                index_elements=[debt_attempts.c.debt_collection_id, debt_attempts.c.attempt],
                set_=changing,
                where=_differs(changing),
            )
        )


def _differs(changing: dict[str, Any]) -> Any:
    """Rewrite an attempt only when it changed (an unchanged one keeps its ``updated_at``)."""
    excluded = insert(debt_attempts).excluded
    return (
        debt_attempts.c.status.is_distinct_from(excluded.status)
        | debt_attempts.c.payment_intent_id.is_distinct_from(excluded.payment_intent_id)
        | debt_attempts.c.failure_code.is_distinct_from(excluded.failure_code)
    )


async def load_collection(session: AsyncSession, debt_collection_id: UUID) -> DebtCollection | None:
    row = (
        await session.execute(
            select(debt_collections).where(debt_collections.c.debt_collection_id == debt_collection_id)
        )
    ).first()
    if row is None:
        return None
    attempts = await session.execute(
        select(debt_attempts)
        .where(debt_attempts.c.debt_collection_id == debt_collection_id)
        .order_by(debt_attempts.c.attempt)
    )
    return DebtCollection(
        debt_collection_id=row.debt_collection_id,
        group_id=row.group_id,
        member_id=row.member_id,
        amount=row.amount,
        currency=row.currency,
        dispute_ids=tuple(row.dispute_ids),
        attempts=tuple(
            DebtAttempt(
                attempt=a.attempt,
                request_key=a.request_key,
                payment_method=PaymentMethod(a.customer_id, a.payment_method_id, a.mandate_id),
                status=DebtAttemptStatus(a.status),
                payment_intent_id=a.payment_intent_id,
                failure_code=a.failure_code,
            )
            for a in attempts
        ),
    )


async def group_of_collection(session: AsyncSession, debt_collection_id: UUID) -> UUID | None:
    found: UUID | None = await session.scalar(
        select(debt_collections.c.group_id).where(debt_collections.c.debt_collection_id == debt_collection_id)
    )
    return found


async def collection_of_payment_intent(session: AsyncSession, payment_intent_id: str) -> UUID | None:
    """The debt collection whose debit is this PaymentIntent (how a dispute, which carries no
    metadata, finds it)."""
    found: UUID | None = await session.scalar(
        select(debt_attempts.c.debt_collection_id).where(
            debt_attempts.c.payment_intent_id == payment_intent_id
        )
    )
    return found


async def collection_asked_by(
    session: AsyncSession, group_id: UUID, member_id: str, request_key: str
) -> DebtCollection | None:
    """The collection an earlier request with this key made or tried again."""
    found: UUID | None = await session.scalar(
        select(debt_attempts.c.debt_collection_id).where(
            debt_attempts.c.group_id == group_id,
            debt_attempts.c.member_id == member_id,
            debt_attempts.c.request_key == request_key,
        )
    )
    return await load_collection(session, found) if found is not None else None


async def latest_collection(session: AsyncSession, group_id: UUID, member_id: str) -> DebtCollection | None:
    found: UUID | None = await session.scalar(
        select(debt_collections.c.debt_collection_id)
        .where(debt_collections.c.group_id == group_id, debt_collections.c.member_id == member_id)
        .order_by(debt_collections.c.created_at.desc(), debt_collections.c.debt_collection_id)
        .limit(1)
    )
    return await load_collection(session, found) if found is not None else None


async def rotations_of_member(session: AsyncSession, member_id: str) -> list[RotationState]:
    """The rotations of every group the member was activated in (read, not locked), by group id."""
    rows = await session.execute(
        select(rotations.c.state)
        .where(
            rotations.c.activation.contains({"members": [{"member_id": member_id}]}),
            rotations.c.state.is_not(None),
        )
        .order_by(rotations.c.group_id)
    )
    return [state_of(row.state) for row in rows]
