"""Webhook gateway: sustained signed deliveries per second, latency at fixed rates, and the ceiling.

Starts its own nats-server and Postgres (TEST_DATABASE_URL, else embedded) like the tests, runs the
webhooks service as its own process (``python -m services.webhooks``), and posts pre-signed Stripe
events to its platform endpoint over keep-alive HTTP/1.1 connections:

1. open loop at increasing rates: each request is due at its slot and its latency is counted from
   that slot (queueing included, so a gateway falling behind shows in p99, not hidden by the client);
2. closed loop, as fast as the gateway answers: the sustained maximum;
3. the ceiling: a bare in-process loop doing the same essential work per event, with no HTTP and no
   framework (verify the signature, parse and normalize, insert the row, publish with PubAck, mark
   it published), at the same concurrency.

With ``--replicas N`` it runs N gateway processes (the service is stateless and runs as replicas),
each on its own port, and spreads the client's connections evenly over them, as a load balancer
would; the gateway/bare ratio is printed only for one replica, where it compares like with like.

Usage: .venv/bin/python -m benchmarks.webhooks_throughput [--rates 250,500,1000,1500] [--seconds 5]
       [--replicas 1]
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import nats

from benchmarks.http_client import Connection
from contracts.streams import STRIPE
from rosca.stack.ports import free_port
from services.runtime.db import Database
from services.runtime.memory import freeze_long_lived_objects
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from services.webhooks.ingest import EventIngest, EventPublisher
from services.webhooks.main import DEFINITION
from services.webhooks.normalize import normalize
from services.webhooks.verification import Endpoint, VerificationPolicy, verify_delivery
from tests.infrastructure import fresh_database, postgres_server, running_nats

SECRET = "whsec_benchmark_0123456789abcdef"
PATH = "/webhooks/stripe/platform"
NAMESPACE = "bench"


def signed_deliveries(count: int) -> list[tuple[bytes, str]]:
    """Bodies shaped like the simulator's payment_intent.succeeded (about 2 KB), signed now."""
    moment = int(time.time())
    deliveries = []
    for n in range(count):
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": moment,
            "data": {
                "object": {
                    "id": f"pi_{uuid.uuid4().hex[:24]}",
                    "object": "payment_intent",
                    "amount": 5_000 + n % 100,
                    "amount_received": 5_000 + n % 100,
                    "currency": "aud",
                    "customer": f"cus_{uuid.uuid4().hex[:14]}",
                    "latest_charge": f"py_{uuid.uuid4().hex[:24]}",
                    "metadata": {
                        "group_id": "grp_benchmark",
                        "cycle_id": f"cyc_{n % 50}",
                        "member_id": f"mem_{n % 12}",
                        "contribution_id": str(uuid.uuid4()),
                        "attempt": "1",
                    },
                    "payment_method": f"pm_{uuid.uuid4().hex[:24]}",
                    "payment_method_types": ["au_becs_debit"],
                    "status": "succeeded",
                    "transfer_group": f"cycle_cyc_{n % 50}",
                    "last_payment_error": None,
                    "livemode": False,
                    "created": moment - 172_800,
                    "description": None,
                    "statement_descriptor": None,
                },
            },
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": f"contribution-{uuid.uuid4()}-1"},
            "type": "payment_intent.succeeded",
        }
        body = json.dumps(event, indent=2).encode()
        digest = hmac.new(SECRET.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
        deliveries.append((body, f"t={moment},v1={digest}"))
    return deliveries


def _headers(signature: str) -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature}


async def open_loop(ports: list[int], rate: float, seconds: float, connections: int) -> dict[str, float]:
    deliveries = signed_deliveries(int(rate * seconds))
    freeze_long_lived_objects()  # the client's own collections are not the gateway's latency
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for n in range(connections):
        pool.put_nowait(await Connection.open(ports[n % len(ports)]))  # spread as a load balancer would
    latencies: list[float] = []
    failures = 0

    async def send(due: float, body: bytes, signature: str) -> None:
        nonlocal failures
        connection = await pool.get()
        try:
            status, _ = await connection.post(PATH, body, _headers(signature))
        finally:
            pool.put_nowait(connection)
        latencies.append(time.perf_counter() - due)
        failures += status != 200

    began = time.perf_counter()
    tasks = []
    for n, (body, signature) in enumerate(deliveries):
        due = began + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(due, body, signature)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    while not pool.empty():
        pool.get_nowait().close()
    return _summary(len(deliveries), elapsed, latencies, failures)


async def closed_loop(ports: list[int], count: int, connections: int) -> dict[str, float]:
    deliveries = signed_deliveries(count)
    freeze_long_lived_objects()
    latencies: list[float] = []
    failures = 0
    queue = iter(deliveries)

    async def worker(port: int) -> None:
        nonlocal failures
        connection = await Connection.open(port)
        try:
            for body, signature in queue:
                started = time.perf_counter()
                status, _ = await connection.post(PATH, body, _headers(signature))
                failures += status != 200
                latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(ports[n % len(ports)]) for n in range(connections)))
    return _summary(count, time.perf_counter() - began, latencies, failures)


async def bare_loop(database_url: str, nats_url: str, count: int, concurrency: int) -> dict[str, float]:
    """The same essential work per event, in-process: the most the gateway could hope for."""
    client = await nats.connect(nats_url)
    database = Database(database_url)
    ingest = EventIngest(database, EventPublisher(lambda: client, Namespace(NAMESPACE)), timeout=5)
    policy = VerificationPolicy(
        secrets=(SECRET,), tolerance_seconds=300, max_body_bytes=262_144, expected_livemode=False
    )
    deliveries = iter(signed_deliveries(count))
    freeze_long_lived_objects()  # as the gateway process does after start-up
    latencies: list[float] = []

    async def worker() -> None:
        for body, signature in deliveries:
            started = time.perf_counter()
            event = verify_delivery(
                body, signature, endpoint=Endpoint.platform, policy=policy, now=int(time.time())
            )
            await ingest.ingest(event, normalize(event.body), "platform")
            latencies.append(time.perf_counter() - started)

    try:
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return _summary(count, time.perf_counter() - began, latencies, 0)
    finally:
        await ingest.close()
        await database.dispose()
        await client.close()


def _summary(count: int, elapsed: float, latencies: list[float], failures: int) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "events": count,
        "rate": count / elapsed,
        "p50_ms": statistics.median(ordered) * 1_000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1_000,
        "failures": failures,
    }


@contextlib.contextmanager
def gateway_process(database_url: str, nats_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    environment = {
        **os.environ,
        "ROSCA_WEBHOOKS_DATABASE_URL": database_url,
        "ROSCA_WEBHOOKS_NATS_URL": nats_url,
        "ROSCA_WEBHOOKS_NAMESPACE": NAMESPACE,
        "ROSCA_WEBHOOKS_HTTP_PORT": str(port),
        "ROSCA_WEBHOOKS_PLATFORM_SIGNING_SECRETS": SECRET,
        "ROSCA_WEBHOOKS_LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.webhooks"], env=environment, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway did not become ready")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        process.wait(15)


def _line(label: str, result: dict[str, Any]) -> str:
    return (
        f"{label:<28} {result['rate']:>8,.0f} events/s   p50 {result['p50_ms']:6.1f} ms   "
        f"p99 {result['p99_ms']:7.1f} ms   non-2xx {int(result['failures'])}"
    )


async def measure(nats_url: str, database_url: str, options: argparse.Namespace) -> None:
    upgrade_to_head(DEFINITION.migrations_dir, database_url)
    client = await nats.connect(nats_url)
    await provision_streams(client.jetstream(), Namespace(NAMESPACE), StreamSettings(), definitions=(STRIPE,))
    await client.close()
    ports = [free_port() for _ in range(options.replicas)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    replicas = f"{options.replicas} gateway process{'es' if options.replicas > 1 else ''}"
    with contextlib.ExitStack() as running:
        for port in ports:
            running.enter_context(gateway_process(database_url, nats_url, port))
        await closed_loop(ports, 500, options.connections)  # warm-up: pools, JIT-less caches, indexes
        for rate in options.rates:
            result = await open_loop(ports, rate, options.seconds, options.connections)
            print(_line(f"open loop at {rate:,.0f}/s", result))
        result = await closed_loop(ports, options.closed_events, options.connections)
        print(_line(f"closed loop, {options.connections} connections", result) + f"   ({replicas})")
    bare = await bare_loop(database_url, nats_url, options.closed_events, options.connections)
    print(_line(f"bare loop, {options.connections} concurrent", bare) + "   (1 process)")
    if options.replicas == 1:  # like for like: one process each
        print(f"gateway / bare loop: {result['rate'] / bare['rate']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="250,500,1000,1500", help="Open-loop rates, events/s.")
    parser.add_argument("--seconds", type=float, default=5.0, help="Duration of each open-loop rate.")
    parser.add_argument("--closed-events", type=int, default=10_000, help="Events in the closed loop.")
    parser.add_argument("--connections", type=int, default=32, help="Keep-alive connections.")
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="Gateway processes, each on its own port; connections are spread evenly over them.",
    )
    options = parser.parse_args()
    options.rates = [float(rate) for rate in options.rates.split(",")]
    with running_nats() as server, postgres_server() as admin_url, fresh_database(admin_url) as url:
        asyncio.run(measure(server.url, url, options))


if __name__ == "__main__":
    main()
