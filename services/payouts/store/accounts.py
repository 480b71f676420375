"""Recipient accounts as payouts sees them."""

from datetime import UTC, datetime
from typing import Final

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.payouts.domain.recipient import AccountView
from services.payouts.store.tables import recipient_accounts

NEVER: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Built once (every payout reads its account): building a statement and its cache key on every call
# cost as much CPU as running it (benchmarks/README.md, "Payouts latency").
_ACCOUNT = select(recipient_accounts).where(
    recipient_accounts.c.connected_account_id == bindparam("b_connected_account_id")
)
_ACCOUNT_LOCKED = _ACCOUNT.with_for_update()
_new_account = insert(recipient_accounts)
_MEMBER_REMEMBERED = _new_account.on_conflict_do_update(
    index_elements=["connected_account_id"],
    set_={"member_id": _new_account.excluded.member_id},
    where=recipient_accounts.c.member_id.is_(None),
)


async def load(session: AsyncSession, connected_account_id: str, *, lock: bool = False) -> AccountView | None:
    query = _ACCOUNT_LOCKED if lock else _ACCOUNT
    row = (await session.execute(query, {"b_connected_account_id": connected_account_id})).first()
    if row is None:
        return None
    return AccountView(
        connected_account_id=row.connected_account_id,
        member_id=row.member_id,
        can_receive=row.can_receive,
        reason=row.reason,
        requirements_due=tuple(row.requirements_due),
        ready_since=row.ready_since,
        as_of=row.as_of,
    )


async def save(session: AsyncSession, view: AccountView) -> None:
    values = {
        "member_id": view.member_id,
        "can_receive": view.can_receive,
        "reason": view.reason,
        "requirements_due": list(view.requirements_due),
        "ready_since": view.ready_since,
        "as_of": view.as_of,
    }
    await session.execute(
        insert(recipient_accounts)
        .values(connected_account_id=view.connected_account_id, **values)
        .on_conflict_do_update(index_elements=["connected_account_id"], set_=values)
    )


async def remember_member(session: AsyncSession, connected_account_id: str, member_id: str) -> None:
    """Whose account it is (for telling them about it), without a report: dated before any report,
    so every report applies over it."""
    await session.execute(
        _MEMBER_REMEMBERED,
        {
            "connected_account_id": connected_account_id,
            "member_id": member_id,
            "can_receive": True,
            "reason": None,
            "requirements_due": [],
            "ready_since": None,
            "as_of": NEVER,
        },
    )
