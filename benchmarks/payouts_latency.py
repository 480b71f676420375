"""Payouts: from a cycle's last contribution succeeding to its transfers requested from Stripe, with
many cycles settling at once.

Starts its own nats-server and Postgres (TEST_DATABASE_URL, else embedded) like the tests, the
Stripe simulator as its own process (``benchmarks.recorded_stripe_sim``: it notes the arrival and
idempotency key of every API request), and the webhook gateway, collections and payouts as their
own processes, with a Stripe request budget high enough (``--budget``, 10,000/s) not to be the limit.

Not measured: ``--cycles`` groups of ``--members`` members, each member with a BECS mandate on the
simulator, each group's recipient one of a few onboarded Express accounts; every group activated and
its first cycle started (collections debits every member on the simulator); the debits settle on the
simulator; every ``payment_intent.succeeded`` but one per cycle is delivered to the gateway, signed,
and collections books them.

Measured: the last ``payment_intent.succeeded`` of every cycle posted to the gateway at once (over
``--connections`` keep-alive connections, as Stripe delivers a burst), each cycle's clock starting
when its event is sent; it stops when the simulator has received the cycle's last transfer request
(``POST /v1/transfers`` with key ``payout-<cycle>-<charge>``). Reports p50, p99 and max over the
cycles, and checks one transfer key per charge and no dead letters.

With ``--all-at-once`` every contribution's ``payment_intent.succeeded`` is held back and all are
posted at once (1,000 cycles x 10 members: 10,000 contributions in flight through collections and
payouts); each contribution is also timed from its event sent to its success booked in collections'
ledger, and each cycle from its last event sent.

With ``--rate R`` the last events are posted as a steady stream of R a second instead of at once:
the latency of a cycle settling while others keep settling, rather than of the last of a burst.

Usage: .venv/bin/python -m benchmarks.payouts_latency [--cycles 1000] [--members 2] [--rate R]
       .venv/bin/python -m benchmarks.payouts_latency --quick    (50 cycles x 2 members)
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
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import stripe
from nats.js import JetStreamContext
from sqlalchemy import func, select

from benchmarks.collections_cycle_start import Simulator, members_with_mandates, simulator_process
from benchmarks.collections_groups import activation_of, cpu_seconds, start_command
from benchmarks.http_client import Connection
from contracts import subjects
from contracts.messages import Message
from contracts.onboarding import ActivatedMember, GroupActivated
from contracts.streams import DEADLETTER
from rosca.stack.ports import free_port
from services.collections.domain.rotation import plan_rotation
from services.collections.main import DEFINITION as COLLECTIONS
from services.collections.service_layer.cycle_steps import BUSINESS_DAYS
from services.collections.store.tables import contributions, debit_attempts, ledger_transactions, rotations
from services.payouts.main import DEFINITION as PAYOUTS
from services.runtime.db import Database
from services.runtime.migrations import upgrade_to_head
from services.runtime.naming import Namespace
from services.runtime.outbox import message_headers
from services.runtime.streams import StreamSettings, provision_streams
from services.webhooks.main import DEFINITION as WEBHOOKS
from tests.infrastructure import fresh_database, postgres_server, running_nats

NAMESPACE = "benchpayouts"
NAMES = Namespace(NAMESPACE)
API_KEY = "sk_test_benchmark"
SECRET = "whsec_payouts_benchmark_0123456789"
WEBHOOK_PATH = "/webhooks/stripe/platform"
RECIPIENT_ACCOUNTS = 10
WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def service_process(name: str, settings: dict[str, str], log: Path) -> Iterator[Service]:
    """``python -m services.<name>`` with ``ROSCA_<NAME>_<setting>`` for each setting, once ready."""
    port = free_port()
    prefix = f"ROSCA_{name.upper()}_"
    environment = {
        **os.environ,
        **{prefix + key: value for key, value in settings.items()},
        f"{prefix}NAMESPACE": NAMESPACE,
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=environment, stdout=output, stderr=output
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not become ready; see {log}")
            time.sleep(0.2)
        yield Service(name, port, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def onboarded_accounts(simulator: Simulator, count: int) -> list[str]:
    """Express accounts that can receive transfers, onboarded through their links as a member would."""
    client = _stripe(simulator)
    found = []
    for n in range(count):
        account = client.v1.accounts.create(
            {
                "country": "AU",
                "email": f"recipient{n}@example.com",
                "controller": {
                    "stripe_dashboard": {"type": "express"},
                    "fees": {"payer": "application"},
                    "losses": {"payments": "application"},
                    "requirement_collection": "stripe",
                },
                "capabilities": {"transfers": {"requested": True}},
                "settings": {"payouts": {"schedule": {"interval": "manual"}}},
            }
        )
        link = client.v1.account_links.create(
            {
                "account": account.id,
                "type": "account_onboarding",
                "refresh_url": "http://127.0.0.1/again",
                "return_url": "http://127.0.0.1/done",
            }
        )
        assert httpx.get(link.url, follow_redirects=False).status_code == 302
        found.append(account.id)
    return found


def _stripe(simulator: Simulator) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": simulator.base_url, "connect": simulator.base_url}
    )


def groups_of(members: list[ActivatedMember], size: int, accounts: list[str]) -> list[GroupActivated]:
    """Groups of ``size`` members; each group's first recipient is paid to one of ``accounts``."""
    now = datetime.now(UTC)
    groups = []
    for n, first in enumerate(range(0, len(members) - size + 1, size)):
        chosen = [
            m.model_copy(update={"position": p}) for p, m in enumerate(members[first : first + size], 1)
        ]
        chosen[0] = chosen[0].model_copy(update={"connected_account_id": accounts[n % len(accounts)]})
        groups.append(activation_of(chosen, now))
    return groups


async def publish_all(js: JetStreamContext, subject: str, messages: list[Message]) -> None:
    async def publish(message: Message) -> None:
        headers = message_headers(message)
        headers["Nats-Msg-Id"] = str(message.message_id)
        await js.publish(NAMES.subject(subject), message.model_dump_json().encode(), headers=headers)

    for first in range(0, len(messages), 256):
        await asyncio.gather(*(publish(m) for m in messages[first : first + 256]))


async def count(database: Database, query: Any) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(query) or 0)


async def until(what: str, check: Any, expected: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    seen = -1
    while (seen := await check()) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}: {seen} of {expected}")
        await asyncio.sleep(0.25)


def succeeded_events(simulator: Simulator) -> list[dict[str, Any]]:
    client = _stripe(simulator)
    page = client.v1.events.list({"type": "payment_intent.succeeded", "limit": 100})
    return [event.to_dict() for event in page.auto_paging_iter()]


def signed(event: dict[str, Any]) -> tuple[bytes, str]:
    moment = int(time.time())
    body = json.dumps(event).encode()
    digest = hmac.new(SECRET.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={moment},v1={digest}"


async def post_events(
    port: int,
    events: list[dict[str, Any]],
    connections: int,
    sent_at: dict[str, float] | None = None,
    rate: float | None = None,
) -> int:
    """Each event to the gateway, signed; notes when each was sent (by event id). Non-2xx answers.

    ``rate``: events a second, the n-th sent no sooner than n / rate seconds after the first (a
    steady stream of settling cycles); none: as fast as the connections go (a burst).
    """
    queue = enumerate(events)
    failures = 0
    first = time.monotonic()

    async def worker() -> None:
        nonlocal failures
        connection = await Connection.open(port)
        try:
            for index, event in queue:
                if rate:
                    await asyncio.sleep(max(0.0, first + index / rate - time.monotonic()))
                body, signature = signed(event)
                headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
                if sent_at is not None:
                    sent_at[event["id"]] = time.time()
                status, _ = await connection.post(WEBHOOK_PATH, body, headers)
                failures += status >= 300
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return failures


def transfer_keys(simulator: Simulator) -> list[tuple[float, str]]:
    answer = httpx.get(f"{simulator.base_url}/_bench/idempotency_keys", timeout=60)
    answer.raise_for_status()
    return [(float(t), str(k)) for t, k in answer.json() if str(k).startswith("payout-")]


async def stream_times(js: JetStreamContext, subject: str) -> dict[str, float]:
    """When each cycle's message on ``subject`` reached the PAYOUTS stream (the first, if several)."""
    stream = NAMES.stream("PAYOUTS")
    state = (await js.stream_info(stream)).state
    found: dict[str, float] = {}
    for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
        raw = await js.get_msg(stream, sequence)
        if raw.subject == NAMES.subject(subject) and raw.data is not None and raw.time is not None:
            cycle = json.loads(raw.data)["cycle_id"]
            found.setdefault(cycle, raw.time.timestamp())
    return found


def percentile(ordered: list[float], percent: int) -> float:
    """The nearest-rank percentile of values in order."""
    return ordered[max(0, -(-len(ordered) * percent // 100) - 1)]


def spread(ordered: list[float]) -> str:
    return (
        f"p50 {statistics.median(ordered) * 1000:,.0f} ms, p95 {percentile(ordered, 95) * 1000:,.0f} ms, "
        f"p99 {percentile(ordered, 99) * 1000:,.0f} ms, max {ordered[-1] * 1000:,.0f} ms"
    )


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:,.0f} ms" if values else "n/a"


async def dead_letters(js: JetStreamContext) -> int:
    return int((await js.stream_info(NAMES.stream(DEADLETTER.name))).state.messages)


@dataclass(frozen=True)
class Stack:
    js: JetStreamContext
    simulator: Simulator
    gateway: Service
    collections: Service
    payouts: Service
    collections_db: Database


async def seed(stack: Stack, options: argparse.Namespace) -> list[dict[str, Any]]:
    """Every cycle funded but for its last debit; that debit's payment_intent.succeeded, per cycle.
    With ``--all-at-once``: every debit settled at Stripe and none reported yet; all their events."""
    cycles, size, db = options.cycles, options.members, stack.collections_db
    accounts = await asyncio.to_thread(onboarded_accounts, stack.simulator, RECIPIENT_ACCOUNTS)
    groups = groups_of(await members_with_mandates(stack.simulator, cycles * size), size, accounts)
    await publish_all(stack.js, subjects.ONBOARDING_GROUP_ACTIVATED, list(groups))
    await until("rotations", lambda: count(db, select(func.count()).select_from(rotations)), cycles)
    plans = [plan_rotation(group, BUSINESS_DAYS)[0] for group in groups]
    await publish_all(stack.js, subjects.COLLECTIONS_START_CYCLE, [start_command(plan) for plan in plans])
    debited = (
        select(func.count())
        .select_from(debit_attempts)
        .where(debit_attempts.c.payment_intent_id.is_not(None))
    )
    await until("debits", lambda: count(db, debited), cycles * size)

    async def settled() -> int:
        return len(await asyncio.to_thread(succeeded_events, stack.simulator))

    await until("debits settled on the simulator", settled, cycles * size)
    by_cycle: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in await asyncio.to_thread(succeeded_events, stack.simulator):
        by_cycle[event["data"]["object"]["metadata"]["cycle_id"]].append(event)
    if options.all_at_once:
        return [event for events in by_cycle.values() for event in events]
    early = [e for events in by_cycle.values() for e in events[1:]]
    assert await post_events(stack.gateway.port, early, options.connections) == 0
    succeeded = select(func.count()).select_from(contributions).where(contributions.c.status == "succeeded")
    await until("early contributions booked", lambda: count(db, succeeded), len(early))
    # Each booked debit's Stripe fee is read from Stripe through the same budget as the transfers:
    # measured before those reads are done, the cycles would queue behind them.
    fees = (
        select(func.count())
        .select_from(ledger_transactions)
        .where(ledger_transactions.c.reference.like("debit-stripe-fee-%"))
    )
    await until("the Stripe fees of the early debits read", lambda: count(db, fees), len(early))
    return [events[0] for events in by_cycle.values()]


def cycle_of_event(event: dict[str, Any]) -> str:
    return str(event["data"]["object"]["metadata"]["cycle_id"])


async def booked_at(database: Database) -> dict[str, float]:
    """When collections booked each debit's success (its ``debit-collected-`` ledger transaction's
    ``posted_at``: the clock as the report was decided; the commit follows within its batch), by
    PaymentIntent."""
    async with database.transaction() as session:
        attempts = await session.execute(
            select(
                debit_attempts.c.payment_intent_id, debit_attempts.c.contribution_id, debit_attempts.c.attempt
            )
        )
        intent_of = {f"debit-collected-{c}-{a}": intent for intent, c, a in attempts}
        posted = await session.execute(
            select(ledger_transactions.c.reference, ledger_transactions.c.posted_at).where(
                ledger_transactions.c.reference.like("debit-collected-%")
            )
        )
        return {intent_of[reference]: at.timestamp() for reference, at in posted if reference in intent_of}


def cycle_of(key: str) -> str:
    """The cycle id in a transfer's key, ``payout-<cycle>-<charge>``."""
    return key[len("payout-") : len("payout-") + 36]


async def burst(stack: Stack, events: list[dict[str, Any]], options: argparse.Namespace) -> None:
    """Post every cycle's last event (at once, or ``--rate`` a second); report until every cycle's
    transfers reached Stripe."""
    services = (stack.gateway, stack.collections, stack.payouts)
    cpu_before = {s.name: cpu_seconds(s.process.pid) for s in services}
    sent_at: dict[str, float] = {}
    started = time.time()
    failures = await post_events(stack.gateway.port, events, options.connections, sent_at, options.rate)
    posted = time.time()

    async def cycles_transferred() -> int:
        per_cycle: dict[str, set[str]] = defaultdict(set)
        for _, key in await asyncio.to_thread(transfer_keys, stack.simulator):
            per_cycle[cycle_of(key)].add(key)
        return sum(1 for keys_of in per_cycle.values() if len(keys_of) == options.members)

    await until("every cycle's transfers", cycles_transferred, options.cycles)
    done = time.time()
    cpu = {s.name: cpu_seconds(s.process.pid) - cpu_before[s.name] for s in services}
    keys = await asyncio.to_thread(transfer_keys, stack.simulator)
    last_request: dict[str, float] = {}
    for arrived, key in keys:
        last_request[cycle_of(key)] = max(last_request.get(cycle_of(key), 0.0), arrived)
    # A cycle's clock starts when the last of its events posted here was sent.
    cycle_sent: dict[str, float] = {}
    for event in events:
        cycle = cycle_of_event(event)
        cycle_sent[cycle] = max(cycle_sent.get(cycle, 0.0), sent_at[event["id"]])
    latencies = sorted(last_request[c] - cycle_sent[c] for c in cycle_sent)
    what = "payment_intent.succeeded" if options.all_at_once else "last payment_intent.succeeded"
    print(
        f"{len(events):,} {what} posted to the gateway "
        f"{f'at {options.rate:g} a second' if options.rate else 'at once'} in {posted - started:.2f} s "
        f"(non-2xx: {failures}); every cycle's transfers requested {done - started:.1f} s after the first"
    )
    print(
        "last contribution's event sent -> the cycle's last transfer request at the simulator: "
        + spread(latencies)
    )
    if options.all_at_once:
        booked = await booked_at(stack.collections_db)
        intents = {event["data"]["object"]["id"]: sent_at[event["id"]] for event in events}
        print(
            "each contribution's event sent -> its success booked in collections' ledger: "
            + spread(sorted(booked[intent] - sent for intent, sent in intents.items()))
        )
    pay_cycle = await stream_times(stack.js, subjects.PAYOUTS_PAY_CYCLE)
    make = await stream_times(stack.js, subjects.PAYOUTS_MAKE_TRANSFERS)
    print(
        "medians of its parts: event sent -> pay_cycle from collections "
        f"{median_ms([pay_cycle[c] - cycle_sent[c] for c in cycle_sent if c in pay_cycle])}; pay_cycle -> "
        f"make_transfers {median_ms([make[c] - pay_cycle[c] for c in make if c in pay_cycle])}; "
        f"make_transfers -> last transfer request {median_ms([last_request[c] - make[c] for c in make])}"
    )
    print(
        f"transfer requests: {len(keys):,} with {len({key for _, key in keys}):,} distinct keys for "
        f"{options.cycles * options.members:,} charges; dead letters {await dead_letters(stack.js)}"
    )
    print("CPU while measured: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu.items()))


async def measure(nats_url: str, urls: dict[str, str], options: argparse.Namespace) -> None:
    for definition in (COLLECTIONS, PAYOUTS, WEBHOOKS):
        await asyncio.to_thread(upgrade_to_head, definition.migrations_dir, urls[definition.name])
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await provision_streams(js, NAMES, StreamSettings())
    collections_db = Database(urls["collections"])
    logs = options.log_dir
    stripe_settings = {"STRIPE_API_KEY": API_KEY, "STRIPE_REQUESTS_PER_SECOND": str(options.budget)}
    with simulator_process(logs / "payouts-latency-simulator.log") as simulator:
        stripe_settings["STRIPE_API_BASE_URL"] = simulator.base_url
        with (
            service_process(
                "webhooks",
                {"DATABASE_URL": urls["webhooks"], "NATS_URL": nats_url, "PLATFORM_SIGNING_SECRETS": SECRET},
                logs / "payouts-latency-webhooks.log",
            ) as gateway,
            service_process(
                "collections",
                {"DATABASE_URL": urls["collections"], "NATS_URL": nats_url, **stripe_settings},
                logs / "payouts-latency-collections.log",
            ) as collections,
            service_process(
                "payouts",
                {"DATABASE_URL": urls["payouts"], "NATS_URL": nats_url, **stripe_settings},
                logs / "payouts-latency-payouts.log",
            ) as payouts,
        ):
            stack = Stack(js, simulator, gateway, collections, payouts, collections_db)
            began = time.perf_counter()
            last = await seed(stack, options)
            seeded = (
                "every debit settled at Stripe, none reported"
                if options.all_at_once
                else "all but the last debit of each booked"
            )
            print(
                f"seeded {options.cycles:,} cycles x {options.members} members, {seeded} "
                f"({time.perf_counter() - began:.0f} s, not measured)"
            )
            await burst(stack, last, options)
    await collections_db.dispose()
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument(
        "--budget", type=float, default=10_000.0, help="Stripe requests/s of the shared budget"
    )
    parser.add_argument("--connections", type=int, default=32, help="connections posting to the gateway")
    parser.add_argument(
        "--all-at-once",
        action="store_true",
        help="post every contribution's event at once, not only each cycle's last (e.g. 1,000 x 10: "
        "10,000 contributions in flight), and time each contribution's booking too",
    )
    parser.add_argument(
        "--rate", type=float, help="cycles settling a second, a steady stream (default: all at once)"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 50 cycles x 2 members")
    parser.add_argument("--log-dir", type=Path, default=Path("/tmp"))
    options = parser.parse_args()
    if options.quick:
        options.cycles = 50
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with running_nats() as server, postgres_server() as admin_url, contextlib.ExitStack() as stack:
        urls = {
            name: stack.enter_context(fresh_database(admin_url))
            for name in ("collections", "payouts", "webhooks")
        }
        asyncio.run(measure(server.url, urls, options))
    print(f"load average after the run {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
