"""A ceiling on request bodies, enforced before they are read: 413 in the one error body.

A body declared larger than the limit (``Content-Length``) is refused before the app sees the
request; a body that arrives in chunks (no length, or a lying one) is counted as it is read, and
the read that crosses the limit fails with 413, so no handler ever holds more than the limit.

FastAPI's own ``max_body_size`` counts too, but answers a declared oversize body only once the
route has run and then in plain text; this refuses it first, and in the shape every refusal has.
"""

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.errors import error_response


class RequestBodyTooLargeError(HTTPException):
    """Raised by the counting ``receive``; FastAPI passes it to the error handlers as any 413."""

    kind = "request_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class RequestBodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise RequestBodyTooLargeError(self._max_bytes)
            return message

        async def noting_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counting_receive, noting_send)
        except RequestBodyTooLargeError:
            # Only an app that reads the body itself, outside FastAPI's handlers, lets it escape.
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = RequestBodyTooLargeError(self._max_bytes)
        # The rest of the body is never handed to the app: once this answer is complete, the server
        # drops what still arrives. (Closing the connection instead would reset it under a client
        # still sending, which then never reads this answer.)
        response = error_response(413, refusal.kind, str(refusal.detail))
        await response(scope, receive, send)
