"""A person's retry of a waiting payout (the group's admin, or an operator): checked here, then
sent to the payout's own consumer as ``payouts.cmd.retry_payout`` (forced: Stripe decides whether
the account can receive), so it is decided under the payout's lock like every other step."""

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import subjects
from contracts.payouts import RetryPayout
from services.payouts.domain.payout import PayoutStatus
from services.payouts.service_layer import outgoing
from services.payouts.store import payouts as store
from services.runtime.errors import ApiError


async def ask_retry(
    session: AsyncSession, cycle_id: UUID, group_id: UUID | None, who: str, now: datetime
) -> str:
    payout = await store.load(session, cycle_id, lock=False)
    if payout is None or (group_id is not None and payout.group_id != group_id):
        raise ApiError(404, "payout_not_found", f"no payout of cycle {cycle_id}")
    if payout.status is not PayoutStatus.PAUSED:
        raise ApiError(
            409,
            "payout_not_paused",
            f"the payout of cycle {cycle_id} is {payout.status}"
            + (f" ({payout.reason})" if payout.reason else "")
            + ": only a paused payout can be retried",
        )
    retry = RetryPayout(
        message_id=uuid4(),  # each request is its own retry
        occurred_at=now,
        correlation_id=str(cycle_id),
        causation_id=None,
        cycle_id=cycle_id,
        reason=f"{who}_retry",
        force=True,
    )
    await outgoing.send(session, subjects.PAYOUTS_RETRY_PAYOUT, retry)
    return payout.status
