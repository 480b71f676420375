"""The HTTP edge's one error shape, for every refusal of every route.

Every error is ``{"error": {"type", "message"}}`` (plus ``problems`` naming each bad field), with
the status a client can act on: 401 token, 403 not the admin, 404 not yours or not there,
409 not in this state, 422 bad input, 502/503 Stripe or token keys unreachable.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from services.onboarding.auth import AuthenticationUnavailableError, TokenRejectedError
from services.onboarding.domain import group_terms, payout_order
from services.onboarding.domain import groups as group_rules
from services.onboarding.domain.errors import DomainError
from services.onboarding.domain.members import (
    MemberNotRegisteredError,
    SetupIntentClosedError,
    SetupIntentNotFoundError,
)
from services.onboarding.stripe import StripeRejectedError, StripeUnavailableError

_STATUS: dict[type[DomainError], int] = {
    MemberNotRegisteredError: 404,
    SetupIntentNotFoundError: 404,
    SetupIntentClosedError: 409,
    group_rules.GroupNotFoundError: 404,
    group_rules.NotGroupAdminError: 403,
    group_rules.GroupFullError: 409,
    group_rules.GroupLockedError: 409,
    group_rules.AdminCannotLeaveError: 409,
    group_terms.InvalidGroupError: 422,
    payout_order.InvalidPayoutOrderError: 422,
    payout_order.SlotTakenError: 409,
    payout_order.WrongPayoutOrderMethodError: 409,
}


class Problem(BaseModel):
    field: str = Field(description="Where the problem is, e.g. 'size' or 'policy.attempt_limit'.")
    message: str = Field(description="What is wrong, in words a member can act on.")


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable code, e.g. invalid_group, group_full, token_expired.")
    message: str = Field(description="What went wrong.")
    problems: list[Problem] | None = Field(default=None, description="Each bad field, for invalid input.")


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {
    400: "The body is not JSON.",
    401: "No token, or one that is expired, wrongly signed or for another audience.",
    403: "Only the group's admin may do this.",
    404: "Not registered yet, or no such group (or SetupIntent) of the caller's.",
    409: "Not possible in the current state (group full or started, slot taken, …).",
    422: "Invalid input; `problems` names each field.",
    502: "Stripe did not answer as expected; the same request may be retried.",
    503: "Tokens cannot be verified now.",
}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a router's routes give, for its OpenAPI document."""
    return {status: {"model": ErrorBody, "description": _MEANING[status]} for status in statuses}


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _refused)
    app.add_exception_handler(TokenRejectedError, _token_rejected)
    app.add_exception_handler(AuthenticationUnavailableError, _authentication_unavailable)
    app.add_exception_handler(StripeRejectedError, _stripe_rejected)
    app.add_exception_handler(StripeUnavailableError, _stripe_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)


def error_response(
    status: int,
    kind: str,
    message: str,
    problems: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(type=kind, message=message, problems=problems))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _refused(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    problems = (
        [Problem(field=p.field, message=p.message) for p in error.problems]
        if isinstance(error, group_terms.InvalidGroupError)
        else None
    )
    return error_response(_STATUS.get(type(error), 409), error.kind, str(error), problems)


async def _token_rejected(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TokenRejectedError)
    challenge = f'Bearer error="invalid_token", error_description="{error}"'
    return error_response(401, error.kind, str(error), headers={"WWW-Authenticate": challenge})


async def _authentication_unavailable(_request: Request, error: Exception) -> JSONResponse:
    return error_response(503, "authentication_unavailable", str(error))


async def _stripe_rejected(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StripeRejectedError)
    problems = [Problem(field=error.param, message=str(error))] if error.param else None
    return error_response(422, "stripe_rejected", f"Stripe refused: {error}", problems)


async def _stripe_unavailable(_request: Request, error: Exception) -> JSONResponse:
    return error_response(
        502, "stripe_unavailable", f"Stripe did not answer as expected; try again ({error})"
    )


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        Problem(field=".".join(str(part) for part in problem["loc"]), message=problem["msg"])
        for problem in error.errors()
    ]
    return error_response(422, "invalid_request", "the request is not valid", problems)


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own refusals (a body that is not JSON, an unknown path) in the same shape."""
    assert isinstance(error, HTTPException)
    kinds = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
    return error_response(
        error.status_code,
        kinds.get(error.status_code, "http_error"),
        str(error.detail),
        headers=dict(error.headers) if error.headers else None,
    )
