"""The operator's view of reconciliation runs: each run (a day's or a group's) with its counts, the
newest first, and one run with every difference it found. Behind the operator token, as the stuck
cycles are."""

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from contracts.reconciliation import ReconciliationDifference
from services.collections.routes.access import documented_errors
from services.collections.routes.operator import operator_token
from services.collections.service_layer.reconciliation import difference_model
from services.collections.store import reconciliation as store
from services.runtime.errors import ApiError
from services.runtime.operator_auth import operator_token_required
from services.runtime.service import RuntimeDep

router = APIRouter(
    prefix="/operator/reconciliations",
    tags=["operator"],
    dependencies=[Depends(operator_token_required(operator_token))],
    responses=documented_errors(401, 422, 503),
)


class ReconciliationRun(BaseModel):
    run_id: UUID
    scope: str = Field(description="day or group.")
    day: date | None = Field(description="The day reconciled (Australia/Sydney), for a day's run.")
    group_id: UUID | None = Field(description="The group reconciled, for a group's run.")
    trigger: str = Field(description="schedule (the daily timer), cli (rosca reconcile) or api.")
    started_at: datetime
    completed_at: datetime
    cycles_checked: int
    stripe_objects_read: int
    differences_total: int = Field(description="0: the ledger and Stripe agree to the cent.")
    differences_by_kind: dict[str, int]


class ReconciliationRuns(BaseModel):
    total: int = Field(description="Runs in all pages.")
    runs: list[ReconciliationRun] = Field(description="The newest first.")
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null on the last.")


class ReconciliationRunWithDifferences(ReconciliationRun):
    differences: list[ReconciliationDifference] = Field(
        description="Every difference: expected is the ledger's figure, actual Stripe's, in minor units."
    )


@router.get("", summary="Reconciliation runs, the newest first", response_model=ReconciliationRuns)
async def reconciliation_runs(
    runtime: RuntimeDep,
    *,
    day: Annotated[date | None, Query(description="Only the runs of this day (YYYY-MM-DD).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Runs per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Runs to skip.")] = 0,
) -> ReconciliationRuns:
    async with runtime.database.transaction() as session:
        found, total = await store.runs(session, day=day, limit=limit, offset=offset)
    return ReconciliationRuns(
        total=total,
        runs=[ReconciliationRun(**vars(run)) for run in found],
        next_offset=offset + limit if offset + limit < total else None,
    )


@router.get(
    "/{run_id}",
    summary="One reconciliation run with every difference it found",
    response_model=ReconciliationRunWithDifferences,
    responses=documented_errors(404),
)
async def reconciliation_run(runtime: RuntimeDep, run_id: UUID) -> ReconciliationRunWithDifferences:
    async with runtime.database.transaction() as session:
        found = await store.run_of(session, run_id)
    if found is None:
        raise ApiError(404, "reconciliation_not_found", f"no reconciliation run {run_id}")
    run, differences = found
    return ReconciliationRunWithDifferences(
        **vars(run), differences=[difference_model(difference) for difference in differences]
    )
