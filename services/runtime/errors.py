"""The one error body of every service's HTTP edge, for every 4xx and 5xx.

Every refusal is ``{"error": {"type", "message", "problems"?}}``: ``type`` a stable code a client
can branch on, ``problems`` each offending field (``{"field", "message"}``) when the input is at
fault. ``install_error_handlers`` gives a service app that shape for FastAPI's own refusals
(validation, malformed JSON, unknown route or method) and for ``ApiError``; a service maps its
domain errors to statuses with ``refuse_domain_errors``.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class Problem(BaseModel):
    field: str = Field(description="Where the problem is, e.g. 'size', 'policy.attempt_limit' or 'body'.")
    message: str = Field(description="What is wrong, in words a caller can act on.")


class ErrorDetail(BaseModel):
    type: str = Field(description="A stable code, e.g. invalid_request, malformed_json, group_full.")
    message: str = Field(description="What went wrong.")
    problems: list[Problem] | None = Field(
        default=None,
        description="Each bad field of invalid input, or each thing standing in the way of a refused action.",
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """A refusal the edge answers as it is: its status, ``kind`` (the body's ``type``) and message."""

    def __init__(
        self,
        status_code: int,
        kind: str,
        message: str,
        *,
        problems: Sequence[Problem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.kind = kind
        self.message = message
        self.problems = tuple(problems)
        self.headers = dict(headers) if headers else None


class FieldProblem(Protocol):
    """A bad field as a service's domain error names it."""

    @property
    def field(self) -> str: ...

    @property
    def message(self) -> str: ...


# What each status means to a client, for the OpenAPI document; a service may say it its own way.
MEANINGS: dict[int, str] = {
    400: "The body is not JSON (malformed_json), or the request cannot be read.",
    401: "No token, or one that is expired, wrongly signed or for another audience.",
    403: "Not allowed to the caller.",
    404: "No such thing (of the caller's), or no such route.",
    409: "Not possible in the current state.",
    413: "The request body is larger than this service accepts.",
    422: "Invalid input; `problems` names each field.",
    502: "Stripe did not answer as expected; the same request may be retried.",
    503: "A dependency (token keys, Stripe, the database) is unavailable now; retry later.",
}

_KIND_OF_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


def documented_errors(*statuses: int, meanings: Mapping[int, str] | None = None) -> dict[int | str, Any]:
    """The error answers a router's routes give, for its OpenAPI document."""
    said = {**MEANINGS, **(meanings or {})}
    return {status: {"model": ErrorBody, "description": said[status]} for status in statuses}


def error_body(kind: str, message: str, problems: Iterable[Problem] = ()) -> dict[str, Any]:
    listed = list(problems)
    detail = ErrorDetail(type=kind, message=message, problems=listed or None)
    return ErrorBody(error=detail).model_dump(exclude_none=True)


def error_response(
    status: int,
    kind: str,
    message: str,
    problems: Iterable[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(kind, message, problems), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal of ``app`` in the one shape; an unexpected error is logged and answered 500."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


def refuse_domain_errors(
    app: FastAPI,
    base: type[Exception],
    statuses: Mapping[type[Exception], int],
    *,
    default_status: int = 409,
) -> None:
    """Answer each ``base`` error with its status in ``statuses``.

    The most specific class listed wins; an error of a class not listed gets ``default_status``.
    Its ``kind`` is the body's ``type``; its ``problems`` (items with ``field`` and ``message``),
    if it has any, are the body's ``problems``.
    """

    async def refused(_request: Request, error: Exception) -> JSONResponse:
        status = next(
            (statuses[cls] for cls in type(error).__mro__ if cls in statuses),
            default_status,
        )
        problems: Iterable[FieldProblem] = getattr(error, "problems", ())
        return error_response(
            status,
            str(getattr(error, "kind", "refused")),
            str(error),
            [Problem(field=p.field, message=p.message) for p in problems],
        )

    app.add_exception_handler(base, refused)


async def _api_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status_code, error.kind, error.message, error.problems, error.headers)


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    malformed = [problem for problem in problems if problem.get("type") == "json_invalid"]
    if malformed:
        # FastAPI reports a body that does not parse as a 422 at loc ("body", <offset>): it is a
        # 400, and the field at fault is the body itself.
        where = malformed[0]["loc"][-1]
        reason = malformed[0].get("ctx", {}).get("error", "not JSON")
        return error_response(
            400,
            "malformed_json",
            "the body is not valid JSON",
            [Problem(field="body", message=f"{reason} at character {where}")],
        )
    return error_response(
        422,
        "invalid_request",
        "the request is not valid",
        # Where, as FastAPI locates it: body.policy.attempt_limit, query.limit, path.group_id.
        [
            Problem(field=".".join(str(part) for part in problem["loc"]), message=problem["msg"])
            for problem in problems
        ],
    )


async def _http_error(_request: Request, error: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own refusals (unknown path or method, too large) in the one shape."""
    assert isinstance(error, HTTPException)
    kind = getattr(error, "kind", None) or _KIND_OF_STATUS.get(error.status_code, "http_error")
    return error_response(
        error.status_code,
        kind,
        str(error.detail),
        headers=dict(error.headers) if error.headers else None,
    )


async def _internal_error(_request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=error)
    return error_response(500, "internal_error", "internal error")
