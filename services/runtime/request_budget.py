"""A request rate shared by every process that uses one outside API: each call waits for its turn.

The budget is a GCRA (a leaky bucket with no burst): one value in a JetStream key-value bucket,
the wall time (in nanoseconds) at which the next request may go. A caller reads it, takes
``max(it, now)`` as its slot, and writes ``slot + 1/rate`` back with compare-and-set on the
revision it read; a lost race means another process took that slot, so it reads again. Slots are
``1/rate`` apart (whole nanoseconds, rounded up), so no one-second window ever holds more than
``rate`` of them, whichever process took them. The caller then sleeps until its slot: calls queue
instead of failing.

The callers of one process that wait for a reservation together are served by one: it takes as
many consecutive slots as there are callers waiting, in one read and one compare-and-set, and
hands each its own (two NATS round trips a request were 4 % of a busy payouts process's CPU, and
its callers queued behind one another's). A process takes only slots a caller is waiting for, so
it never holds a stock of them that another process would miss.

Wall time, never the platform clock: the API counts our requests in real seconds (a simulated clock
may stand still or jump days). Replicas on several machines need their clocks in step (NTP), as the
slots they write are read by the others.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Final

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

DEFAULT_MAX_WAIT_SECONDS: Final = 30.0


class RequestBudgetExhaustedError(Exception):
    """The queue for the budget is longer than a caller may wait: the call is not made.
    ``wait_seconds``: how far away the next free slot was (when to come back)."""

    def __init__(self, message: str, wait_seconds: float = 0.0) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class RequestBudgetUnavailableError(Exception):
    """The shared budget cannot be read or written (NATS down): the call is not made."""


class SharedRequestBudget:
    """At most ``requests_per_second`` calls a second among every holder of the same bucket and key."""

    def __init__(
        self,
        jetstream: Callable[[], JetStreamContext],
        bucket: str,
        *,
        requests_per_second: float,
        key: str = "next_slot",
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        if requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        self._jetstream = jetstream
        self._bucket = bucket
        self._key = key
        # Whole nanoseconds, rounded up, so that no drift of repeated float sums ever fits one
        # request more into a second than the rate allows.
        self._interval_ns = math.ceil(1e9 / requests_per_second)
        self._max_wait = max_wait_seconds
        self._now = now
        self._kv: KeyValue | None = None
        # One reservation at a time per process: local callers queue here, not in CAS retries.
        self._reserving = asyncio.Lock()
        # Callers not served yet, in arrival order; whoever holds the lock next serves them all.
        self._waiting: list[asyncio.Future[float]] = []

    @property
    def requests_per_second(self) -> float:
        return 1e9 / self._interval_ns

    async def take(self) -> float:
        """Wait for this call's turn; return the wall time of the slot it was given."""
        slot = await self.reserve()
        delay = slot - self._now()
        if delay > 0:
            await asyncio.sleep(delay)
        return slot

    async def reserve(self) -> float:
        """Claim the next free slot (a wall time, possibly now) without waiting for it."""
        mine: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append(mine)
        try:
            async with self._reserving:
                if not mine.done():  # no one took a slot for this caller while it queued
                    await self._serve_waiting()
        except BaseException:
            mine.cancel()  # a slot taken for it meanwhile goes unused
            raise
        return mine.result()

    async def _serve_waiting(self) -> None:
        """A slot for every caller waiting, this one included, in one reservation."""
        callers = [caller for caller in self._waiting if not caller.done()]
        self._waiting = []
        try:
            slots = await self._claim_slots(len(callers))
        except NatsError as error:
            self._kv = None  # bind again next time: the bucket may have been lost with its server
            _fail(callers, f"the shared request budget is unavailable: {error!r}", error)
        except RuntimeError as error:  # no JetStream yet (the service is still connecting)
            _fail(callers, f"the shared request budget is unavailable: {error}", error)
        except BaseException:
            # Cancelled, or failed unexpectedly, mid-claim (any slots it took go unused): the
            # others wait on, and the next of them to hold the lock serves them.
            self._waiting[:0] = [caller for caller in callers if not caller.done()]
            raise
        else:
            for caller, slot in zip(callers, slots, strict=True):
                if not caller.done():  # a caller cancelled meanwhile leaves its slot unused
                    _settle(caller, slot)

    async def _claim_slots(self, wanted: int) -> list[float | RequestBudgetExhaustedError]:
        """``wanted`` consecutive slots, as far as the longest wait allows; a refusal for each past it."""
        kv = await self._store()
        while True:
            try:
                entry = await kv.get(self._key)
                next_free, revision = int(entry.value or b"0"), entry.revision or 0
            except KeyNotFoundError:
                next_free, revision = 0, 0
            now = math.floor(self._now() * 1e9)
            first = max(next_free, now)
            slots = [first + n * self._interval_ns for n in range(wanted)]
            given = [slot for slot in slots if slot - now <= self._max_wait * 1e9]
            if given:
                try:
                    # revision 0: only if no one has written the key yet.
                    await kv.update(self._key, str(given[-1] + self._interval_ns).encode(), last=revision)
                except KeyWrongLastSequenceError:
                    continue  # another process took a slot in between: read again
            return [slot / 1e9 for slot in given] + [
                _too_far(slot - now, self._max_wait) for slot in slots[len(given) :]
            ]

    async def _store(self) -> KeyValue:
        if self._kv is None:
            js = self._jetstream()
            try:
                self._kv = await js.key_value(self._bucket)
            except BucketNotFoundError:
                # Nothing to provision ahead: the value is only ever the next slot, and a lost bucket
                # only means the next caller starts the count afresh.
                self._kv = await js.create_key_value(
                    KeyValueConfig(
                        bucket=self._bucket,
                        description="Shared request budget: the next free slot (GCRA)",
                        history=1,
                        storage=StorageType.MEMORY,
                    )
                )
        return self._kv


def _too_far(away_ns: int, max_wait: float) -> RequestBudgetExhaustedError:
    wait = f"{away_ns / 1e9:.1f} s away, longest wait {max_wait:.0f} s"
    return RequestBudgetExhaustedError(f"the next free request slot is {wait}", wait_seconds=away_ns / 1e9)


def _settle(caller: "asyncio.Future[float]", slot: float | RequestBudgetExhaustedError) -> None:
    if isinstance(slot, RequestBudgetExhaustedError):
        caller.set_exception(slot)
    else:
        caller.set_result(slot)


def _fail(callers: list["asyncio.Future[float]"], message: str, cause: Exception) -> None:
    for caller in callers:
        if not caller.done():
            failure = RequestBudgetUnavailableError(message)
            failure.__cause__ = cause
            caller.set_exception(failure)
