"""The groups as onboarding activated them: who administers each, who is in it, and its plan."""

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.onboarding import GroupActivated
from services.payouts.store.tables import group_members, groups


async def record_activation(session: AsyncSession, activation: GroupActivated) -> bool:
    inserted = await session.execute(
        insert(groups)
        .values(
            group_id=activation.group_id,
            admin_member_id=activation.admin_member_id,
            activation=activation.model_dump(mode="json"),
            activated_at=activation.activated_at,
        )
        .on_conflict_do_nothing(index_elements=["group_id"])
        .returning(groups.c.group_id)
    )
    if inserted.first() is None:
        return False
    await session.execute(
        insert(group_members),
        [
            {"group_id": activation.group_id, "member_id": m.member_id, "position": m.position}
            for m in activation.members
        ],
    )
    return True


async def activation(session: AsyncSession, group_id: UUID) -> GroupActivated | None:
    body: dict[str, Any] | None = await session.scalar(
        select(groups.c.activation).where(groups.c.group_id == group_id)
    )
    return GroupActivated.model_validate(body) if body is not None else None


async def groups_of_member(session: AsyncSession, member_id: str) -> list[GroupActivated]:
    rows = await session.execute(
        select(groups.c.activation)
        .join(group_members, group_members.c.group_id == groups.c.group_id)
        .where(group_members.c.member_id == member_id)
    )
    return [GroupActivated.model_validate(body) for body in rows.scalars()]
