"""The operator view of timers: by status, target subject and due time, a page at a time."""

import hmac
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.runtime.service import RuntimeDep
from services.scheduler.db import InvalidCursorError, PageCursor, TimerQuery, TimerStore
from services.scheduler.domain import Timer, TimerStatus
from services.scheduler.settings import SchedulerSettings

router = APIRouter(tags=["timers"])

_bearer = HTTPBearer(auto_error=False, description="The operator token (ROSCA_SCHEDULER_OPERATOR_TOKEN).")


class ApiError(Exception):
    def __init__(self, status_code: int, kind: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.kind = kind
        self.message = message
        self.headers = headers


async def api_error_response(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return JSONResponse(
        {"error": {"type": error.kind, "message": error.message}},
        status_code=error.status_code,
        headers=error.headers,
    )


def get_settings(request: Request) -> SchedulerSettings:
    settings: SchedulerSettings = request.app.state.scheduler_settings
    return settings


SettingsDep = Annotated[SchedulerSettings, Depends(get_settings)]


def require_operator(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    if settings.operator_token is None:
        raise ApiError(503, "operator_token_not_configured", "operator token not configured")
    expected = settings.operator_token.get_secret_value().encode()
    presented = credentials.credentials.encode() if credentials is not None else b""
    # Constant time: how much of a guess matched must not show in the response time.
    if not hmac.compare_digest(presented, expected):
        raise ApiError(
            401, "unauthorized", "a valid operator bearer token is required", {"WWW-Authenticate": "Bearer"}
        )


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
