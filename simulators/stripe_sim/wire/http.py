"""The ASGI edge: authenticate, decode, validate, apply idempotency, dispatch, answer in JSON.

Deliberately plain ASGI rather than a framework: every API call passes here, and the benchmark
asks for hundreds of create-and-confirm calls a second on one core.
"""

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from simulators.stripe_sim.faults import ApiFault
from simulators.stripe_sim.simulator import RequestOrigin, Simulator
from simulators.stripe_sim.state.idempotency import (
    MAX_KEY_LENGTH,
    SavedResult,
    request_fingerprint,
)
from simulators.stripe_sim.state.ids import new_id
from simulators.stripe_sim.wire import errors
from simulators.stripe_sim.wire.errors import StripeError
from simulators.stripe_sim.wire.expand import check_expand_paths, expand
from simulators.stripe_sim.wire.form import FormDecodingError, decode_form
from simulators.stripe_sim.wire.params import check_params
from simulators.stripe_sim.wire.router import ApiRequest, Route, Router

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Response = tuple[int, list[tuple[bytes, bytes]], bytes]
ControlHandler = Callable[[str, str, dict[str, Any]], Awaitable[Response | None]]
Hook = Callable[[], Awaitable[None]]

JSON_TYPE = (b"content-type", b"application/json")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    encoded = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    return status, [JSON_TYPE, *encoded], json.dumps(body).encode()


class StripeApi:
    def __init__(
        self,
        sim: Simulator,
        router: Router,
        control: ControlHandler,
        on_startup: Hook,
        on_shutdown: Hook,
    ) -> None:
        self._sim = sim
        self._router = router
        self._control = control
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        fault = self._sim.faults.api_fault() if scope["path"].startswith("/v1/") else None
        if fault is ApiFault.RATE_LIMITED:
            status, headers, payload = _rate_limited()
        elif fault is ApiFault.SERVER_ERROR:
            status, headers, payload = _internal_error()
        else:
            status, headers, payload = await self._respond(scope, body)
        # Sized, as Stripe's answers are (not chunked).
        headers = [*headers, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if fault is ApiFault.DROPPED_CONNECTION:
            # The request ran; the connection drops before its answer (the server closes it).
            return
        await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _respond(self, scope: Scope, body: bytes) -> Response:
        method: str = scope["method"].lower()
        path: str = scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        if not path.startswith("/v1/"):
            handled = await self._control(method, path, {"query": query, "body": body})
            if handled is not None:
                return handled
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        request_id = new_id("req", 14)
        try:
            response = await self._api_call(
                method, path, query=query, body=body, headers=headers, request_id=request_id
            )
        except StripeError as failure:
            response = json_response(failure.status, failure.body(), failure.headers)
        except Exception:
            log.exception("unexpected failure in %s %s", method.upper(), path)
            response = _internal_error()
        status, response_headers, payload = response
        response_headers = [
            *response_headers,
            (b"request-id", request_id.encode()),
            (b"stripe-version", headers.get("stripe-version", self._sim.settings.api_version).encode()),
        ]
        return status, response_headers, payload

    async def _api_call(
        self,
        method: str,
        path: str,
        *,
        query: str,
        body: bytes,
        headers: dict[str, str],
        request_id: str,
    ) -> Response:
        _authenticate(headers.get("authorization"))
        _check_version(self._sim, headers.get("stripe-version"))
        matched = self._router.match(method, path)
        if matched is None:
            raise errors.invalid_request(
                f"Unrecognized request URL ({method.upper()}: {path}). Please see "
                "https://stripe.com/docs or we can help at https://support.stripe.com/.",
                status=404,
            )
        route, path_params = matched
        account = _connected_account(self._sim, headers.get("stripe-account"))
        raw = body.decode() if method == "post" else query
        try:
            params = check_params(self._sim.spec, route.schema, decode_form(raw))
        except FormDecodingError as bad_form:
            raise errors.invalid_request(str(bad_form), param=bad_form.param) from None
        check_expand_paths(self._sim.spec, route.response, params.get("expand", []))
        idempotency_key = headers.get("idempotency-key") if method == "post" else None
        request = ApiRequest(
            params,
            {name: unquote(value) for name, value in path_params.items()},
            account,
            request_id,
            idempotency_key,
        )
        if idempotency_key is None:
            return self._execute(route, request)
        return await self._execute_idempotently(route, request, idempotency_key, path)

    async def _execute_idempotently(self, route: Route, request: ApiRequest, key: str, path: str) -> Response:
        sim = self._sim
        if len(key) > MAX_KEY_LENGTH:
            raise errors.invalid_request(
                f"Invalid idempotency key: must be at most {MAX_KEY_LENGTH} characters",
                param="Idempotency-Key",
            )
        scope = request.account or "platform"
        fingerprint = request_fingerprint(route.method, path, request.params)
        now = sim.now().timestamp()
        saved = sim.idempotency.saved(scope, key, now)
        if saved is not None:
            if saved.fingerprint != fingerprint:
                raise errors.idempotency_mismatch(key)
            return (
                saved.status,
                [
                    JSON_TYPE,
                    (b"idempotent-replayed", b"true"),
                    (b"idempotency-key", key.encode()),
                ],
                saved.body,
            )
        if sim.idempotency.is_in_flight(scope, key):
            raise errors.idempotency_in_use(key)
        sim.idempotency.begin(scope, key)
        try:
            if sim.settings.api_delay_seconds > 0:
                await asyncio.sleep(sim.settings.api_delay_seconds)
            try:
                status, headers, payload = self._execute(route, request)
            except StripeError as failure:
                status, headers, payload = json_response(failure.status, failure.body(), failure.headers)
            except Exception:
                log.exception("unexpected failure in %s %s", route.method.upper(), path)
                status, headers, payload = _internal_error()
            # Stripe keeps the first result of any request that started executing, errors too.
            sim.idempotency.save(scope, key, SavedResult(fingerprint, now, status, payload))
            sim.commit()
        finally:
            sim.idempotency.end(scope, key)
        return status, [*headers, (b"idempotency-key", key.encode())], payload

    def _execute(self, route: Route, request: ApiRequest) -> Response:
        sim = self._sim
        origin = RequestOrigin(request.request_id, request.idempotency_key)
        try:
            with sim.handling_request(origin):
                result = route.handler(sim, request)
        finally:
            sim.commit()
        paths: list[str] = request.params.get("expand", [])
        if paths:
            result = expand(
                result,
                paths,
                lambda object_id: _lookup(sim, object_id),
                lambda body, field: self._router.included(sim, body, field),
            )
        return json_response(200, result)


def _lookup(sim: Simulator, object_id: str) -> dict[str, Any] | None:
    stored = sim.objects.get(object_id)
    return stored.body if stored is not None else None


def _authenticate(authorization: str | None) -> None:
    if not authorization:
        raise errors.authentication_failed(
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details."
        )
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            credentials = base64.b64decode(credentials).decode().partition(":")[0]
        except ValueError:
            credentials = ""
    elif scheme.lower() != "bearer":
        credentials = ""
    if not credentials.startswith("sk_test_") or len(credentials) <= len("sk_test_"):
        raise errors.authentication_failed(f"Invalid API Key provided: {_redacted(credentials)}")


def _check_version(sim: Simulator, version: str | None) -> None:
    """Stripe refuses a version it never released; the simulator knows the two it renders."""
    if version is None:
        return
    known = {sim.settings.api_version, sim.spec.version}
    if version not in known:
        raise errors.invalid_request(f"Invalid Stripe API version: {version}")


def _redacted(key: str) -> str:
    return f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}" if len(key) > 12 else key


def _connected_account(sim: Simulator, header: str | None) -> str | None:
    if header is None or header == "":
        return None
    account = sim.objects.get(header, "account")
    if account is None or account.internal.get("deleted"):
        raise errors.StripeError(
            403,
            "invalid_request_error",
            f"The provided key does not have access to account '{header}' (or that account "
            "does not exist). Application access may have been revoked.",
            code="account_invalid",
        )
    return header


def _rate_limited() -> Response:
    error = errors.StripeError(
        429,
        "invalid_request_error",
        "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        code="rate_limit",
        headers={"Stripe-Rate-Limited-Reason": "global-rate"},
    )
    return json_response(error.status, error.body(), error.headers)


def _internal_error() -> Response:
    return json_response(
        500,
        {"error": {"type": "api_error", "message": "An unknown error occurred."}},
        {"Stripe-Should-Retry": "true"},
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
