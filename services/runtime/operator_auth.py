"""Bearer-token check for a service's operator endpoints.

The token comes from the service's settings and has no default: while it is unset, the endpoints
answer 503 (never open by accident); a missing or wrong token gets 401.
"""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from services.runtime.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="The service's operator token.")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def check_operator_token(expected: SecretStr | None, presented: str | None) -> None:
    """Raise 503 when no token is configured, 401 unless ``presented`` is the configured one."""
    if expected is None or not expected.get_secret_value():
        raise ApiError(503, "operator_token_not_configured", "operator token not configured")
    wanted = expected.get_secret_value().encode()
    given = (presented or "").encode()
    # Constant time: how much of a guess matched must not show in the response time.
    if not hmac.compare_digest(given, wanted):
        raise ApiError(
            401,
            "unauthorized",
            "a valid operator bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )


def operator_token_required(token_of: Callable[[Request], SecretStr | None]) -> Callable[..., None]:
    """A FastAPI dependency checking the bearer token against ``token_of(request)``."""

    def require_operator(request: Request, credentials: Credentials) -> None:
        check_operator_token(token_of(request), credentials.credentials if credentials else None)

    return require_operator
