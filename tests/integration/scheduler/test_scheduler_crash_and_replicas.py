"""The scheduler as real processes: SIGKILL mid-burst, and two replicas racing over the same timers."""

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nats.js import JetStreamContext

from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.scheduler.progress import wait_for_scheduler
from tests.infrastructure import NatsServer
from tests.integration.scheduler.support import (
    count_by_status,
    fired_by,
    fired_so_far,
    insert_pending,
    migrate,
    provision,
    scheduler_process,
    unpublished,
    wait_for_readiness,
)

pytestmark = pytest.mark.integration

T0 = datetime(2031, 7, 1, 0, 0, tzinfo=UTC)


async def test_a_scheduler_killed_mid_burst_then_restarted_delivers_every_timer_exactly_once(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str, tmp_path: Path
) -> None:
    burst = 5_000
    now = datetime.now(UTC)
    await provision(js, namespace)
    await asyncio.to_thread(migrate, database_url)
    database = Database(database_url)
    timer_ids = [f"burst:{n:05d}" for n in range(burst)]
    await insert_pending(
        database, [(timer_id, now - timedelta(milliseconds=n)) for n, timer_id in enumerate(timer_ids)], now
    )
    common = {
        "database_url": database_url,
        "nats_url": nats_server.url,
        "namespace": namespace,
        "firing_batch_size": "25",
    }
    log = tmp_path / "scheduler.log"

    with scheduler_process(log=log, **common) as first:
        async with asyncio.timeout(30):
            while (await count_by_status(database)).get("fired", 0) < burst // 10:
                first.assert_running()
                await asyncio.sleep(0.01)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    fired_before_the_kill = (await count_by_status(database)).get("fired", 0)
    assert 0 < fired_before_the_kill < burst, "the kill must land in the middle of the burst"

    with scheduler_process(log=log, **common) as second:
        async with asyncio.timeout(60):
            while (await count_by_status(database)).get("fired", 0) < burst or await unpublished(database):
                second.assert_running()
                await asyncio.sleep(0.1)
        wait_for_readiness(second.base_url)

    delivered = await fired_so_far(js, namespace)
    assert len(delivered) == burst
    assert sorted(message.msg_id for message in delivered) == [f"timer:{timer_id}" for timer_id in timer_ids]
    assert await count_by_status(database) == {"fired": burst}
    await database.dispose()


async def test_two_replicas_racing_over_ten_thousand_due_timers_deliver_each_once(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str, tmp_path: Path
) -> None:
    timers = 10_000
    await provision(js, namespace, clock_at=T0)
    await asyncio.to_thread(migrate, database_url)
    database = Database(database_url)
    timer_ids = [f"race:{n:05d}" for n in range(timers)]
    due = [(timer_id, T0 + timedelta(hours=1, milliseconds=n)) for n, timer_id in enumerate(timer_ids)]
    await insert_pending(database, due, created_at=T0)
    logs = [tmp_path / "replica-a.log", tmp_path / "replica-b.log"]
    common = {
        "database_url": database_url,
        "nats_url": nats_server.url,
        "namespace": namespace,
        "clock": "simulated",
        "firing_batch_size": "100",
    }

    with scheduler_process(log=logs[0], **common) as a, scheduler_process(log=logs[1], **common) as b:
        await asyncio.gather(*(asyncio.to_thread(wait_for_readiness, r.base_url) for r in (a, b)))
        # Both are idle and ready; one clock move makes every timer due for both at once.
        after = await advance_simulated_clock(
            js, timedelta(hours=2), bucket=Namespace(namespace).bucket(CLOCK_BUCKET)
        )
        async with asyncio.timeout(60):
            await wait_for_scheduler(js, after, namespace)

    delivered = await fired_so_far(js, namespace)
    assert len(delivered) == timers
    assert sorted(message.msg_id for message in delivered) == [f"timer:{timer_id}" for timer_id in timer_ids]
    replicas = await fired_by(database)
    assert len(replicas) == 2, f"both replicas must have fired some: {replicas}"
    assert sum(replicas.values()) == timers
    # Had both taken the same timer, the outbox's unique id would have refused one commit: the
    # outcome would still be right, but only by the safety net. It must never come to that.
    for log in logs:
        assert "could not fire" not in log.read_text()
    await database.dispose()
