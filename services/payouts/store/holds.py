"""Collections' holds on cycles whose recipient owes the group (kept even before the cycle's
``pay_cycle`` arrives). Hold and release may be handled in either order: each is dated by when
collections decided it, and the later decision wins."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.payouts.store.tables import cycle_holds


async def hold(
    session: AsyncSession, cycle_id: UUID, group_id: UUID, recipient_member_id: str, decided_at: datetime
) -> None:
    row = {"cycle_id": cycle_id, "group_id": group_id, "recipient_member_id": recipient_member_id}
    statement = insert(cycle_holds).values(**row, held_at=decided_at, released_at=None)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["cycle_id"],
            set_={"held_at": decided_at, "released_at": None},
            where=or_(cycle_holds.c.released_at.is_(None), cycle_holds.c.released_at < decided_at)
            & (cycle_holds.c.held_at < decided_at),
        )
    )


async def release(
    session: AsyncSession, cycle_id: UUID, group_id: UUID, recipient_member_id: str, decided_at: datetime
) -> None:
    row = {"cycle_id": cycle_id, "group_id": group_id, "recipient_member_id": recipient_member_id}
    # A release seen before its hold: the hold, older, will change nothing.
    statement = insert(cycle_holds).values(**row, held_at=decided_at, released_at=decided_at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["cycle_id"],
            set_={"released_at": decided_at},
            where=(cycle_holds.c.held_at <= decided_at)
            & or_(cycle_holds.c.released_at.is_(None), cycle_holds.c.released_at < decided_at),
        )
    )
