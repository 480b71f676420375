"""The Stripe simulator as its own process, noting every API request it answers, for benchmarks.

``python -m benchmarks.recorded_stripe_sim --port P [--rate-limit-ops-per-second N]``

Each ``/v1/`` request is noted with its wall-clock arrival, method, path and status (a 429 of the
rate limit included); ``GET /_bench/requests`` answers them all as JSON, oldest first, and
``GET /_bench/idempotency_keys`` the arrival and ``Idempotency-Key`` of every request that carried
one (which cycle a transfer was for is in its key). What a
benchmark counts is then what the simulator, standing in for Stripe, actually received: the services'
retries and rate-limited tries included, nothing the services only meant to send.
"""

import argparse
import json
import time
from typing import Any

import uvicorn

from services.runtime.memory import freeze_long_lived_objects
from simulators.stripe_sim.main import create_app
from simulators.stripe_sim.settings import StripeSimSettings

REQUESTS_PATH = "/_bench/requests"
KEYS_PATH = "/_bench/idempotency_keys"


class RequestLog:
    """ASGI middleware: the simulator's API requests, as (arrived, method, path, status)."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self.requests: list[tuple[float, str, str, int]] = []
        self.keys: list[tuple[float, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in (REQUESTS_PATH, KEYS_PATH):
            await self._answer(send, self.requests if scope["path"] == REQUESTS_PATH else self.keys)
            return
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self._app(scope, receive, send)
            return
        arrived = time.time()
        status = 0
        for name, value in scope["headers"]:
            if name == b"idempotency-key":
                self.keys.append((arrived, value.decode()))

        async def noting_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, noting_status)
        finally:
            self.requests.append((arrived, scope["method"], scope["path"], status))

    async def _answer(self, send: Any, noted: list[Any]) -> None:
        body = json.dumps(noted).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--rate-limit-ops-per-second", type=float, default=0.0, help="0 = off (changeable: POST /_sim/faults)"
    )
    options = parser.parse_args()
    settings = StripeSimSettings(
        host="127.0.0.1", port=options.port, rate_limit_ops_per_second=options.rate_limit_ops_per_second
    )
    app = RequestLog(create_app(settings))
    freeze_long_lived_objects()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
