"""``python -m tests.integration.probe relay|consumer|clock``: the probe's roles as real processes.

Configuration comes from PROBE_* environment variables set by the tests.
"""

import asyncio
import os
import signal
import sys
from dataclasses import replace
from datetime import datetime

import nats
from sqlalchemy import event
from sqlalchemy.orm import Session

from services.runtime.clock import CLOCK_BUCKET, SimulatedClock, SystemClock
from services.runtime.consumer import Consumer, ConsumerPolicy
from services.runtime.db import Database
from services.runtime.naming import Namespace
from services.runtime.outbox import OutboxRelay
from tests.integration.probe.handlers import router


async def relay() -> None:
    nc = await nats.connect(os.environ["PROBE_NATS_URL"])
    database = Database(os.environ["PROBE_DATABASE_URL"])
    outbox_relay = OutboxRelay(
        database, nc.jetstream(), Namespace(os.environ["PROBE_NAMESPACE"]), batch_size=50, poll_seconds=0.5
    )
    print("relay running", flush=True)
    await outbox_relay.run()


async def consumer() -> None:
    if os.environ.get("PROBE_CRASH_AFTER_COMMIT") == "1":
        # Dies the instant the effect has committed, before the ack can be sent.
        event.listen(Session, "after_commit", lambda _session: os.kill(os.getpid(), signal.SIGKILL))
    nc = await nats.connect(os.environ["PROBE_NATS_URL"])
    in_flight = int(os.environ.get("PROBE_IN_FLIGHT", "1"))
    probe_consumer = Consumer(
        "probe",
        replace(router.subscriptions[0], max_in_flight=in_flight),
        js=nc.jetstream(),
        database=Database(os.environ["PROBE_DATABASE_URL"]),
        namespace=Namespace(os.environ["PROBE_NAMESPACE"]),
        clock=SystemClock(),
        policy=ConsumerPolicy(max_deliver=5, backoff_seconds=(0.2,), ack_wait_seconds=1.0),
    )
    print("consumer running", flush=True)
    await probe_consumer.run()


async def clock() -> None:
    nc = await nats.connect(os.environ["PROBE_NATS_URL"])
    shared = SimulatedClock(nc.jetstream(), Namespace(os.environ["PROBE_NAMESPACE"]).bucket(CLOCK_BUCKET))
    await shared.start()
    print(f"now {shared.now().isoformat()}", flush=True)
    target = datetime.fromisoformat(sys.stdin.readline().strip())
    async with asyncio.timeout(20):
        seen = await shared.wait_until(target)
    print(f"now {seen.isoformat()}", flush=True)
    await shared.stop()
    await nc.close()


ROLES = {"relay": relay, "consumer": consumer, "clock": clock}

if __name__ == "__main__":
    asyncio.run(ROLES[sys.argv[1]]())
