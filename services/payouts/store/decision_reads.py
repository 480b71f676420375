"""What deciding a payout reads besides the recipient's account, in one statement: when its group
was activated, whether collections holds its cycle, and whether its recipient was paid a pot before.

Three selects of their own were three of the 22.5 statements a cycle cost payouts
(benchmarks/README.md, "Payouts latency"). Built once, run with each payout's values.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.payouts.domain.payout import Payout, PayoutStatus
from services.payouts.store.tables import cycle_holds, groups, payouts


@dataclass(frozen=True)
class DecisionReads:
    group_activated_at: datetime | None  # None for a group payouts never heard activated
    held: bool  # collections holds the cycle (its recipient owes the group) and has not released it
    recipient_paid_before: bool  # another cycle's pot of the recipient's was paid


_READS: Final = select(
    select(groups.c.activated_at).where(groups.c.group_id == bindparam("b_group_id")).scalar_subquery(),
    exists().where(cycle_holds.c.cycle_id == bindparam("b_cycle_id"), cycle_holds.c.released_at.is_(None)),
    exists().where(
        payouts.c.recipient_member_id == bindparam("b_member_id"),
        payouts.c.status == PayoutStatus.PAID,
        payouts.c.cycle_id != bindparam("b_cycle_id"),
    ),
)


async def read(session: AsyncSession, payout: Payout) -> DecisionReads:
    activated_at, held, paid_before = (
        await session.execute(
            _READS,
            {
                "b_group_id": payout.group_id,
                "b_cycle_id": payout.cycle_id,
                "b_member_id": payout.recipient_member_id,
            },
        )
    ).one()
    return DecisionReads(activated_at, bool(held), bool(paid_before))
