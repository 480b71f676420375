"""Stream provisioning and the shared clock, against a real JetStream."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext
from nats.js.api import StorageType

from contracts.streams import ALL_STREAMS, COLLECTIONS
from services.runtime.clock import (
    CLOCK_BUCKET,
    ClockNotProvisionedError,
    SimulatedClock,
    advance_simulated_clock,
    set_simulated_clock,
)
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams

pytestmark = pytest.mark.integration


async def test_provisioning_is_idempotent_and_applies_changed_limits(
    js: JetStreamContext, namespace: str
) -> None:
    names = Namespace(namespace)
    first = await provision_streams(js, names, StreamSettings())
    again = await provision_streams(js, names, StreamSettings())
    changed = await provision_streams(js, names, StreamSettings(duplicate_window_seconds=30))
    assert {result.outcome for result in first} == {"created"}
    assert {result.outcome for result in again} == {"unchanged"}
    assert {result.name: result.outcome for result in changed}[names.stream("COLLECTIONS")] == "updated"
    assert len(first) == len(ALL_STREAMS) + 1  # and the clock bucket
    config = (await js.stream_info(names.stream(COLLECTIONS.name))).config
    assert config.storage == StorageType.FILE
    assert config.duplicate_window == 30
    assert config.subjects == [f"{namespace}.collections.>"]


async def test_concurrent_advances_of_the_shared_clock_both_count(
    js: JetStreamContext, namespace: str
) -> None:
    names = Namespace(namespace)
    await provision_streams(js, names, StreamSettings(), definitions=())
    clock = SimulatedClock(js, names.bucket(CLOCK_BUCKET))
    await clock.start()
    try:
        start = clock.now()
        await asyncio.gather(
            *(advance_simulated_clock(js, timedelta(hours=6), names.bucket(CLOCK_BUCKET)) for _ in range(4))
        )
        async with asyncio.timeout(5):
            seen = await clock.wait_until(start + timedelta(days=1))
        assert seen == start + timedelta(days=1)
    finally:
        await clock.stop()


async def test_the_shared_clock_never_moves_backwards(js: JetStreamContext, namespace: str) -> None:
    names = Namespace(namespace)
    await provision_streams(js, names, StreamSettings(), definitions=())
    future = datetime(2099, 1, 1, tzinfo=UTC)
    assert await set_simulated_clock(js, future, names.bucket(CLOCK_BUCKET)) == future
    with pytest.raises(ValueError, match="never moves backwards"):
        await set_simulated_clock(js, future - timedelta(seconds=1), names.bucket(CLOCK_BUCKET))
    with pytest.raises(ValueError, match="never moves backwards"):
        await advance_simulated_clock(js, timedelta(seconds=-1), names.bucket(CLOCK_BUCKET))


async def test_an_unprovisioned_clock_says_how_to_provision_it(js: JetStreamContext, namespace: str) -> None:
    with pytest.raises(ClockNotProvisionedError, match="rosca streams provision"):
        await SimulatedClock(js, Namespace(namespace).bucket(CLOCK_BUCKET)).start()
