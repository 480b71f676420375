"""The one injectable clock: wall time in production, a shared simulated time in simulation.

Simulated time lives in a NATS key-value bucket, so every process (services and the Stripe
simulator) reads the same instant. It stands still until someone advances it; an advance is
a compare-and-set, so two concurrent advances both count.
"""

import asyncio
import contextlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

CLOCK_BUCKET = "rosca_clock"
CLOCK_KEY = "now"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to: for pure tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class ClockNotProvisionedError(RuntimeError):
    pass


class SimulatedClock:
    """Reads the shared simulated time; ``start()`` must be awaited before ``now()``."""

    def __init__(self, js: JetStreamContext, bucket: str = CLOCK_BUCKET) -> None:
        self._js = js
        self._bucket_name = bucket
        self._current: datetime | None = None
        self._revision = 0
        self._watcher: KeyValue.KeyWatcher | None = None
        self._follow_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        kv = await _bucket(self._js, self._bucket_name)
        await _ensure_initialised(kv)
        self._watcher = await kv.watch(CLOCK_KEY)
        # The watcher first replays the latest value, then a None marker: read up to it.
        while (entry := await self._watcher.updates(timeout=5.0)) is not None:  # type: ignore[no-untyped-call]
            self._apply(entry)
        if self._current is None:
            entry = await kv.get(CLOCK_KEY)
            self._apply(entry)
        self._follow_task = asyncio.create_task(self._follow(), name="simulated-clock-follow")

    async def stop(self) -> None:
        if self._follow_task is not None:
            self._follow_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow_task
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()  # type: ignore[no-untyped-call]

    def now(self) -> datetime:
        if self._current is None:
            raise RuntimeError("SimulatedClock.now() before start()")
        return self._current

    async def wait_until(self, moment: datetime) -> datetime:
        """Wait until the shared clock has reached ``moment`` (bound it with ``asyncio.timeout``)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.now() >= moment)
        return self.now()

    async def _follow(self) -> None:
        assert self._watcher is not None
        async for entry in self._watcher:
            if entry is not None and entry.value:
                self._apply(entry)
                async with self._changed:
                    self._changed.notify_all()

    def _apply(self, entry: KeyValue.Entry) -> None:
        if entry.value and (entry.revision or 0) >= self._revision:
            self._current = datetime.fromisoformat(entry.value.decode())
            self._revision = entry.revision or 0


async def advance_simulated_clock(
    js: JetStreamContext, delta: timedelta, bucket: str = CLOCK_BUCKET
) -> datetime:
    """Move the shared simulated time forward by ``delta`` and return the new instant."""
    if delta < timedelta(0):
        raise ValueError("the clock never moves backwards")
    kv = await _bucket(js, bucket)
    await _ensure_initialised(kv)
    while True:
        entry = await kv.get(CLOCK_KEY)
        assert entry.value is not None
        moved = datetime.fromisoformat(entry.value.decode()) + delta
        try:
            await kv.update(CLOCK_KEY, moved.isoformat().encode(), last=entry.revision)
        except KeyWrongLastSequenceError:
            continue  # someone else advanced it meanwhile: apply ours on top of theirs
        return moved


async def set_simulated_clock(js: JetStreamContext, moment: datetime, bucket: str = CLOCK_BUCKET) -> datetime:
    """Set the shared simulated time to ``moment``, which must not be before the current one."""
    if moment.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    kv = await _bucket(js, bucket)
    await _ensure_initialised(kv)
    while True:
        entry = await kv.get(CLOCK_KEY)
        assert entry.value is not None
        current = datetime.fromisoformat(entry.value.decode())
        if moment < current:
            raise ValueError(f"the clock never moves backwards (it is {current.isoformat()})")
        try:
            await kv.update(CLOCK_KEY, moment.astimezone(UTC).isoformat().encode(), last=entry.revision)
        except KeyWrongLastSequenceError:
            continue
        return moment


def parse_duration(text: str) -> timedelta:
    """``2d``, ``36h``, ``1w2d``, ``90m``, ``45s``, ``1.5d`` -> timedelta."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(f"{number}{unit}" for number, unit in parts) != compact:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 2d, 36h, 1w2d, 90m, 45s)")
    return timedelta(seconds=sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts))


async def _bucket(js: JetStreamContext, bucket: str) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError as missing:
        raise ClockNotProvisionedError(
            f"the simulated clock bucket {bucket!r} does not exist: run `rosca streams provision`"
        ) from missing


async def _ensure_initialised(kv: KeyValue) -> None:
    try:
        await kv.get(CLOCK_KEY)
    except KeyNotFoundError:
        with contextlib.suppress(KeyWrongLastSequenceError):
            await kv.create(CLOCK_KEY, datetime.now(UTC).isoformat().encode())
