"""The queries about groups and their seats, inside the caller's transaction."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.onboarding.domain.group_terms import (
    Cadence,
    GroupTerms,
    Policy,
)
from services.onboarding.domain.groups import (
    Group,
    GroupNotFoundError,
    GroupStatus,
    Role,
)
from services.onboarding.domain.payout_order import PayoutOrderMethod, Seat
from services.onboarding.store.tables import groups, memberships


class GroupStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, group: Group, created_at: datetime) -> None:
        await self._session.execute(insert(groups).values(**_values(group), created_at=created_at))

    async def invite_code_taken(self, invite_code: str) -> bool:
        found = await self._session.scalar(
            select(groups.c.group_id).where(groups.c.invite_code == invite_code)
        )
        return found is not None

    async def get(self, group_id: UUID, *, lock: bool = False) -> Group:
        """The group; with ``lock``, held until commit, so joins and activation happen one at a time."""
        query = select(groups).where(groups.c.group_id == group_id)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise GroupNotFoundError("no such group among yours")
        return _group(row)

    async def with_invite_code(self, invite_code: str, *, lock: bool = False) -> Group:
        query = select(groups).where(groups.c.invite_code == invite_code)
        row = (await self._session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise GroupNotFoundError("no group has this invite code")
        return _group(row)

    async def save(self, group: Group) -> None:
        await self._session.execute(
            update(groups).where(groups.c.group_id == group.group_id).values(**_values(group))
        )

    async def seats(self, group_id: UUID) -> list[Seat]:
        seats, _ = await self.seating(group_id)
        return seats

    async def seating(self, group_id: UUID) -> tuple[list[Seat], dict[str, datetime]]:
        """The seats in joining order, and when each member joined."""
        rows = (
            await self._session.execute(
                select(
                    memberships.c.member_id,
                    memberships.c.join_seq,
                    memberships.c.chosen_slot,
                    memberships.c.joined_at,
                )
                .where(memberships.c.group_id == group_id)
                .order_by(memberships.c.join_seq)
            )
        ).all()
        seats = [Seat(row.member_id, row.join_seq, row.chosen_slot) for row in rows]
        return seats, {row.member_id: row.joined_at for row in rows}

    async def add_seat(self, group_id: UUID, member_id: str, role: Role, now: datetime) -> None:
        await self._session.execute(
            insert(memberships)
            .values(group_id=group_id, member_id=member_id, role=role.value, joined_at=now)
            .on_conflict_do_nothing()
        )

    async def remove_seat(self, group_id: UUID, member_id: str) -> None:
        await self._session.execute(
            delete(memberships).where(
                memberships.c.group_id == group_id, memberships.c.member_id == member_id
            )
        )

    async def choose_slot(self, group_id: UUID, member_id: str, slot: int | None) -> None:
        await self._session.execute(
            update(memberships)
            .where(memberships.c.group_id == group_id, memberships.c.member_id == member_id)
            .values(chosen_slot=slot)
        )

    async def of_member(self, member_id: str) -> list[Group]:
        rows = (
            await self._session.execute(
                select(groups)
                .join(memberships, memberships.c.group_id == groups.c.group_id)
                .where(memberships.c.member_id == member_id)
                .order_by(memberships.c.join_seq)
            )
        ).all()
        return [_group(row) for row in rows]


def _values(group: Group) -> dict[str, Any]:
    terms = group.terms
    return {
        "group_id": group.group_id,
        "name": terms.name,
        "admin_member_id": group.admin_member_id,
        "contribution_amount": terms.contribution_amount,
        "currency": terms.currency,
        "cadence": terms.cadence.value,
        "size": terms.size,
        "start_date": terms.start_date,
        "timezone": terms.timezone,
        "attempt_limit": terms.policy.attempt_limit,
        "retry_spacing_business_days": terms.policy.retry_spacing_business_days,
        "collection_window_business_days": terms.policy.collection_window_business_days,
        "platform_fee_bps": terms.policy.platform_fee_bps,
        "payout_order_method": terms.payout_order_method.value,
        "fixed_order": list(group.fixed_order),
        "draw_seed": group.draw_seed,
        "invite_code": group.invite_code,
        "status": group.status.value,
        "locked_order": list(group.locked_order),
        "activated_at": group.activated_at,
    }


def _group(row: Row[Any]) -> Group:
    return Group(
        group_id=row.group_id,
        terms=GroupTerms(
            name=row.name,
            contribution_amount=row.contribution_amount,
            currency=row.currency,
            cadence=Cadence(row.cadence),
            size=row.size,
            start_date=row.start_date,
            timezone=row.timezone,
            policy=Policy(
                attempt_limit=row.attempt_limit,
                retry_spacing_business_days=row.retry_spacing_business_days,
                collection_window_business_days=row.collection_window_business_days,
                platform_fee_bps=row.platform_fee_bps,
            ),
            payout_order_method=PayoutOrderMethod(row.payout_order_method),
        ),
        admin_member_id=row.admin_member_id,
        status=GroupStatus(row.status),
        invite_code=row.invite_code,
        draw_seed=row.draw_seed,
        fixed_order=tuple(row.fixed_order),
        locked_order=tuple(row.locked_order),
        activated_at=row.activated_at,
    )
