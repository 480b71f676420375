"""The operator view of timers: by status, target subject and due time, a page at a time."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.runtime.errors import ApiError
from services.runtime.operator_auth import operator_token_required
from services.runtime.service import RuntimeDep
from services.scheduler.db import InvalidCursorError, PageCursor, TimerQuery, TimerStore
from services.scheduler.domain import Timer, TimerStatus
from services.scheduler.settings import SchedulerSettings

router = APIRouter(tags=["timers"])


def get_settings(request: Request) -> SchedulerSettings:
    settings: SchedulerSettings = request.app.state.scheduler_settings
    return settings


require_operator = operator_token_required(lambda request: get_settings(request).operator_token)


class TimerView(BaseModel):
    model_config = ConfigDict(frozen=True)

    timer_id: str = Field(description="The caller-chosen id.")
    status: TimerStatus = Field(description="pending, fired or cancelled.")
    due_at: datetime | None = Field(description="When it fires; null for a cancel that came first.")
    target_subject: str | None = Field(description="Where the payload is published when due.")
    payload: dict[str, Any] | None = Field(description="What is published when due.")
    generation: int = Field(description="1 when set, plus one for each move; 0 for a tombstone.")
    correlation_id: str = Field(description="The business thread, from the last command applied.")
    scheduled_by: UUID | None = Field(description="message_id of the schedule command last applied.")
    created_at: datetime = Field(description="When the scheduler first heard of the timer.")
    fired_at: datetime | None = Field(description="When it fired, on the service clock.")
    cancelled_at: datetime | None = Field(description="When it was cancelled.")

    @classmethod
    def of(cls, timer: Timer) -> "TimerView":
        return cls(
            timer_id=timer.timer_id,
            status=timer.status,
            due_at=timer.due_at,
            target_subject=timer.target_subject,
            payload=dict(timer.payload) if timer.payload is not None else None,
            generation=timer.generation,
            correlation_id=timer.correlation_id,
            scheduled_by=timer.scheduled_by,
            created_at=timer.created_at,
            fired_at=timer.fired_at,
            cancelled_at=timer.cancelled_at,
        )


class TimerPageView(BaseModel):
    timers: list[TimerView] = Field(
        description="Ordered by due time (tombstones of cancels that came first last), then by id."
    )
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last.")


@router.get(
    "/timers",
    summary="Timers by status, target subject and due time",
    dependencies=[Depends(require_operator)],
    response_model=TimerPageView,
)
async def list_timers(
    runtime: RuntimeDep,
    *,
    status: Annotated[TimerStatus | None, Query(description="Only timers in this status.")] = None,
    subject: Annotated[str | None, Query(max_length=200, description="Only this target subject.")] = None,
    due_from: Annotated[AwareDatetime | None, Query(description="Due at or after this time.")] = None,
    due_before: Annotated[AwareDatetime | None, Query(description="Due before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Timers per page.")] = 100,
    cursor: Annotated[str | None, Query(max_length=1000, description="The last page's next_cursor.")] = None,
) -> TimerPageView:
    try:
        after = PageCursor.decode(cursor) if cursor is not None else None
    except InvalidCursorError as error:
        raise ApiError(400, "invalid_cursor", str(error)) from None
    query = TimerQuery(
        limit=limit,
        status=status,
        target_subject=subject,
        due_from=due_from,
        due_before=due_before,
        after=after,
    )
    async with runtime.database.transaction() as session:
        page = await TimerStore(session).page(query)
    return TimerPageView(
        timers=[TimerView.of(timer) for timer in page.timers],
        next_cursor=page.next_cursor.encode() if page.next_cursor is not None else None,
    )
