"""Run the simulator in a background thread on a random 127.0.0.1 port, for SDK-driven tests.

Every /v1/ response is checked against Stripe's OpenAPI response schema on its way out; a
violation turns the response into a 500 naming it, so the SDK call in the test fails loudly.
"""

import atexit
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import stripe
import uvicorn

from services.runtime.clock import FixedClock
from simulators.stripe_sim.main import StripeSimulatorApp, create_app
from simulators.stripe_sim.settings import StripeSimSettings
from tests.integration.stripe_sim.stripe_schema_check import stripe_schemas

API_KEY = "sk_test_simulator"
# A Monday, 11:00 in Melbourne: inside business hours and before the BECS cut-off.
SIMULATION_START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


class SchemaCheckingApp:
    def __init__(self, app: StripeSimulatorApp) -> None:
        self._app = app
        self.violations: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self._app(scope, receive, send)
            return
        held: list[dict[str, Any]] = []

        async def hold(message: dict[str, Any]) -> None:
            held.append(message)

        await self._app(scope, receive, hold)
        if len(held) < 2:  # a dropped connection (a fault): no body to check
            for message in held:
                await send(message)
            return
        start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
        problems = self._check(scope["method"].lower(), scope["path"], start["status"], body)
        if problems:
            self.violations.extend(problems)
            body = json.dumps(
                {"error": {"type": "api_error", "message": "schema: " + "; ".join(problems)}}
            ).encode()
            start = {**start, "status": 500}
        await send(start)
        await send({"type": "http.response.body", "body": body})

    def _check(self, method: str, path: str, status: int, body: bytes) -> list[str]:
        matched = self._app.router.match(method, path)
        if matched is None:
            return []
        route, _ = matched
        return stripe_schemas().violations_of_response(method, route.template, status, json.loads(body))


@dataclass
class RunningSimulator:
    app: StripeSimulatorApp
    checker: SchemaCheckingApp
    clock: FixedClock
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread
    # One kept-alive client: making an httpx client per call costs ~20 ms (its TLS context).
    control: httpx.Client = field(default_factory=httpx.Client)

    def client(self, **options: Any) -> stripe.StripeClient:
        return stripe.StripeClient(
            API_KEY,
            base_addresses={"api": self.base_url, "connect": self.base_url, "files": self.base_url},
            **options,
        )

    def run_due(self) -> int:
        ran: int = self.control.post(f"{self.base_url}/_sim/run_due").json()["ran"]
        return ran

    def advance(self, delta: timedelta) -> None:
        """Move simulated time and wait until everything due up to then has happened."""
        self.clock.advance(delta)
        self.run_due()

    def deliveries(self, event_id: str | None = None) -> list[dict[str, Any]]:
        params = {"event": event_id} if event_id else {}
        data: list[dict[str, Any]] = self.control.get(
            f"{self.base_url}/_sim/deliveries", params=params
        ).json()["data"]
        return data

    def deactivate_mandate(self, mandate_id: str) -> None:
        self.control.post(f"{self.base_url}/_sim/mandates/{mandate_id}/deactivate").raise_for_status()

    def fail_refund(self, refund_id: str, reason: str) -> None:
        self.control.post(
            f"{self.base_url}/_sim/refunds/{refund_id}/fail", params={"reason": reason}
        ).raise_for_status()

    def faults(self, **changes: Any) -> dict[str, Any]:
        """Change the faults at run time (`POST /_sim/faults`); returns them all."""
        response = self.control.post(f"{self.base_url}/_sim/faults", json=changes)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def helper(self, path: str, **params: str) -> dict[str, Any]:
        """POST a `/_sim/` test helper, e.g. ``helper("accounts/acct_1/restrict")``."""
        response = self.control.post(f"{self.base_url}/_sim/{path}", params=params)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.control.close()


def start_simulator(data_dir: Path | None = None, **settings: Any) -> RunningSimulator:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, a response's header and body writes wait
    # on the client's delayed ACK (40 ms a request on a kept-alive connection).
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    clock = FixedClock(settings.pop("start", SIMULATION_START))
    settings.setdefault("rate_limit_ops_per_second", 0.0)
    app = create_app(
        StripeSimSettings(port=port, data_dir=data_dir, fast_settle_seconds=2.0, **settings),
        clock=clock,
    )
    checker = SchemaCheckingApp(app)
    server = uvicorn.Server(uvicorn.Config(checker, lifespan="on", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    return RunningSimulator(app, checker, clock, f"http://127.0.0.1:{port}", server, thread)


@cache
def shared_simulator() -> RunningSimulator:
    """One simulator for the tests that need no special settings; their data never overlaps."""
    running = start_simulator()
    atexit.register(running.stop)
    return running


@dataclass
class ReceivedWebhook:
    body: bytes
    signature: str


@dataclass
class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 recording what the simulator posts to it."""

    server: ThreadingHTTPServer
    received: list[ReceivedWebhook] = field(default_factory=list)
    failures_to_answer: int = 0
    answer_after_seconds: float = 0.0
    requests_seen: int = 0

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks"

    def wait_for(
        self, predicate: Callable[[list[ReceivedWebhook]], bool], timeout: float = 5.0
    ) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        while not predicate(list(self.received)):
            if time.monotonic() > deadline:
                raise AssertionError(f"webhooks never arrived; got {len(self.received)}")
            time.sleep(0.02)
        return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_webhook_receiver() -> WebhookReceiver:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.requests_seen += 1
            time.sleep(receiver.answer_after_seconds)
            if receiver.failures_to_answer > 0:
                receiver.failures_to_answer -= 1
                self.send_response(500)
            else:
                receiver.received.append(ReceivedWebhook(body, self.headers["Stripe-Signature"]))
                self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
