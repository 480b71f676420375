"""Outbox relay: messages published per second, and latency from commit to a subscriber receiving it.

Runs its own nats-server (the wheel's) and Postgres (TEST_DATABASE_URL, else embedded), like the
tests. Usage: .venv/bin/python -m benchmarks.outbox_relay [--messages 20000] [--latency-samples 300]
"""

import argparse
import asyncio
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import nats

from contracts.messages import Message
from contracts.streams import COLLECTIONS
from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import OutboxRelay, add_to_outbox
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import fresh_database, postgres_server, running_nats

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "collections" / "migrations"
SUBJECT = "collections.evt.benchmark"


class Ping(Message):
    pass


def ping() -> Ping:
    return Ping(occurred_at=datetime.now(UTC), correlation_id="benchmark")


async def measure(nats_url: str, database_url: str, messages: int, samples: int) -> None:
    upgrade_to_head(MIGRATIONS, database_url)
    client = await nats.connect(nats_url)
    js = client.jetstream()
    names = Namespace("bench")
    await provision_streams(js, names, StreamSettings(), definitions=(COLLECTIONS,))
    database = Database(database_url)

    for start in range(0, messages, 500):
        async with database.transaction() as session:
            for _ in range(min(500, messages - start)):
                await add_to_outbox(session, SUBJECT, ping())
    relay = OutboxRelay(database, js, names, batch_size=500, poll_seconds=5)
    began = time.perf_counter()
    while await relay.publish_pending():
        pass
    elapsed = time.perf_counter() - began
    print(f"throughput: {messages} messages published in {elapsed:.2f} s = {messages / elapsed:,.0f} msg/s")

    received: asyncio.Queue[float] = asyncio.Queue()

    async def on_message(_msg: object) -> None:
        received.put_nowait(time.perf_counter())

    await client.subscribe(names.subject(SUBJECT), cb=on_message)
    relay_task = asyncio.create_task(relay.run())
    while not relay.listening:
        await asyncio.sleep(0.01)
    latencies = []
    for _ in range(samples):
        async with database.transaction() as session:
            await add_to_outbox(session, SUBJECT, ping())
        committed = time.perf_counter()
        latencies.append((await asyncio.wait_for(received.get(), 5) - committed) * 1000)
    relay_task.cancel()
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"commit-to-subscriber latency over {samples} single-message transactions: "
        f"p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms, max {max(latencies):.1f} ms"
    )
    await database.dispose()
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-samples", type=int, default=300)
    arguments = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    with running_nats() as nats_server, postgres_server() as admin_url, fresh_database(admin_url) as url:
        asyncio.run(measure(nats_server.url, url, arguments.messages, arguments.latency_samples))


if __name__ == "__main__":
    main()
