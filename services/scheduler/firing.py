"""The firing loop: due timers go to the outbox, oldest first, exactly once, on any number of replicas.

One pass takes a batch of pending timers due by now, oldest first, with ``FOR UPDATE SKIP
LOCKED``: two replicas never hold the same timer, and a replica that dies mid-pass leaves its
rows to the other (Postgres rolls the pass back). In the same transaction each payload goes to
the outbox under an id derived from the timer id, and the timer is marked fired: the commit makes
both true at once, so a fired timer is published (the relay retries until PubAck) and is never
taken again.

Between passes the loop sleeps until the next due time, at most ``idle_seconds``. A NOTIFY sent
at commit by ``scheduler.cmd.schedule`` wakes it for an earlier timer; with the simulated clock,
every clock move wakes it, and it records how far it has worked off simulated time.
"""

import asyncio
import contextlib
import logging
import math
import time
from datetime import datetime, timedelta

import psycopg

from services.runtime.clock import Clock, SimulatedClock
from services.runtime.db import Database, libpq_url
from services.scheduler import domain
from services.scheduler.db import TIMERS_CHANNEL, TimerStore
from services.scheduler.metrics import FIRE_LAG_SECONDS, TIMERS_FIRED
from services.scheduler.progress import FiredThrough

log = logging.getLogger(__name__)

# How soon to look again while another replica holds due timers, or the relay still publishes.
_SOON = 0.05
_COMMANDS_GRACE = 5.0


class FiringLoop:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        batch_size: int,
        idle_seconds: float,
        fired_by: str,
        progress: FiredThrough | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._fired_by = fired_by
        self._progress = progress
        self._wake = asyncio.Event()
        # Epoch seconds of the planned wake-up; a NOTIFY for a timer due later is ignored.
        self._wake_at = math.inf
        # The simulated instant up to which schedule commands were taken in before firing.
        self._taken_in_at: datetime | None = None
        self._holding: tuple[datetime, float] | None = None
        self.listening = False

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen_for_schedules(), name="timers-listen")
        try:
            await self._fire_forever()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def fire_due(self, now: datetime) -> int:
        """Fire one batch of timers due by ``now``; returns how many fired."""
        async with self._database.transaction() as session:
            store = TimerStore(session)
            due = await store.claim_due(now, self._batch_size)
            fired = [domain.fire(timer, now) for timer in domain.firing_order(due)]
            await store.record_fired(fired, self._fired_by)
        committed = self._clock.now()
        TIMERS_FIRED.inc(len(fired))
        for timer in fired:
            assert timer.due_at is not None
            FIRE_LAG_SECONDS.observe(max(0.0, (committed - timer.due_at).total_seconds()))
        return len(fired)

    async def _fire_forever(self) -> None:
        failures = 0
        recorded: datetime | None = None
        while True:
            self._wake.clear()
            # Until the next wake-up is planned, any new timer may be the earliest.
            self._wake_at = math.inf
            now = self._clock.now()
            try:
                if not await self._commands_taken_in(now):
                    await asyncio.sleep(_SOON)
                    continue
                if await self.fire_due(now) == self._batch_size:
                    continue
                settled = True
                if self._progress is not None and (recorded is None or now > recorded):
                    settled = await self._settled_through(now)
                    if settled:
                        await self._progress.record(now)
                        recorded = now
                next_due = await self._next_due()
            except Exception as error:
                failures += 1
                log.warning("firing loop could not fire due timers: %s", error)
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                continue
            failures = 0
            await self._sleep(now, next_due, settled)

    async def _commands_taken_in(self, now: datetime) -> bool:
        """With the simulated clock: has every command sent before the clock moved been applied?

        A jump of a month must fire the month's timers in due order, including those whose
        schedule command is still on its way to the table; so after each move the loop first lets
        the consumers catch up, for at most ``_COMMANDS_GRACE`` (a poison command in back-off must
        not stop time).
        """
        if self._progress is None or now == self._taken_in_at:
            return True
        if self._holding is None or self._holding[0] != now:
            self._holding = (now, time.monotonic())
        waited = time.monotonic() - self._holding[1]
        if not await self._progress.commands_applied() and waited < _COMMANDS_GRACE:
            return False
        if waited >= _COMMANDS_GRACE:
            log.warning("firing with scheduler commands still unapplied after %.0f s", waited)
        self._taken_in_at = now
        return True

    async def _sleep(self, now: datetime, next_due: datetime | None, settled: bool) -> None:
        timeout = self._idle_seconds if settled else _SOON
        waits: list[asyncio.Task[object]] = [asyncio.create_task(self._wake.wait())]
        if next_due is not None:
            self._wake_at = next_due.timestamp()
            if next_due <= now:
                timeout = _SOON  # due but held by another replica's pass
            elif not isinstance(self._clock, SimulatedClock):
                timeout = min(timeout, (next_due - now).total_seconds())
        if isinstance(self._clock, SimulatedClock):
            waits.append(asyncio.create_task(self._clock.wait_until(now + timedelta(microseconds=1))))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def _settled_through(self, moment: datetime) -> bool:
        assert self._progress is not None
        # Commands first: once they are applied, the timers they set are in the table.
        if not await self._progress.commands_applied():
            return False
        async with self._database.transaction() as session:
            return await TimerStore(session).settled_through(moment)

    async def _next_due(self) -> datetime | None:
        async with self._database.transaction() as session:
            return await TimerStore(session).next_due()

    async def _listen_for_schedules(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    libpq_url(self._database.url), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {TIMERS_CHANNEL}")
                    self.listening = True
                    self._wake.set()  # timers set while we were not listening: look once now
                    async for notification in connection.notifies():
                        if _due_epoch(notification.payload) <= self._wake_at:
                            self._wake.set()
            except (psycopg.Error, OSError) as error:
                self.listening = False
                log.warning("firing loop lost its NOTIFY listener: %s", error)
                await asyncio.sleep(1.0)


def _due_epoch(payload: str) -> float:
    try:
        return float(payload)
    except ValueError:
        return -math.inf
