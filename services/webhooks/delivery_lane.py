"""The short way in for Stripe's deliveries: straight from the server to the endpoint's handler.

Every Stripe event costs the gateway one request, and most of that request's CPU went to the
framework around the handler (FastAPI's exception, exit-stack and body-limit layers, routing,
dependency solving), none of which a delivery uses: the handler reads the raw body itself, needs no
injection and answers every outcome itself. So a delivery POST is handed to the same handler
(`api.receive`) here, before those layers; anything else, including every other method on these
paths, goes the usual way. The routes stay declared in `api.router`, which is what the OpenAPI
document shows and what a delivery would reach without this lane; the tests go through the lane.

Installed inside Starlette's ServerErrorMiddleware, so an unexpected error is still logged and
answered 500 like everywhere else.
"""

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from services.webhooks import api
from services.webhooks.verification import Endpoint


class DeliveryLane:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self._app = app
        self._endpoints = {
            f"{prefix}{api.PLATFORM_PATH}": Endpoint.platform,
            f"{prefix}{api.CONNECT_PATH}": Endpoint.connect,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        response = await api.receive(endpoint, Request(scope, receive))
        await response(scope, receive, send)
