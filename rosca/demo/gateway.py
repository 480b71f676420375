"""The gateway API as a frontend calls it: one member's signed-in session."""

from typing import Any

import httpx

from rosca.errors import CliError

CREATED = (200, 201, 202)


class ApiRefusedError(CliError):
    """The API answered a call of the demo with a status the script did not expect."""


class MemberSession:
    """Calls of one member, with their token, through the gateway."""

    def __init__(self, client: httpx.Client, member_id: str, token: str) -> None:
        self.member_id = member_id
        self._client = client
        self._headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, expect=(200,), params=params or None)

    def post(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        expect: tuple[int, ...] = CREATED,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call("POST", path, expect=expect, json=body, headers=headers)

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, expect=(200,), json=body)

    def _call(
        self,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...],
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> Any:
        response = self._client.request(method, path, headers={**self._headers, **(headers or {})}, **options)
        if response.status_code not in expect:
            raise ApiRefusedError(
                f"{method} {path} as {self.member_id} answered {response.status_code}: {response.text[:500]}"
            )
        return response.json() if response.content else None
