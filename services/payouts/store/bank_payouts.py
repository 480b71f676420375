"""The recipients' bank payouts as Stripe reported them."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.payouts.domain.bank_payouts import BankPayout, BankPayoutStatus
from services.payouts.store.tables import bank_payouts


async def load(session: AsyncSession, payout_id: str) -> BankPayout | None:
    query = select(bank_payouts).where(bank_payouts.c.payout_id == payout_id).with_for_update()
    row = (await session.execute(query)).first()
    return _bank_payout(row) if row is not None else None


async def save(session: AsyncSession, payout: BankPayout) -> None:
    values = {
        "connected_account_id": payout.connected_account_id,
        "amount": payout.amount,
        "currency": payout.currency,
        "status": payout.status,
        "failure_code": payout.failure_code,
        "failure_message": payout.failure_message,
        "arrival_date": payout.arrival_date,
        "created": payout.created,
        "as_of": payout.as_of,
    }
    await session.execute(
        insert(bank_payouts)
        .values(payout_id=payout.payout_id, **values)
        .on_conflict_do_update(index_elements=["payout_id"], set_=values)
    )


async def of_accounts(session: AsyncSession, account_ids: list[str]) -> list[BankPayout]:
    """The accounts' bank payouts, oldest first."""
    rows = await session.execute(
        select(bank_payouts)
        .where(bank_payouts.c.connected_account_id.in_(account_ids))
        .order_by(bank_payouts.c.created, bank_payouts.c.payout_id)
    )
    return [_bank_payout(row) for row in rows]


def _bank_payout(row: object) -> BankPayout:
    values = row._mapping  # type: ignore[attr-defined]
    return BankPayout(
        payout_id=values["payout_id"],
        connected_account_id=values["connected_account_id"],
        amount=values["amount"],
        currency=values["currency"],
        status=BankPayoutStatus(values["status"]),
        failure_code=values["failure_code"],
        failure_message=values["failure_message"],
        arrival_date=values["arrival_date"],
        created=values["created"],
        as_of=values["as_of"],
    )
