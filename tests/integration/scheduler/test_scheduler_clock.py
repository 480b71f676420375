"""Time: a simulated month fires in due order; after downtime every overdue timer fires, oldest first."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from nats.js import JetStreamContext

from services.runtime.clock import CLOCK_BUCKET, advance_simulated_clock
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.scheduler.progress import fired_through, wait_for_scheduler
from tests.infrastructure import NatsServer
from tests.integration.scheduler.support import (
    count_by_status,
    fired_so_far,
    insert_pending,
    migrate,
    provision,
    schedule,
    scheduler_in_process,
    scheduler_settings,
    send,
)

pytestmark = pytest.mark.integration

T0 = datetime(2031, 7, 1, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def in_firing_order(due: dict[str, datetime], until: datetime) -> list[str]:
    return [
        f"timer:{timer_id}" for timer_id, at in sorted(due.items(), key=lambda i: (i[1], i[0])) if at <= until
    ]


async def test_advancing_the_simulated_clock_over_a_month_fires_every_timer_in_between_in_due_order(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str
) -> None:
    shuffle = random.Random(6)
    due = {f"cycle:{n:03d}": T0 + timedelta(minutes=shuffle.randrange(1, 30 * 24 * 60)) for n in range(120)}
    due |= {f"same:{n}": T0 + 10 * DAY for n in (3, 1, 2)}  # one instant: ordered by id
    due |= {f"next_month:{n}": T0 + 32 * DAY + timedelta(hours=n) for n in range(5)}
    await provision(js, namespace, clock_at=T0)
    bucket = Namespace(namespace).bucket(CLOCK_BUCKET)
    async with scheduler_in_process(scheduler_settings(database_url, nats_server.url, namespace)):
        for timer_id in shuffle.sample(sorted(due), len(due)):
            await send(js, namespace, schedule(timer_id, due[timer_id], issued_at=T0))

        month_end = await advance_simulated_clock(js, 31 * DAY, bucket=bucket)
        async with asyncio.timeout(30):
            assert await wait_for_scheduler(js, month_end, namespace) >= month_end
        # Nothing more is awaited: the wait itself must cover every fired timer.
        assert [fired.msg_id for fired in await fired_so_far(js, namespace)] == in_firing_order(
            due, month_end
        )


async def test_each_step_of_the_clock_is_worked_off_before_the_wait_returns(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str
) -> None:
    due = {
        f"daily:{day:02d}:{n}": T0 + day * DAY - timedelta(hours=n) for day in range(1, 11) for n in range(3)
    }
    await provision(js, namespace, clock_at=T0)
    bucket = Namespace(namespace).bucket(CLOCK_BUCKET)
    async with scheduler_in_process(scheduler_settings(database_url, nats_server.url, namespace)):
        for timer_id, at in due.items():
            await send(js, namespace, schedule(timer_id, at, issued_at=T0))
        for _ in range(10):
            now = await advance_simulated_clock(js, DAY, bucket=bucket)
            async with asyncio.timeout(20):
                await wait_for_scheduler(js, now, namespace)
            assert [fired.msg_id for fired in await fired_so_far(js, namespace)] == in_firing_order(due, now)
        assert await fired_through(js, namespace) == T0 + 10 * DAY


async def test_after_downtime_every_overdue_timer_fires_oldest_first_and_later_ones_wait(
    js: JetStreamContext, nats_server: NatsServer, database_url: str, namespace: str
) -> None:
    now = datetime.now(UTC)
    shuffle = random.Random(3)
    overdue = {
        f"missed:{n:03d}": now - timedelta(seconds=shuffle.randrange(1, 3 * 86_400)) for n in range(300)
    }
    overdue |= {f"tie:{n}": now - DAY for n in (2, 0, 1)}
    later = {"tomorrow": now + DAY}
    await provision(js, namespace)
    await asyncio.to_thread(migrate, database_url)
    database = Database(database_url)
    rows = list((overdue | later).items())
    shuffle.shuffle(rows)
    await insert_pending(database, rows, created_at=now - 4 * DAY)

    # Small batches, so the order has to hold across many firing transactions.
    settings = scheduler_settings(
        database_url, nats_server.url, namespace, clock="system", firing_batch_size=7
    )
    async with scheduler_in_process(settings):
        async with asyncio.timeout(30):
            while (await count_by_status(database)).get("fired", 0) < len(overdue):
                await asyncio.sleep(0.05)
            while len(fired := await fired_so_far(js, namespace)) < len(overdue):
                await asyncio.sleep(0.05)
    assert [message.msg_id for message in fired] == in_firing_order(overdue, now)
    assert await count_by_status(database) == {"fired": len(overdue), "pending": 1}
    await database.dispose()
