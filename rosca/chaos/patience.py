"""Talking to a stack whose processes are being killed: calls that wait for it to come back.

A request the gateway answers 5xx, or that loses its connection, is sent again until the stack
answers or the patience runs out: the process behind it is being started again. The clock is moved
*to* a moment rather than *by* a step, so a move retried after a failure never moves it twice.
"""

import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import httpx

from rosca.demo.simulator import StripeSimulator
from rosca.demo.time_machine import TimeMachine
from rosca.errors import CliError

PATIENCE_SECONDS = 180.0
RETRY_PAUSE_SECONDS = 0.5

T = TypeVar("T")


class PatientTransport(httpx.HTTPTransport):
    """Sends a request again while it fails to connect, loses its answer, or is answered 5xx.

    Only for calls that are safe to repeat, which every call of the chaos run is: the API's writes
    it makes are idempotent, or checked before they are made again (see ``circles.py``).
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + PATIENCE_SECONDS
        while True:
            try:
                response = super().handle_request(request)
                # Read here: a connection lost while the body comes is a failure to send again too.
                response.read()
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
            else:
                if response.status_code < 500 or time.monotonic() > deadline:
                    return response
                response.close()
            time.sleep(RETRY_PAUSE_SECONDS)


def patiently(call: Callable[[], T], what: str, *, seconds: float = PATIENCE_SECONDS) -> T:
    """``call()`` again after any failure, until it succeeds or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except Exception as error:
            if time.monotonic() > deadline:
                raise CliError(f"gave up on {what} after {seconds:g} s: {error}") from error
        time.sleep(RETRY_PAUSE_SECONDS * 2)


class PatientClock:
    """The demo's time machine, made again whenever NATS or the simulator went away under it."""

    def __init__(self, nats_url: str, namespace: str, simulator_url: str) -> None:
        self._nats_url = nats_url
        self._namespace = namespace
        self._simulator_url = simulator_url
        self._machine: TimeMachine | None = None
        self._simulator: StripeSimulator | None = None

    def now(self) -> datetime:
        return patiently(lambda: self._time_machine().now(), "reading the clock", seconds=PATIENCE_SECONDS)

    def move_to(self, moment: datetime) -> datetime:
        """The clock at ``moment`` (or later), every timer due fired and the stack quiet again."""

        def move() -> datetime:
            machine = self._time_machine()
            try:
                return machine.advance(max(moment - machine.now(), timedelta(0)))
            except Exception:
                self._forget_machine()
                raise

        return patiently(move, f"moving the clock to {moment.isoformat()}")

    def close(self) -> None:
        self._forget_machine()

    def _time_machine(self) -> TimeMachine:
        if self._machine is None:
            self._simulator = StripeSimulator(self._simulator_url)
            machine = TimeMachine(self._nats_url, self._namespace, self._simulator)
            try:
                machine.__enter__()
            except BaseException:
                self._simulator.close()
                raise
            self._machine = machine
        return self._machine

    def _forget_machine(self) -> None:
        machine, self._machine = self._machine, None
        if machine is not None:
            # A connection to a NATS that was killed may fail to close: nothing is lost.
            with contextlib.suppress(Exception):
                machine.__exit__(None, None, None)
        if self._simulator is not None:
            self._simulator.close()
            self._simulator = None
