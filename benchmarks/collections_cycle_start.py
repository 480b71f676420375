"""Collections: many groups' cycles starting at once, inside a Stripe request budget of 100/s.

Starts its own nats-server and Postgres (TEST_DATABASE_URL, else embedded) like the tests, the
Stripe simulator as its own process (``benchmarks.recorded_stripe_sim``: it notes every API request
it receives), and the collections service as its own process with
``ROSCA_COLLECTIONS_STRIPE_REQUESTS_PER_SECOND=100``. Then, not measured: ``--groups`` groups of
``--members`` members, each member with a BECS mandate saved on the simulator, activated (the
activations published as onboarding does, each group's rotation planned by the service). Then the
simulator's rate limit is switched on (``--simulator-rate-limit``, 105/s: a little above the budget,
so a burst over the budget would see 429s) and every group's first cycle start is published at
once, as the scheduler fires the start timers of groups starting the same day: the service debits
every member, each debit one PaymentIntent through the shared budget.

Reports:

- the share of the budget used: API requests the simulator received / (budget x seconds from the
  first to the last of them), and how long the whole start took;
- the 429s: how many the simulator answered (each retried by the services' Stripe client), and how
  many the services could not handle: dead letters, failed deliveries of the debit command
  (redelivered with back-off), debits put back on a timer or refused;
- duplicate PaymentIntents on the simulator's books, listed through the official SDK and counted per
  (contribution_id, attempt) of their metadata.

Usage: .venv/bin/python -m benchmarks.collections_cycle_start [--groups 1000] [--members 10] [--replicas 1]
       .venv/bin/python -m benchmarks.collections_cycle_start --quick    (50 groups x 10 members)
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import nats
import stripe
from nats.js import JetStreamContext
from sqlalchemy import func, select

from benchmarks.collections_groups import activation_of, cpu_seconds, start_command
from benchmarks.http_client import Connection
from contracts import subjects
from contracts.messages import Message
from contracts.onboarding import ActivatedMember, GroupActivated
from contracts.streams import DEADLETTER
from rosca.stack.ports import free_port
from services.collections.domain.rotation import plan_rotation
from services.collections.main import DEFINITION
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS
from services.collections.store.tables import debit_attempts, rotations
from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.streams import StreamSettings, provision_streams
from tests.infrastructure import fresh_database, postgres_server, running_nats

NAMESPACE = "benchstart"
NAMES = Namespace(NAMESPACE)
API_KEY = "sk_test_benchmark"
BUDGET = 100.0
DEBIT_CONSUMER = "collections-create-payment-intent"
START_CONSUMER = "collections-start-cycle"
SEEDING_CONNECTIONS = 16
STALL_SECONDS = 120.0  # no new debit recorded for this long: stop waiting and report what happened


# The simulator, and members with mandates on it.


@dataclass(frozen=True)
class Simulator:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rate_limit(self, per_second: float) -> None:
        answer = httpx.post(f"{self.base_url}/_sim/faults", json={"rate_limit_ops_per_second": per_second})
        answer.raise_for_status()

    def requests(self) -> list[tuple[float, str, str, int]]:
        answer = httpx.get(f"{self.base_url}/_bench/requests", timeout=60)
        answer.raise_for_status()
        return [(float(t), str(m), str(p), int(s)) for t, m, p, s in answer.json()]


@contextlib.contextmanager
def simulator_process(log: Path) -> Iterator[Simulator]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.recorded_stripe_sim", "--port", str(port)],
            stdout=output,
            stderr=output,
        )
    try:
        _wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=2), process, log)
        yield Simulator(port, process)
    finally:
        _stop(process, "the simulator", log)


def _form(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding (nested keys in brackets), as the SDK sends it."""
    flat: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            flat.extend(_form(value, name))
        else:
            flat.append((name, str(value)))
    return flat


async def members_with_mandates(simulator: Simulator, count: int) -> list[ActivatedMember]:
    """``count`` members, each a customer with a BECS account saved (an active mandate) on the simulator.

    Sent by the minimal client over keep-alive connections: through the SDK, seeding 10,000 members
    would take longer than the measurement."""
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/x-www-form-urlencoded"}
    members: list[ActivatedMember] = []
    numbers = iter(range(count))

    async def worker() -> None:
        connection = await Connection.open(simulator.port)
        try:
            for n in numbers:
                body = urlencode({"email": f"member{n}@example.com"}).encode()
                status, answer = await connection.post("/v1/customers", body, headers)
                if status != 200:
                    raise RuntimeError(f"customer: {status} {answer[:200]!r}")
                customer = json.loads(answer)["id"]
                setup = {
                    "customer": customer,
                    "payment_method": "pm_auBecsDebit_success",
                    "confirm": "true",
                    "mandate_data": {
                        "customer_acceptance": {
                            "type": "online",
                            "online": {"ip_address": "127.0.0.1", "user_agent": "benchmark"},
                        }
                    },
                }
                status, answer = await connection.post(
                    "/v1/setup_intents", urlencode(_form(setup)).encode(), headers
                )
                if status != 200:
                    raise RuntimeError(f"setup intent: {status} {answer[:200]!r}")
                saved = json.loads(answer)
                members.append(
                    ActivatedMember(
                        position=1,  # set per group below
                        member_id=f"member-{n}-{uuid.uuid4().hex[:8]}",
                        customer_id=customer,
                        payment_method_id=saved["payment_method"],
                        mandate_id=saved["mandate"],
                        connected_account_id=f"acct_{uuid.uuid4().hex[:16]}",
                    )
                )
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(SEEDING_CONNECTIONS)))
    return members


def activations(members: list[ActivatedMember], size: int) -> list[GroupActivated]:
    now = datetime.now(UTC)
    return [
        activation_of(
            [m.model_copy(update={"position": p}) for p, m in enumerate(members[first : first + size], 1)],
            now,
        )
        for first in range(0, len(members) - size + 1, size)
    ]


async def publish_all(js: JetStreamContext, subject: str, messages: list[Message]) -> None:
    for first in range(0, len(messages), 256):
        await asyncio.gather(*(_publish(js, subject, m) for m in messages[first : first + 256]))


async def _publish(js: JetStreamContext, subject: str, message: Message) -> None:
    headers = message_headers(message)
    headers["Nats-Msg-Id"] = str(message.message_id)
    await js.publish(NAMES.subject(subject), message.model_dump_json().encode(), headers=headers)


# The service as its own process.


@dataclass(frozen=True)
class Service:
    port: int
    process: subprocess.Popen[bytes]

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the service's Prometheus metrics, 0 when it has none."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
            if match and ",".join(sorted(match.group(1).split(","))) == wanted:
                return float(match.group(2))
        return 0.0


@contextlib.contextmanager
def collections_process(database_url: str, nats_url: str, stripe_url: str, log: Path) -> Iterator[Service]:
    port = free_port()
    environment = {
        **os.environ,
        "ROSCA_COLLECTIONS_DATABASE_URL": database_url,
        "ROSCA_COLLECTIONS_NATS_URL": nats_url,
        "ROSCA_COLLECTIONS_NAMESPACE": NAMESPACE,
        "ROSCA_COLLECTIONS_HTTP_PORT": str(port),
        "ROSCA_COLLECTIONS_STRIPE_API_KEY": API_KEY,
        "ROSCA_COLLECTIONS_STRIPE_API_BASE_URL": stripe_url,
        "ROSCA_COLLECTIONS_STRIPE_REQUESTS_PER_SECOND": str(BUDGET),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.collections"], env=environment, stdout=output, stderr=output
        )
    try:
        _wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2), process, log)
        yield Service(port, process)
    finally:
        _stop(process, "the collections service", log)


def _wait_until(probe: Any, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if probe().status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"a process did not become ready; see {log}")


def _stop(process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        print(f"note: {what} did not stop within 15 s of SIGTERM; killed it ({log})")
        process.kill()
        process.wait(10)


# What happened.


async def count(database: Database, query: Any) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(query) or 0)


def debits_recorded(cycle_ids: list[uuid.UUID]) -> Any:
    return (
        select(func.count())
        .select_from(debit_attempts)
        .where(debit_attempts.c.cycle_id.in_(cycle_ids), debit_attempts.c.payment_intent_id.is_not(None))
    )


async def dead_letters(js: JetStreamContext) -> int:
    return int((await js.stream_info(NAMES.stream(DEADLETTER.name))).state.messages)


def duplicate_payment_intents(simulator: Simulator) -> tuple[int, int]:
    """PaymentIntents on the simulator's books, and how many repeat a (contribution, attempt)."""
    client = stripe.StripeClient(
        API_KEY, base_addresses={"api": simulator.base_url, "connect": simulator.base_url}
    )
    seen: Counter[tuple[str, str]] = Counter()
    for intent in client.v1.payment_intents.list({"limit": 100}).auto_paging_iter():
        metadata = intent.to_dict().get("metadata") or {}
        seen[(str(metadata.get("contribution_id", "")), str(metadata.get("attempt", "")))] += 1
    return sum(seen.values()), sum(n - 1 for n in seen.values() if n > 1)


async def measure(nats_url: str, database_url: str, options: argparse.Namespace) -> None:
    await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, database_url)
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await provision_streams(js, NAMES, StreamSettings())
    database = Database(database_url)
    expected = options.groups * options.members
    logs = [
        options.log_dir
        / ("cycle-start-collections.log" if n == 0 else f"cycle-start-collections-{n + 1}.log")
        for n in range(options.replicas)
    ]
    with (
        simulator_process(options.log_dir / "cycle-start-simulator.log") as simulator,
        contextlib.ExitStack() as replicas,
    ):
        services = [
            replicas.enter_context(collections_process(database_url, nats_url, simulator.base_url, log))
            for log in logs
        ]
        began = time.perf_counter()
        members = await members_with_mandates(simulator, expected)
        groups = activations(members, options.members)
        await publish_all(js, subjects.ONBOARDING_GROUP_ACTIVATED, list(groups))
        while await count(database, select(func.count()).select_from(rotations)) < len(groups):
            await asyncio.sleep(0.2)
        plans = [plan_rotation(group, BUSINESS_DAYS)[0] for group in groups]
        cycle_ids = [plan.cycle_id for plan in plans]
        print(
            f"seeded {len(groups):,} groups x {options.members} members on the simulator and activated "
            f"them ({time.perf_counter() - began:.0f} s, not measured)"
        )

        simulator.rate_limit(options.simulator_rate_limit)
        cpu_before = _cpu_of(services), cpu_seconds(simulator.process.pid)
        started = time.time()
        await publish_all(js, subjects.COLLECTIONS_START_CYCLE, [start_command(plan) for plan in plans])
        recorded, last_change = 0, time.monotonic()
        while recorded < expected and time.monotonic() - last_change < STALL_SECONDS:
            await asyncio.sleep(0.5)
            now_recorded = await count(database, debits_recorded(cycle_ids))
            if now_recorded != recorded:
                recorded, last_change = now_recorded, time.monotonic()
        finished = time.time()
        service_cpu = _cpu_of(services) - cpu_before[0]
        simulator_cpu = cpu_seconds(simulator.process.pid) - cpu_before[1]
        simulator.rate_limit(0)  # listing the books below is not part of the budget

        requests = [r for r in simulator.requests() if r[0] >= started]
        debits_sent = [r for r in requests if r[1] == "POST" and r[2] == "/v1/payment_intents"]
        limited = sum(1 for r in requests if r[3] == 429)
        first, last = requests[0][0], requests[-1][0]
        window = last - first + 1 / BUDGET  # n requests exactly on budget span (n - 1) / budget
        print(
            f"debits recorded: {recorded:,} of {expected:,} in {finished - started:.1f} s from the starts' "
            f"publication ({recorded / (finished - started):,.1f} debits/s)"
        )
        print(
            f"Stripe requests received by the simulator: {len(requests):,} "
            f"({len(debits_sent):,} PaymentIntent creates) "
            f"from {first - started:.2f} s to {last - started:.2f} s: "
            f"{len(requests) / window:,.1f} requests/s = {len(requests) / (BUDGET * window):.1%} of the "
            f"{BUDGET:.0f}/s budget"
        )
        print(
            f"CPU while starting: collections {_processes(len(services))} {service_cpu:.1f} s "
            f"({service_cpu / max(recorded, 1) * 1000:.1f} ms per debit), simulator process "
            f"{simulator_cpu:.1f} s ({simulator_cpu / max(len(requests), 1) * 1000:.1f} ms per request)"
        )
        retried, dead = (
            sum(
                s.metric("rosca_messages_handled_total", consumer=DEBIT_CONSUMER, outcome=o) for s in services
            )
            for o in ("retried", "dead_lettered")
        )
        log_text = "".join(log.read_text(errors="replace") for log in logs)
        postponed = log_text.count("calling again after")
        refused = log_text.count("Stripe refused debit")
        print(
            f"429s answered by the simulator (rate limit {options.simulator_rate_limit:.0f}/s): {limited:,}; "
            f"not handled by the services: dead letters {await dead_letters(js)} ({dead:.0f} of debit "
            f"commands), failed deliveries of debit commands {retried:.0f}, debits put back on a timer "
            f"{postponed}, debits refused {refused}"
        )
        print_handling_times(services)
        intents, duplicates = await asyncio.to_thread(duplicate_payment_intents, simulator)
        print(
            f"PaymentIntents on the simulator's books: {intents:,}; duplicates per (contribution_id, "
            f"attempt): {duplicates}"
        )
    await database.dispose()
    await client.close()


def print_handling_times(services: list[Service]) -> None:
    """How long the cycles' starts and the debits took each, from fetch to ack (the services' own
    histogram): where a debit waits, for the budget, Stripe, its cycle's lock or the CPU."""
    for consumer in (START_CONSUMER, DEBIT_CONSUMER):
        handled = sum(s.metric("rosca_message_handling_seconds_count", consumer=consumer) for s in services)
        seconds = sum(s.metric("rosca_message_handling_seconds_sum", consumer=consumer) for s in services)
        print(
            f"{consumer}: {handled:,.0f} messages, {seconds / max(handled, 1) * 1000:.0f} ms from fetch "
            "to ack on average"
        )


def _cpu_of(services: list[Service]) -> float:
    return sum(cpu_seconds(service.process.pid) for service in services)


def _processes(count: int) -> str:
    return "process" if count == 1 else f"processes ({count} replicas, together)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 groups x 10 members")
    parser.add_argument(
        "--simulator-rate-limit",
        type=float,
        default=105.0,
        help="requests/s the simulator answers before 429 (a little above the 100/s budget)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="collections processes sharing the work and the one Stripe budget (NATS key-value)",
    )
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    options = parser.parse_args()
    if options.quick:
        options.groups, options.members = 50, 10
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with running_nats() as server, postgres_server() as admin_url, fresh_database(admin_url) as url:
        asyncio.run(measure(server.url, url, options))
    print(f"load average after the run {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
