"""Simulator-only endpoints under `/_sim/`: run due work, move a manual clock, inspect deliveries,
change faults, and the test helpers of `test_helpers.py`.

These are not Stripe's API, so they take no API key; the simulator listens on 127.0.0.1 only.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from simulators.stripe_sim import test_helpers
from simulators.stripe_sim.due_runner import DueWorkRunner
from simulators.stripe_sim.simulator import Simulator
from simulators.stripe_sim.wire.errors import StripeError, invalid_request
from simulators.stripe_sim.wire.http import Response, json_response


@dataclass(frozen=True)
class ControlRequest:
    ids: list[str]  # the path segments matched by `*`
    query: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            decoded = json.loads(self.body)
        except ValueError:
            raise invalid_request("The body must be a JSON object.") from None
        if not isinstance(decoded, dict):
            raise invalid_request("The body must be a JSON object.")
        return decoded


ControlHandler = Callable[[ControlRequest], Awaitable[Response]]


class ControlEndpoints:
    def __init__(self, sim: Simulator, runner: DueWorkRunner) -> None:
        self._sim = sim
        self._runner = runner
        helpers = test_helpers.TestHelpers(sim)
        self._routes: list[tuple[str, tuple[str, ...], ControlHandler]] = [
            ("get", ("health",), self._health),
            ("post", ("run_due",), self._run_due),
            ("post", ("clock", "advance"), self._advance_clock),
            ("get", ("deliveries",), self._deliveries),
            ("get", ("faults",), self._faults),
            ("post", ("faults",), self._change_faults),
            *helpers.routes(),
        ]

    async def __call__(self, method: str, path: str, request: dict[str, Any]) -> Response | None:
        if not path.startswith("/_sim/"):
            return None
        parts = path.removeprefix("/_sim/").split("/")
        query = {key: values[-1] for key, values in parse_qs(request["query"]).items()}
        try:
            for route_method, pattern, handler in self._routes:
                ids = _match(pattern, parts)
                if route_method == method and ids is not None:
                    response = await handler(ControlRequest(ids, query, request["body"]))
                    self._sim.commit()
                    return response
            raise invalid_request(f"Unrecognized simulator URL: {method.upper()} {path}", status=404)
        except StripeError as failure:
            return json_response(failure.status, failure.body())

    async def _health(self, _: ControlRequest) -> Response:
        return json_response(200, {"status": "ok", "now": self._sim.clock.now().isoformat()})

    async def _run_due(self, _: ControlRequest) -> Response:
        ran = await self._runner.run_due(wait=True)
        return json_response(200, {"ran": ran, "now": self._sim.clock.now().isoformat()})

    async def _deliveries(self, request: ControlRequest) -> Response:
        attempts = self._sim.deliveries.attempts(
            event_id=request.query.get("event"), endpoint_id=request.query.get("endpoint")
        )
        return json_response(200, {"data": [vars(attempt) for attempt in attempts]})

    async def _faults(self, _: ControlRequest) -> Response:
        return json_response(200, self._sim.faults.current().model_dump(mode="json"))

    async def _change_faults(self, request: ControlRequest) -> Response:
        try:
            changed = self._sim.faults.change(request.json())
        except ValueError as bad:
            raise invalid_request(f"Invalid faults: {bad}") from None
        return json_response(200, changed.model_dump(mode="json"))

    async def _advance_clock(self, request: ControlRequest) -> Response:
        advance = getattr(self._sim.clock, "advance", None)
        if advance is None:
            raise invalid_request("Only a manual clock (--clock manual) can be advanced here.")
        try:
            seconds = float(request.query["seconds"])
        except (KeyError, ValueError):
            raise invalid_request("Give ?seconds=<number>.", param="seconds") from None
        if seconds < 0:
            raise invalid_request("The clock never moves backwards.", param="seconds")
        advance(timedelta(seconds=seconds))
        ran = await self._runner.run_due(wait=True)
        return json_response(200, {"ran": ran, "now": self._sim.clock.now().isoformat()})


def _match(pattern: tuple[str, ...], parts: list[str]) -> list[str] | None:
    if len(pattern) != len(parts):
        return None
    ids: list[str] = []
    for expected, actual in zip(pattern, parts, strict=True):
        if expected == "*":
            ids.append(actual)
        elif expected != actual:
            return None
    return ids
