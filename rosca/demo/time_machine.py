"""Moving the stack's simulated clock, and waiting until the stack has done what the move set off.

A day of the clock makes the scheduler fire timers (cycle starts, retries, deadlines), the Stripe
simulator settle debits and send webhooks, and the services answer each other through JetStream.
The demo looks at the circle only once all of that has stopped: every timer due is fired, the
simulator has nothing due, and no JetStream consumer of the stack has a message left to handle.
"""

import asyncio
import time
from datetime import datetime, timedelta

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.streams import ALL_STREAMS
from rosca.demo.simulator import StripeSimulator
from rosca.errors import CliError
from services.runtime.clock import CLOCK_BUCKET, SimulatedClock, advance_simulated_clock
from services.runtime.naming import Namespace
from services.scheduler.progress import wait_for_scheduler

SCHEDULER_TIMEOUT_SECONDS = 60.0
QUIET_TIMEOUT_SECONDS = 60.0
# Two looks in a row with nothing to do, this far apart: a webhook in flight between the
# simulator and the gateway, or an outbox row about to be relayed, shows up within it.
QUIET_CONFIRM_SECONDS = 0.3


class TimeMachine:
    def __init__(self, nats_url: str, namespace: str, simulator: StripeSimulator) -> None:
        self._nats_url = nats_url
        self._namespace = Namespace(namespace)
        self._simulator = simulator
        self._runner = asyncio.Runner()
        self._client: Client | None = None
        self._js: JetStreamContext | None = None

    def __enter__(self) -> "TimeMachine":
        self._client = self._runner.run(
            nats.connect(self._nats_url.split(","), name="rosca-demo", connect_timeout=5)
        )
        self._js = self._client.jetstream()
        return self

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            self._runner.run(self._client.close())
        self._runner.close()

    def now(self) -> datetime:
        return self._runner.run(self._now())

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock by ``delta`` and wait until the stack is quiet again."""
        moment = self._runner.run(advance_simulated_clock(self._jetstream, delta, bucket=self._clock_bucket))
        self._runner.run(self._wait_for_scheduler(moment))
        self.wait_until_quiet()
        return moment

    def wait_until_quiet(self) -> None:
        deadline = time.monotonic() + QUIET_TIMEOUT_SECONDS
        quiet_looks = 0
        while quiet_looks < 2:
            if time.monotonic() > deadline:
                busy = self._runner.run(self._busy_consumers())
                raise CliError(
                    f"the stack did not settle within {QUIET_TIMEOUT_SECONDS:g} s "
                    f"(still busy: {', '.join(busy) or 'the Stripe simulator'}); see .rosca/logs/"
                )
            ran = self._simulator.run_due()
            busy = self._runner.run(self._busy_consumers())
            quiet_looks = quiet_looks + 1 if ran == 0 and not busy else 0
            time.sleep(QUIET_CONFIRM_SECONDS if quiet_looks else 0.1)

    @property
    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("use the time machine inside `with`")
        return self._js

    @property
    def _clock_bucket(self) -> str:
        return self._namespace.bucket(CLOCK_BUCKET)

    async def _now(self) -> datetime:
        clock = SimulatedClock(self._jetstream, self._clock_bucket)
        await clock.start()
        try:
            return clock.now()
        finally:
            await clock.stop()

    async def _wait_for_scheduler(self, moment: datetime) -> None:
        try:
            async with asyncio.timeout(SCHEDULER_TIMEOUT_SECONDS):
                await wait_for_scheduler(self._jetstream, moment, self._namespace.prefix)
        except TimeoutError:
            raise CliError(
                f"the scheduler has not fired the timers due by {moment.isoformat()} within "
                f"{SCHEDULER_TIMEOUT_SECONDS:g} s; see .rosca/logs/scheduler.log"
            ) from None

    async def _busy_consumers(self) -> list[str]:
        busy = []
        for stream in ALL_STREAMS:
            name = self._namespace.stream(stream.name)
            for consumer in await self._jetstream.consumers_info(name):
                if (consumer.num_pending or 0) + (consumer.num_ack_pending or 0) > 0:
                    busy.append(f"{name}/{consumer.name}")
        return busy


def days(n: int) -> timedelta:
    return timedelta(days=n)
