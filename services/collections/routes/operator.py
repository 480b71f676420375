"""The operator's view of stuck cycles: unfinished cycles overdue in their status, by how long and
why, a page at a time. Behind the operator token (``ROSCA_COLLECTIONS_OPERATOR_TOKEN``)."""

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, SecretStr

from services.collections.domain.cycle import CycleStatus
from services.collections.domain.stuck import overdue
from services.collections.routes.access import documented_errors, service_now
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS
from services.collections.settings import CollectionsSettings
from services.collections.store import queries
from services.runtime.operator_auth import operator_token_required
from services.runtime.service import RuntimeDep, service_runtime


def operator_token(request: Request) -> SecretStr | None:
    settings = service_runtime(request.app).settings
    return settings.operator_token if isinstance(settings, CollectionsSettings) else None


router = APIRouter(
    prefix="/operator",
    tags=["operator"],
    dependencies=[Depends(operator_token_required(operator_token))],
    responses=documented_errors(401, 422, 503),
)


class StuckCycle(BaseModel):
    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    status: CycleStatus
    status_since: datetime = Field(description="When the cycle entered its status (service clock).")
    in_status_seconds: int = Field(description="How long it has been in its status.")
    expected_by: datetime = Field(
        description="When it should have moved on: its start time (scheduled), its deadline "
        "(collecting), entering the status (funded, paying_out, payout_paused), or 5 BECS business "
        "days after it (cancelling: refunds settle in 3 to 5)."
    )
    overdue_seconds: int = Field(description="How long past expected_by.")
    reason: str = Field(description="What it is waiting for, in words.")
    waiting_for_members: list[str] = Field(
        description="Members whose contribution holds it (unpaid while collecting, unrefunded while "
        "cancelling); empty otherwise."
    )


class StuckCycles(BaseModel):
    as_of: datetime = Field(description="Now on the service clock (simulated in development).")
    older_than_seconds: int = Field(description="Only cycles overdue by more than this.")
    total: int = Field(description="Stuck cycles in all pages.")
    cycles: list[StuckCycle] = Field(description="The most overdue first.")
    next_offset: int | None = Field(description="Pass as ?offset= for the next page; null on the last.")


@router.get(
    "/stuck-cycles",
    summary="Unfinished cycles overdue in their status, with how long and why",
    response_model=StuckCycles,
)
async def stuck_cycles(
    runtime: RuntimeDep,
    *,
    older_than: Annotated[
        timedelta,
        Query(
            ge=timedelta(0),
            description="Grace past when a cycle should have moved on, as an ISO 8601 duration "
            "(PT6H, P2D); not negative.",
        ),
    ] = timedelta(hours=1),
    limit: Annotated[int, Query(ge=1, le=500, description="Cycles per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Cycles to skip.")] = 0,
) -> StuckCycles:
    now = service_now(runtime)
    cutoff = now - older_than
    async with runtime.database.transaction() as session:
        candidates = await queries.cycles_possibly_overdue(session, cutoff)
    found = []
    for cycle in candidates:
        late = overdue(cycle.state, cycle.status_since, BUSINESS_DAYS)
        if late is None or late.expected_by > cutoff:
            continue
        found.append(
            StuckCycle(
                group_id=cycle.group_id,
                cycle_id=cycle.state.plan.cycle_id,
                cycle_number=cycle.state.plan.cycle_number,
                status=cycle.state.status,
                status_since=cycle.status_since,
                in_status_seconds=_seconds(now - cycle.status_since),
                expected_by=late.expected_by,
                overdue_seconds=_seconds(now - late.expected_by),
                reason=late.reason,
                waiting_for_members=list(late.waiting_for),
            )
        )
    found.sort(key=lambda stuck: (stuck.expected_by, str(stuck.cycle_id)))
    page = found[offset : offset + limit]
    return StuckCycles(
        as_of=now,
        older_than_seconds=_seconds(older_than),
        total=len(found),
        cycles=page,
        next_offset=offset + limit if offset + limit < len(found) else None,
    )


def _seconds(duration: timedelta) -> int:
    return int(duration.total_seconds())
