"""Payouts and their transfers in the database: read one (locked while deciding), record a new
one, save what a step changed.

The statements a cycle's payout runs are built once, here, and run with each payout's values:
building a statement and its cache key on every call cost as much CPU as running it
(benchmarks/README.md, "Payouts latency"). Where-clause parameters are named ``b_*``, apart from
the columns an update sets from the values it is given.
"""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Text, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.payouts.domain.payout import Payout, PayoutStatus, PlannedTransfer
from services.payouts.store.tables import payout_transfers, payouts

_NEW_PAYOUT = (
    insert(payouts).on_conflict_do_nothing(index_elements=["cycle_id"]).returning(payouts.c.cycle_id)
)
_NEW_TRANSFERS = insert(payout_transfers)
_PAYOUT = select(payouts).where(payouts.c.cycle_id == bindparam("b_cycle_id"))
_PAYOUT_LOCKED = _PAYOUT.with_for_update()
_TRANSFERS = (
    select(payout_transfers)
    .where(payout_transfers.c.cycle_id == bindparam("b_cycle_id"))
    .order_by(payout_transfers.c.charge_id)
)
_SAVE_PAYOUT = update(payouts).where(payouts.c.cycle_id == bindparam("b_cycle_id"))
_SAVE_TRANSFER = update(payout_transfers).where(
    payout_transfers.c.cycle_id == bindparam("b_cycle_id"),
    payout_transfers.c.charge_id == bindparam("b_charge_id"),
)
_MARK_TRIED = update(payout_transfers).where(
    payout_transfers.c.cycle_id == bindparam("b_cycle_id"),
    payout_transfers.c.charge_id == any_(bindparam("b_charge_ids", type_=ARRAY(Text))),
    payout_transfers.c.first_tried_at.is_(None),
)


async def record_new(
    session: AsyncSession, payout: Payout, platform_fee_total: int, requested_at: datetime, now: datetime
) -> bool:
    """Store a payout and its planned transfers (with their keys), once: False if it exists."""
    inserted = await session.execute(
        _NEW_PAYOUT,
        {
            "cycle_id": payout.cycle_id,
            "group_id": payout.group_id,
            "cycle_number": payout.cycle_number,
            "recipient_member_id": payout.recipient_member_id,
            "connected_account_id": payout.connected_account_id,
            "currency": payout.currency,
            "transfer_group": payout.transfer_group,
            "transfer_total": payout.transfer_total,
            "platform_fee_total": platform_fee_total,
            "status": payout.status,
            "round": payout.round,
            "reason": payout.reason,
            "held_until": payout.held_until,
            "requested_at": requested_at,
            "status_since": now,
        },
    )
    if inserted.first() is None:
        return False
    await session.execute(
        _NEW_TRANSFERS,
        [
            {
                "cycle_id": payout.cycle_id,
                "charge_id": t.charge_id,
                "contribution_id": t.contribution_id,
                "payment_intent_id": t.payment_intent_id,
                "payer_member_id": t.payer_member_id,
                "amount": t.amount,
                "attempt": t.attempt,
                "idempotency_key": t.key(payout.cycle_id),
            }
            for t in payout.transfers
        ],
    )
    return True


async def load(session: AsyncSession, cycle_id: UUID, *, lock: bool = True) -> Payout | None:
    found = await load_with_first_tries(session, cycle_id, lock=lock)
    return found[0] if found is not None else None


async def load_with_first_tries(
    session: AsyncSession, cycle_id: UUID, *, lock: bool = True
) -> tuple[Payout, dict[str, datetime | None]] | None:
    """The payout, and when each of its transfers' current key was first sent (None: not yet)."""
    row = (await session.execute(_PAYOUT_LOCKED if lock else _PAYOUT, {"b_cycle_id": cycle_id})).first()
    if row is None:
        return None
    rows = (await session.execute(_TRANSFERS, {"b_cycle_id": cycle_id})).all()
    transfers = tuple(
        PlannedTransfer(
            charge_id=t.charge_id,
            contribution_id=t.contribution_id,
            payment_intent_id=t.payment_intent_id,
            payer_member_id=t.payer_member_id,
            amount=t.amount,
            attempt=t.attempt,
            transfer_id=t.transfer_id,
            created_at_stripe=t.created_at_stripe,
            refused_code=t.refused_code,
        )
        for t in rows
    )
    payout = Payout(
        cycle_id=row.cycle_id,
        group_id=row.group_id,
        cycle_number=row.cycle_number,
        recipient_member_id=row.recipient_member_id,
        connected_account_id=row.connected_account_id,
        currency=row.currency,
        transfer_group=row.transfer_group,
        status=PayoutStatus(row.status),
        round=row.round,
        reason=row.reason,
        held_until=row.held_until,
        transfers=transfers,
    )
    return payout, {t.charge_id: t.first_tried_at for t in rows}


async def save_status(session: AsyncSession, before: Payout, after: Payout, now: datetime) -> None:
    values: dict[str, object] = {
        "status": after.status,
        "round": after.round,
        "reason": after.reason,
        "held_until": after.held_until,
    }
    if after.status is not before.status:
        values["status_since"] = now
    if after.status is PayoutStatus.PAID:
        values["paid_at"] = now
    await session.execute(_SAVE_PAYOUT, {"b_cycle_id": after.cycle_id, **values})


async def mark_tried(session: AsyncSession, cycle_id: UUID, charge_ids: list[str], now: datetime) -> None:
    """When each transfer's current key was first sent: a key older than Stripe keeps keys is looked
    up before it is used again."""
    await session.execute(
        _MARK_TRIED, {"b_cycle_id": cycle_id, "b_charge_ids": charge_ids, "first_tried_at": now}
    )


async def save_transfer(
    session: AsyncSession, cycle_id: UUID, transfer: PlannedTransfer, now: datetime
) -> None:
    values: dict[str, object] = {
        "attempt": transfer.attempt,
        "idempotency_key": transfer.key(cycle_id),
        "refused_code": transfer.refused_code,
        "transfer_id": transfer.transfer_id,
    }
    if transfer.made:
        values["made_at"] = now
        values["created_at_stripe"] = transfer.created_at_stripe
    else:
        values["first_tried_at"] = None  # a new attempt's key was never sent
    await session.execute(
        _SAVE_TRANSFER, {"b_cycle_id": cycle_id, "b_charge_id": transfer.charge_id, **values}
    )


async def waiting_for_account(session: AsyncSession, connected_account_id: str) -> list[UUID]:
    """The account's payouts that wait: paused ones, and held ones (a hold may end meanwhile)."""
    rows = await session.execute(
        select(payouts.c.cycle_id)
        .where(
            payouts.c.connected_account_id == connected_account_id,
            payouts.c.status.in_([PayoutStatus.PAUSED, PayoutStatus.HELD]),
        )
        .order_by(payouts.c.requested_at)
    )
    return list(rows.scalars())
