"""Run every piece of due work the clock has passed, in due order.

Most work runs inline, one piece at a time. Kinds named concurrent (webhook deliveries) start as
tasks so that a slow endpoint holds up nothing else; `run_due(wait=True)` waits for them too.
"""

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable

from simulators.stripe_sim.simulator import Simulator, from_timestamp
from simulators.stripe_sim.state.due_work import DueWork

log = logging.getLogger(__name__)

DueWorkHandler = Callable[[Simulator, DueWork], Awaitable[None] | None]


class DueWorkRunner:
    def __init__(
        self,
        sim: Simulator,
        handlers: dict[str, DueWorkHandler],
        concurrent_kinds: frozenset[str] = frozenset(),
    ) -> None:
        self._sim = sim
        self._handlers = handlers
        self._concurrent_kinds = concurrent_kinds
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None

    async def run_due(self, *, wait: bool = True) -> int:
        """Everything due up to the clock's current time, including work that work schedules.

        With ``wait``, also waits for the concurrent work started, and for what it schedules.
        """
        sim = self._sim
        ran = 0
        async with sim.due_work_lock:
            while True:
                horizon = sim.clock.now().timestamp()
                while (work := sim.due_work.pop_due(horizon)) is not None:
                    await self._run(work)
                    ran += 1
                if not wait or not self._tasks:
                    return ran
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, work: DueWork) -> None:
        sim = self._sim
        with sim.acting_at(from_timestamp(work.due_at)):
            if work.kind in self._concurrent_kinds:
                # The task copies the context now, so it keeps acting at the work's due time.
                task = asyncio.create_task(self._guarded(work))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                # Let the task take its lease (a webhook delivery schedules and commits one before it
                # first waits) before anything commits this work's removal: a simulator killed in
                # between would otherwise lose the delivery, which Stripe never does.
                await asyncio.sleep(0)
                return
            await self._guarded(work)
        sim.commit()

    async def _guarded(self, work: DueWork) -> None:
        try:
            outcome = self._handlers[work.kind](self._sim, work)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            log.exception("due work %s failed: %s", work.kind, work.payload)

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._poll(), name="stripe-sim-due-work")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _poll(self) -> None:
        while True:
            try:
                await self.run_due(wait=False)
            except Exception:
                log.exception("due work loop failed; continuing")
            await asyncio.sleep(self._sim.settings.poll_interval_seconds)
