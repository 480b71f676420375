"""Rotations: each activated group once, with its planned cycles."""

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.onboarding import GroupActivated
from services.collections.store.tables import rotations


async def add_rotation(session: AsyncSession, activation: GroupActivated, now: datetime) -> bool:
    """Record the group's activation; False when it was recorded before (a redelivery)."""
    added = await session.execute(
        insert(rotations)
        .values(
            group_id=activation.group_id,
            activation=activation.model_dump(mode="json"),
            activated_at=activation.activated_at,
            stored_at=now,
        )
        .on_conflict_do_nothing()
        .returning(rotations.c.group_id)
    )
    return added.first() is not None
