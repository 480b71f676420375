"""The operator's routes: every payout that waits (paused or held) with why and until when, and
the operator's retry of a paused one. Behind the operator token (``ROSCA_PAYOUTS_OPERATOR_TOKEN``)."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field, SecretStr

from services.payouts.domain.payout import PayoutStatus
from services.payouts.routes.access import documented_errors, service_now
from services.payouts.routes.members import RetryAccepted
from services.payouts.routes.views import PayoutView, payout_view
from services.payouts.service_layer.retries import ask_retry
from services.payouts.settings import PayoutsSettings
from services.payouts.store import bank_payouts, queries
from services.runtime.operator_auth import operator_token_required
from services.runtime.service import RuntimeDep, service_runtime


def _operator_token(request: Request) -> SecretStr | None:
    settings = service_runtime(request.app).settings
    return settings.operator_token if isinstance(settings, PayoutsSettings) else None


router = APIRouter(
    prefix="/operator",
    tags=["operator"],
    dependencies=[Depends(operator_token_required(_operator_token))],
    responses=documented_errors(401, 422, 503),
)


class WaitingPayouts(BaseModel):
    as_of: datetime = Field(description="Now on the service clock.")
    payouts: list[PayoutView] = Field(description="Paused and held payouts, oldest request first, with why.")


@router.get(
    "/waiting-payouts",
    summary="Every paused or held payout, with why and until when",
    response_model=WaitingPayouts,
)
async def waiting_payouts(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Most payouts listed.")] = 500,
) -> WaitingPayouts:
    now = service_now(runtime)
    async with runtime.database.transaction() as session:
        rows = await queries.waiting(session, [PayoutStatus.PAUSED, PayoutStatus.HELD], limit)
        carried = await bank_payouts.of_accounts(
            session, sorted({r.payout["connected_account_id"] for r in rows})
        )
    return WaitingPayouts(as_of=now, payouts=[payout_view(row, carried) for row in rows])


@router.post(
    "/cycles/{cycle_id}/retry",
    summary="An operator retries a paused payout (Stripe decides whether the account can receive)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryAccepted,
    responses=documented_errors(404, 409),
)
async def operator_retry(cycle_id: UUID, runtime: RuntimeDep) -> RetryAccepted:
    now = service_now(runtime)
    async with runtime.database.transaction() as session:
        was = await ask_retry(session, cycle_id, None, "operator", now)
    return RetryAccepted(cycle_id=cycle_id, status=PayoutStatus(was), message="the payout is tried again")
