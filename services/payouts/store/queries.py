"""What the API reads: payouts with their transfers, by recipient, group or status."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.payouts.store.tables import payout_transfers, payouts


@dataclass(frozen=True)
class PayoutRow:
    payout: dict[str, Any]
    transfers: list[dict[str, Any]]


async def payouts_where(session: AsyncSession, *conditions: Any, limit: int = 500) -> list[PayoutRow]:
    rows = await session.execute(
        select(payouts).where(*conditions).order_by(payouts.c.requested_at, payouts.c.cycle_id).limit(limit)
    )
    found = [dict(row._mapping) for row in rows]
    if not found:
        return []
    transfer_rows = await session.execute(
        select(payout_transfers)
        .where(payout_transfers.c.cycle_id.in_([p["cycle_id"] for p in found]))
        .order_by(payout_transfers.c.charge_id)
    )
    by_cycle: dict[UUID, list[dict[str, Any]]] = {}
    for row in transfer_rows:
        by_cycle.setdefault(row.cycle_id, []).append(dict(row._mapping))
    return [PayoutRow(p, by_cycle.get(p["cycle_id"], [])) for p in found]


async def of_recipient(session: AsyncSession, member_id: str) -> list[PayoutRow]:
    return await payouts_where(session, payouts.c.recipient_member_id == member_id)


async def of_group(session: AsyncSession, group_id: UUID) -> list[PayoutRow]:
    return await payouts_where(session, payouts.c.group_id == group_id)


async def waiting(session: AsyncSession, statuses: list[str], limit: int) -> list[PayoutRow]:
    return await payouts_where(session, payouts.c.status.in_(statuses), limit=limit)


def newest(moments: list[datetime | None]) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None
