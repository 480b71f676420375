"""What the scheduler adds to /metrics: timers by status, overdue timers, fires and fire lag."""

import asyncio
import logging

from prometheus_client import Counter, Gauge, Histogram

from services.runtime.clock import Clock
from services.runtime.db import Database
from services.scheduler.db import TimerStore

log = logging.getLogger(__name__)

TIMERS = Gauge(
    "rosca_scheduler_timers",
    "Timers in the scheduler's database by status (the same figure on every replica).",
    ["status"],
)
TIMERS_OVERDUE = Gauge(
    "rosca_scheduler_timers_overdue",
    "Pending timers whose due time has passed on the service clock: should be near zero.",
)
TIMERS_FIRED = Counter(
    "rosca_scheduler_timers_fired_total",
    "Timers this process fired (committed to the outbox).",
)
FIRE_LAG_SECONDS = Histogram(
    "rosca_scheduler_fire_lag_seconds",
    "Service-clock time from a timer's due time to its firing commit.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)


async def refresh_timer_gauges(database: Database, clock: Clock, every_seconds: float) -> None:
    """Counts come from the database, every few seconds rather than on each scrape."""
    while True:
        try:
            async with database.transaction() as session:
                counts = await TimerStore(session).counts(clock.now())
        except Exception as error:
            log.warning("could not count timers for /metrics: %s", error)
        else:
            TIMERS.labels("pending").set(counts.pending)
            TIMERS.labels("fired").set(counts.fired)
            TIMERS.labels("cancelled").set(counts.cancelled)
            TIMERS_OVERDUE.set(counts.overdue)
        await asyncio.sleep(every_seconds)
