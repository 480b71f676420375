"""Collections saga: Stripe's debit reports in, state, postings and outbox committed, per second.

Starts its own nats-server and Postgres (TEST_DATABASE_URL, else embedded) like the tests, then:

1. seeds ``--groups`` groups of ``--members`` members through the service's own code (activation
   planned into cycles, the first cycle of each started), in the benchmark process and not
   measured; the debit commands the starts queued are marked sent, as if Stripe had been asked;
2. runs the collections service as its own process (``python -m services.collections``, as
   deployed) and publishes, onto the STRIPE stream of its namespace, the events the webhook gateway
   would publish for every contribution (a Stripe event body through the gateway's own
   ``normalize``): ``payment_intent.processing``, then ``payment_intent.succeeded``. A contribution's
   ``succeeded`` is published only once its ``processing`` is acked, so each report is a real
   transition (pending → processing → succeeded; the last debit of a cycle funds it and asks
   payouts for the pot) and the two consumers work at the same time, as they would in production;
3. stops the service and runs the runtime's bare loop on the same messages: the same ``Consumer``,
   inbox included, one per subject as the service has, with a handler that does nothing; first in
   batch mode, as the service's report consumers run (the ratio is to this one), then one message
   at a time.

Reports transitions per second (reports applied over the time from the first publish to the last
ack), the bare loop's rate and the ratio. Usage:

    .venv/bin/python -m benchmarks.collections_saga [--groups 200] [--members 10]
"""

import argparse
import asyncio
import contextlib
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import uvloop
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text, update

from benchmarks.collections_groups import AMOUNT, activation_of, cpu_seconds, start_command
from contracts import subjects
from contracts.onboarding import ActivatedMember, GroupActivated
from contracts.streams import DEADLETTER, STRIPE
from contracts.stripe_events import StripeEventReceived
from rosca.stack.ports import free_port
from services.collections.domain.rotation import CyclePlan, plan_rotation
from services.collections.main import DEFINITION
from services.collections.service_layer import rotations
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS
from services.collections.store.tables import contributions, cycles, ledger_transactions
from services.runtime.clock import SystemClock
from services.runtime.consumer import (
    BatchHandling,
    Consumer,
    ConsumerPolicy,
    Delivered,
    Handling,
    MessageRouter,
    run_consumers,
)
from services.runtime.db import Database
from services.runtime.memory import freeze_long_lived_objects
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.streams import StreamSettings, provision_streams
from services.runtime.tables import outbox
from services.webhooks.normalize import normalize
from tests.infrastructure import fresh_database, postgres_server, running_nats

NAMESPACE = "benchsaga"
NAMES = Namespace(NAMESPACE)
PROCESSING = "payment_intent.processing"
SUCCEEDED = "payment_intent.succeeded"
# The service's durables for the two reports (handlers.py names them after the event type).
SERVICE_DURABLES = {
    PROCESSING: "collections-payment-intent-processing",
    SUCCEEDED: "collections-payment-intent-succeeded",
}
# The bare loop's durables: in batch mode, as the service's report consumers run; one at a time.
BARE_DURABLES = {PROCESSING: "bench-bare-processing", SUCCEEDED: "bench-bare-succeeded"}
SINGLE_DURABLES = {PROCESSING: "bench-single-processing", SUCCEEDED: "bench-single-succeeded"}
PUBLISH_WINDOW = 256  # PubAcks awaited together, as the gateway's batches do


# Seeding, through the service's own code.


def activation(members: int) -> GroupActivated:
    chosen = [
        ActivatedMember(
            position=p,
            member_id=f"member-{uuid.uuid4().hex[:12]}",
            customer_id=f"cus_{uuid.uuid4().hex[:14]}",
            payment_method_id=f"pm_{uuid.uuid4().hex[:24]}",
            mandate_id=f"mandate_{uuid.uuid4().hex[:24]}",
            connected_account_id=f"acct_{uuid.uuid4().hex[:16]}",
        )
        for p in range(1, members + 1)
    ]
    return activation_of(chosen, datetime.now(UTC))


async def seed(database: Database, groups: int, members: int) -> list[CyclePlan]:
    """Activated groups with their first cycle collecting: every debit asked of Stripe, none answered."""
    started: list[CyclePlan] = []
    for first in range(0, groups, 25):
        async with database.transaction() as session:
            for _ in range(min(25, groups - first)):
                activated = activation(members)
                now = datetime.now(UTC)
                await rotations.on_group_activated(session, activated, now)
                plan = plan_rotation(activated, BUSINESS_DAYS)[0]
                assert await rotations.on_start_cycle(session, start_command(plan), now)
                started.append(plan)
    async with database.transaction() as session:
        # The start timers and debit commands were for the scheduler and for Stripe: not part of this.
        await session.execute(update(outbox).values(published_at=func.now()))
    return started


# Stripe's reports, as the webhook gateway publishes them.


@dataclass(frozen=True)
class Debit:
    plan: CyclePlan
    contribution_id: uuid.UUID
    member_id: str
    payment_intent_id: str
    charge_id: str


def debits_of(plans: list[CyclePlan]) -> list[Debit]:
    return [
        Debit(
            plan,
            planned.contribution_id,
            planned.member.member_id,
            f"pi_{uuid.uuid4().hex[:24]}",
            f"py_{uuid.uuid4().hex[:24]}",
        )
        for plan in plans
        for planned in plan.contributions
    ]


def report(debit: Debit, event_type: str) -> StripeEventReceived:
    """The gateway's message for Stripe's event about the debit (a body like the simulator's)."""
    status = event_type.rsplit(".", 1)[1]
    moment = int(time.time())
    plan = debit.plan
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": moment,
        "data": {
            "object": {
                "id": debit.payment_intent_id,
                "object": "payment_intent",
                "amount": AMOUNT,
                "amount_received": AMOUNT if status == "succeeded" else 0,
                "currency": "aud",
                "customer": f"cus_{uuid.uuid4().hex[:14]}",
                "latest_charge": debit.charge_id,
                "metadata": {
                    "group_id": str(plan.group_id),
                    "cycle_id": str(plan.cycle_id),
                    "cycle_number": str(plan.cycle_number),
                    "member_id": debit.member_id,
                    "contribution_id": str(debit.contribution_id),
                    "attempt": "1",
                },
                "payment_method": f"pm_{uuid.uuid4().hex[:24]}",
                "payment_method_types": ["au_becs_debit"],
                "status": status,
                "transfer_group": plan.transfer_group,
                "last_payment_error": None,
                "livemode": False,
                "created": moment - 60,
                "description": None,
                "statement_descriptor": None,
            },
        },
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": f"contribution-{debit.contribution_id}-1"},
        "type": event_type,
    }
    return normalize(event)


class Publisher:
    """Publishes the gateway's messages (``Nats-Msg-Id`` = event id) with their PubAcks awaited in windows."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def publish(self, messages: list[StripeEventReceived]) -> list[int]:
        """The stream sequence of each message, in order."""
        sequences: list[int] = []
        for first in range(0, len(messages), PUBLISH_WINDOW):
            window = messages[first : first + PUBLISH_WINDOW]
            acks = await asyncio.gather(*(self._publish_one(message) for message in window))
            sequences.extend(ack.seq for ack in acks)
        return sequences

    async def _publish_one(self, message: StripeEventReceived) -> Any:
        headers = message_headers(message)
        headers["Nats-Msg-Id"] = message.event_id
        return await self._js.publish(
            NAMES.subject(subjects.stripe_event(message.event_type)),
            message.model_dump_json().encode(),
            headers=headers,
        )


async def consumed(js: JetStreamContext, durables: dict[str, str], expected: int) -> bool:
    """Every one of ``expected`` messages was delivered to and acked by the durables."""
    acked = 0
    for durable in durables.values():
        try:
            info = await js.consumer_info(NAMES.stream(STRIPE.name), NAMES.durable(durable))
        except NotFoundError:  # not subscribed yet
            return False
        if info.num_pending or info.num_ack_pending:
            return False
        acked += info.delivered.consumer_seq if info.delivered else 0
    return acked >= expected


async def ack_floor(js: JetStreamContext, durable: str) -> int:
    info = await js.consumer_info(NAMES.stream(STRIPE.name), NAMES.durable(durable))
    return info.ack_floor.stream_seq if info.ack_floor else 0


async def saga_run(js: JetStreamContext, debits: list[Debit]) -> float:
    """Feed every report to the service; seconds from the first publish to the last ack."""
    processing = [report(debit, PROCESSING) for debit in debits]
    succeeded = [report(debit, SUCCEEDED) for debit in debits]
    publisher = Publisher(js)
    began = time.perf_counter()
    sequences = await publisher.publish(processing)
    sent = 0
    while sent < len(succeeded):
        # A debit's success follows its processing, never overtakes it (Stripe's are days apart).
        floor = await ack_floor(js, SERVICE_DURABLES[PROCESSING])
        ready = sent
        while ready < len(succeeded) and sequences[ready] <= floor:
            ready += 1
        if ready > sent:
            await publisher.publish(succeeded[sent:ready])
            sent = ready
        else:
            await asyncio.sleep(0.01)
    while not await consumed(js, SERVICE_DURABLES, 2 * len(debits)):
        await asyncio.sleep(0.01)
    return time.perf_counter() - began


# What the service committed.


@dataclass(frozen=True)
class Books:
    succeeded: int
    paying_out: int
    saves: int
    ledger_transactions: int
    outbox_rows: int
    outbox_unpublished: int


async def books(database: Database) -> Books:
    async with database.transaction() as session:
        succeeded = await session.scalar(
            select(func.count()).select_from(contributions).where(contributions.c.status == "succeeded")
        )
        paying_out = await session.scalar(
            select(func.count()).select_from(cycles).where(cycles.c.status == "paying_out")
        )
        saves = await session.scalar(select(func.coalesce(func.sum(cycles.c.version - 1), 0)))
        ledger = await session.scalar(select(func.count()).select_from(ledger_transactions))
        rows = await session.scalar(select(func.count()).select_from(outbox))
        unpublished = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return Books(
        int(succeeded or 0),
        int(paying_out or 0),
        int(saves or 0),
        int(ledger or 0),
        int(rows or 0),
        int(unpublished or 0),
    )


async def dead_letters(js: JetStreamContext) -> int:
    info = await js.stream_info(NAMES.stream(DEADLETTER.name))
    return int(info.state.messages)


# The service as its own process.


@dataclass(frozen=True)
class RunningService:
    process: subprocess.Popen[bytes]
    port: int


def batches(services: list[RunningService]) -> str:
    """Reports per transaction of the two report consumers, and how long a report waited from its
    fetch to its ack (the services' own metrics)."""
    totals: dict[str, float] = {}
    for service in services:
        text = httpx.get(f"http://127.0.0.1:{service.port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("consumer") in SERVICE_DURABLES.values():
                    totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    handled, transactions = (
        totals.get("rosca_messages_handled_total", 0.0),
        totals.get("rosca_message_batches_total"),
    )
    waited = totals.get("rosca_message_handling_seconds_sum", 0.0) / max(handled, 1.0)
    size = (
        f"{handled / transactions:.1f} reports a transaction" if transactions else "one report a transaction"
    )
    return f"{size}, {waited * 1000:.0f} ms from fetch to ack (mean over reports)"


@contextlib.contextmanager
def collections_process(
    database_url: str, nats_url: str, log: Path, profile: Path | None, batch_max_messages: int | None
) -> Iterator[RunningService]:
    port = free_port()
    environment = {
        **os.environ,
        "ROSCA_COLLECTIONS_DATABASE_URL": database_url,
        "ROSCA_COLLECTIONS_NATS_URL": nats_url,
        "ROSCA_COLLECTIONS_NAMESPACE": NAMESPACE,
        "ROSCA_COLLECTIONS_HTTP_PORT": str(port),
        # No debit is asked of Stripe during the run; each success asks for its charge's fee
        # (ReadChargeFee, another consumer), which fails here and is retried: not a transition.
        "ROSCA_COLLECTIONS_STRIPE_API_KEY": "sk_test_benchmark_never_used",
        "ROSCA_COLLECTIONS_STRIPE_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "ROSCA_COLLECTIONS_LOG_LEVEL": "WARNING",
    }
    if batch_max_messages is not None:
        environment["ROSCA_COLLECTIONS_CONSUMER_BATCH_MAX_MESSAGES"] = str(batch_max_messages)
    with log.open("wb") as output:
        profiler = ("-m", "cProfile", "-o", str(profile)) if profile else ()
        process = subprocess.Popen(
            [sys.executable, *profiler, "-m", "services.collections"],
            env=environment,
            stdout=output,
            stderr=output,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the collections service did not become ready; see {log}")
            time.sleep(0.2)
        yield RunningService(process, port)
    finally:
        # SIGINT when profiling: uvicorn re-raises the signal it stopped on, and only an interrupt
        # lets cProfile write its profile on the way out.
        process.send_signal(signal.SIGINT if profile else signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            print(f"note: the collections service did not stop within 15 s of SIGTERM; killed it ({log})")
            process.kill()
            process.wait(10)


# The runtime's bare loop.

bare_router = MessageRouter(service="bench")  # batch mode, as the service's report consumers
single_router = MessageRouter(service="bench")  # one message at a time


async def do_nothing(message: StripeEventReceived, handling: Handling[None]) -> None:
    """The cheapest handler: only the runtime's own work (parse, inbox row, commit, ack) is left."""


async def do_nothing_to_any(
    batch: list[Delivered[StripeEventReceived]], handling: BatchHandling[None]
) -> None:
    """The cheapest batch handler: the runtime's own work (parse, inbox rows, commit, acks) is left."""


for _event_type, _durable in BARE_DURABLES.items():
    bare_router.subscriber(
        subjects.stripe_event(_event_type), stream=STRIPE.name, durable=_durable, batch=do_nothing_to_any
    )(do_nothing)
for _event_type, _durable in SINGLE_DURABLES.items():
    single_router.subscriber(subjects.stripe_event(_event_type), stream=STRIPE.name, durable=_durable)(
        do_nothing
    )


async def bare_run(
    nats_url: str, database_url: str, expected: int, router: MessageRouter, durables: dict[str, str]
) -> tuple[float, float]:
    """The same messages through the runtime's Consumer with ``router``'s handlers, which do
    nothing: seconds to ack them all, and the CPU seconds this process spent on it."""
    client = await nats.connect(nats_url)
    js = client.jetstream()
    database = Database(database_url)
    # The service's defaults (services/runtime/settings.py).
    policy = ConsumerPolicy(max_deliver=5, backoff_seconds=(1.0, 5.0, 30.0, 120.0), ack_wait_seconds=30.0)
    consumers = [
        Consumer("bench", subscription, js=js, database=database, namespace=NAMES, clock=SystemClock(),
                 policy=policy)
        for subscription in router.subscriptions
    ]  # fmt: skip
    freeze_long_lived_objects()  # as the service process does after start-up
    began, cpu_before = time.perf_counter(), time.process_time()
    running = asyncio.create_task(run_consumers(consumers))
    try:
        while not await consumed(js, durables, expected):
            await asyncio.sleep(0.01)
        return time.perf_counter() - began, time.process_time() - cpu_before
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await database.dispose()
        await client.close()


# The run.


async def prepare(nats_url: str, database_url: str, groups: int, members: int) -> list[Debit]:
    await asyncio.to_thread(upgrade_to_head, DEFINITION.migrations_dir, database_url)
    client = await nats.connect(nats_url)
    await provision_streams(client.jetstream(), NAMES, StreamSettings())
    await client.close()
    database = Database(database_url)
    began = time.perf_counter()
    plans = await seed(database, groups, members)
    await database.dispose()
    debits = debits_of(plans)
    print(
        f"seeded {groups:,} groups x {members} members: {len(plans):,} cycles collecting, "
        f"{len(debits):,} debits out ({time.perf_counter() - began:.1f} s, not measured)"
    )
    return debits


async def database_backends(database: Database) -> dict[int, float]:
    """The CPU seconds so far of each Postgres server process serving this database (the service's
    connections), this one excepted."""
    async with database.transaction() as session:
        pids = await session.scalars(
            text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        found = {}
        for pid in pids:
            with contextlib.suppress(OSError):  # gone meanwhile, or a server out of reach
                found[pid] = cpu_seconds(pid)
    return found


async def measure_saga(
    nats_url: str,
    database_url: str,
    debits: list[Debit],
    groups: int,
    *,
    service_pids: list[int],
    nats_pid: int,
) -> float:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    database = Database(database_url)
    before = await books(database)
    backends_before = await database_backends(database)
    cpu_before, nats_before = sum(map(cpu_seconds, service_pids)), cpu_seconds(nats_pid)
    own_before = time.process_time()
    elapsed = await saga_run(js, debits)
    cpu = sum(map(cpu_seconds, service_pids)) - cpu_before
    nats_cpu = cpu_seconds(nats_pid) - nats_before
    own_cpu = time.process_time() - own_before
    backends_after = await database_backends(database)
    postgres_cpu = sum(seconds - backends_before.get(pid, 0.0) for pid, seconds in backends_after.items())
    transitions = 2 * len(debits)
    after = await books(database)
    print(
        f"saga: {transitions:,} reports ({len(debits):,} processing + {len(debits):,} succeeded) applied in "
        f"{elapsed:.2f} s = {transitions / elapsed:,.0f} transitions/s; service "
        f"{'process' if len(service_pids) == 1 else f'processes ({len(service_pids)})'} CPU "
        f"{cpu:.2f} s = {cpu / transitions * 1000:.2f} ms per transition"
    )
    print(
        f"      CPU per transition elsewhere: Postgres (the service's {len(backends_after)} connections) "
        f"{postgres_cpu / transitions * 1000:.2f} ms, nats-server {nats_cpu / transitions * 1000:.2f} ms, "
        f"this process (publishing as the gateway would) {own_cpu / transitions * 1000:.2f} ms"
    )
    saves = after.saves - before.saves
    ledger = after.ledger_transactions - before.ledger_transactions
    print(
        f"      committed: {after.succeeded:,} contributions succeeded, {after.paying_out:,} of {groups:,} "
        f"cycles paying out, {saves:,} cycle saves, {ledger:,} ledger "
        f"transactions, {after.outbox_rows - before.outbox_rows:,} outbox messages "
        f"({after.outbox_unpublished:,} not yet relayed), dead letters {await dead_letters(js)}"
    )
    if after.succeeded != len(debits) or saves != transitions or after.paying_out != groups:
        print("      WARNING: not every report was a transition; the figure above is not transitions/s")
    await database.dispose()
    await client.close()
    return transitions / elapsed


def run_bare(nats_url: str, database_url: str, expected: int, *, batches: bool) -> float:
    router, durables = (bare_router, BARE_DURABLES) if batches else (single_router, SINGLE_DURABLES)
    # On uvloop, as uvicorn runs the service.
    elapsed, cpu = uvloop.run(bare_run(nats_url, database_url, expected, router, durables))
    mode = "in batches, as the service's" if batches else "one message at a time"
    print(
        f"bare loop ({mode}): {expected:,} messages (same runtime Consumer, inbox, one consumer per "
        f"subject, a handler doing nothing) in {elapsed:.2f} s = {expected / elapsed:,.0f} messages/s; "
        f"process CPU {cpu:.1f} s = {cpu / expected * 1000:.2f} ms per message"
    )
    return expected / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=200, help="groups seeded, one cycle collecting each")
    parser.add_argument("--members", type=int, default=10, help="members (contributions) per group")
    parser.add_argument("--log", type=Path, default=Path("/tmp/collections-saga-benchmark.log"))
    parser.add_argument(
        "--profile", type=Path, help="run the service under cProfile, its profile written here"
    )
    parser.add_argument(
        "--replicas", type=int, default=1, help="collections processes on the same database (default 1)"
    )
    parser.add_argument(
        "--batch-max-messages",
        type=int,
        help="the service's ROSCA_COLLECTIONS_CONSUMER_BATCH_MAX_MESSAGES (default: its own, 200; "
        "1 applies one report at a time, as before batch mode)",
    )
    options = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with running_nats() as server, postgres_server() as admin_url, fresh_database(admin_url) as url:
        debits = asyncio.run(prepare(server.url, url, options.groups, options.members))
        with contextlib.ExitStack() as replicas:
            services = [
                replicas.enter_context(
                    collections_process(
                        url,
                        server.url,
                        options.log.with_suffix(f".{replica}") if replica else options.log,
                        options.profile,
                        options.batch_max_messages,
                    )
                )
                for replica in range(options.replicas)
            ]
            assert server.process is not None
            saga = asyncio.run(
                measure_saga(
                    server.url,
                    url,
                    debits,
                    options.groups,
                    service_pids=[service.process.pid for service in services],
                    nats_pid=server.process.pid,
                )
            )
            print(f"      batches: {batches(services)}")
        bare = run_bare(server.url, url, 2 * len(debits), batches=True)
        run_bare(server.url, url, 2 * len(debits), batches=False)
    print(
        f"saga / bare loop in batches: {saga / bare:.0%}; load average after the run {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
