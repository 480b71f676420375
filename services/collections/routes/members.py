"""HTTP edge for the calling member's own contributions, across every group they belong to."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.collections.domain.contribution import ContributionStatus
from services.collections.domain.cycle import CycleStatus
from services.collections.routes.access import documented_errors
from services.collections.store import queries
from services.runtime.member_auth import CallerDep
from services.runtime.service import RuntimeDep

router = APIRouter(prefix="/members", tags=["members"], responses=documented_errors(401, 422, 503))


class MyContribution(BaseModel):
    group_id: UUID
    cycle_id: UUID
    cycle_number: int
    cycle_status: CycleStatus
    deadline_on: date = Field(description="The cycle's last collection day.")
    contribution_id: UUID
    amount: int = Field(description="In cents.")
    currency: str
    status: ContributionStatus
    attempts: int = Field(description="Debit attempts so far (0 before the cycle starts).")
    failure_code: str | None = Field(description="Why the latest debit failed (it is the caller's own).")


class MyContributions(BaseModel):
    contributions: list[MyContribution] = Field(
        description="Ordered by contribution id (stable across pages)."
    )
    next_after: UUID | None = Field(description="Pass as ?after= for the next page; null on the last.")


@router.get(
    "/me/contributions",
    summary="The caller's contributions in every group, a page at a time",
    response_model=MyContributions,
)
async def my_contributions(
    caller: CallerDep,
    runtime: RuntimeDep,
    *,
    limit: Annotated[int, Query(ge=1, le=500, description="Contributions per page.")] = 100,
    after: Annotated[UUID | None, Query(description="The previous page's next_after.")] = None,
) -> MyContributions:
    async with runtime.database.transaction() as session:
        rows = await queries.contributions_of_member(session, caller.member_id, after=after, limit=limit + 1)
    page = rows[:limit]
    return MyContributions(
        contributions=[
            MyContribution(
                group_id=row.group_id,
                cycle_id=row.cycle_id,
                cycle_number=row.cycle_number,
                cycle_status=CycleStatus(row.cycle_status),
                deadline_on=row.deadline_on,
                contribution_id=row.contribution_id,
                amount=row.amount,
                currency=row.currency,
                status=ContributionStatus(row.status),
                attempts=row.attempt,
                failure_code=row.failure_code,
            )
            for row in page
        ],
        next_after=page[-1].contribution_id if len(rows) > limit else None,
    )
