"""The operator's view of the shared simulated clock: read it, move it forward, set it, wait on it."""

import asyncio
from datetime import datetime, timedelta

from nats.js import JetStreamContext

from rosca.errors import CliError, UsageError
from rosca.jetstream import jetstream
from services.runtime.clock import (
    CLOCK_BUCKET,
    ClockNotProvisionedError,
    SimulatedClock,
    advance_simulated_clock,
    parse_duration,
    set_simulated_clock,
)
from services.runtime.naming import Namespace
from services.scheduler.progress import fired_through, wait_for_scheduler


def parse_delta(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise UsageError(str(error)) from None


def parse_moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"not an ISO 8601 time: {text!r} (expected e.g. 2027-01-01T00:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        raise UsageError(f"{text!r} has no UTC offset (add one, e.g. +00:00 or Z)")
    return moment


async def show_clock(nats_url: str, namespace: str) -> datetime:
    async with jetstream(nats_url) as js:
        return await _read(js, namespace)


async def advance_clock(nats_url: str, namespace: str, delta: timedelta) -> tuple[datetime, datetime]:
    async with jetstream(nats_url) as js:
        before = await _read(js, namespace)
        after = await advance_simulated_clock(js, delta, bucket=_bucket(namespace))
        return before, after


async def set_clock(nats_url: str, namespace: str, moment: datetime) -> tuple[datetime, datetime]:
    async with jetstream(nats_url) as js:
        before = await _read(js, namespace)
        try:
            after = await set_simulated_clock(js, moment, bucket=_bucket(namespace))
        except ValueError as error:
            raise CliError(str(error)) from None
        return before, after


async def wait_for_timers(
    nats_url: str, namespace: str, moment: datetime, timeout_seconds: float
) -> datetime:
    """Wait until the scheduler has fired and published every timer due by ``moment``."""
    async with jetstream(nats_url) as js:
        try:
            async with asyncio.timeout(timeout_seconds):
                return await wait_for_scheduler(js, moment, namespace)
        except TimeoutError:
            reached = await fired_through(js, namespace)
        progress = (
            f"it has worked off simulated time up to {reached.isoformat()}"
            if reached is not None
            else "it has reported no progress at all"
        )
        raise CliError(
            f"the clock is at {moment.isoformat()}, but within {timeout_seconds:g} s the scheduler has not "
            f"published every timer due by then ({progress}); is it running, on the simulated clock? "
            "See its log (e.g. .rosca/logs/scheduler.log), or wait longer with --wait-timeout"
        )


def describe_move(before: datetime, after: datetime) -> str:
    return f"{before.isoformat()} -> {after.isoformat()} (+{after - before})"


async def _read(js: JetStreamContext, namespace: str) -> datetime:
    clock = SimulatedClock(js, _bucket(namespace))
    try:
        await clock.start()
    except ClockNotProvisionedError as error:
        raise CliError(str(error)) from None
    try:
        return clock.now()
    finally:
        await clock.stop()


def _bucket(namespace: str) -> str:
    return Namespace(namespace).bucket(CLOCK_BUCKET)
