"""Create-and-confirm PaymentIntent throughput of the Stripe simulator on one core.

Starts `python -m simulators.stripe_sim` pinned to CPU 0 (taskset, where available) with its SQLite
persistence on and the test-mode rate limit off, saves one BECS account through the official SDK,
then measures `POST /v1/payment_intents` with `confirm=true&off_session=true` two ways:

1. **simulator-bound**: the SDK's form body, sent over keep-alive connections by a minimal client
   pinned to the other CPU, so that the simulator's core is what limits; reports ops/s, how busy the
   simulator's core was, and ops per second of simulator CPU;
2. **through the SDK**: the official async client (httpx underneath) as our services use it; its
   client costs several ms of CPU per request, so on two cores this figure is the client's limit.

    .venv/bin/python -m benchmarks.stripe_sim_throughput [--requests 5000] [--sdk-requests 1000]
        [--concurrency 32]
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import stripe

from benchmarks.http_client import Connection
from rosca.stack.ports import free_port

TARGET_OPS_PER_SECOND = 300
API_KEY = "sk_test_benchmark"
SIMULATOR_CPU = 0
CLIENT_CPU = 1


@dataclass(frozen=True)
class Run:
    label: str
    requests: int
    seconds: float
    simulator_cpu_seconds: float
    failures: int

    @property
    def ops_per_second(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        busy = self.simulator_cpu_seconds / self.seconds
        per_cpu_second = self.requests / self.simulator_cpu_seconds
        return (
            f"{self.label:<20} {self.ops_per_second:7,.0f} ops/s   simulator core busy {busy:4.0%}"
            f"   {per_cpu_second:7,.0f} ops per simulator CPU-second   failures {self.failures}"
        )


def _start_simulator(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    command = [
        *(sys.executable, "-m", "simulators.stripe_sim"),
        *("--port", str(port), "--data-dir", data_dir, "--rate-limit-ops-per-second", "0"),
    ]
    if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1:  # type: ignore[operator]
        command = ["taskset", "-c", str(SIMULATOR_CPU), *command]  # taskset execs: same pid
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sim/health").raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the simulator did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _saved_becs_account(client: stripe.StripeClient) -> tuple[str, str]:
    customer = await client.v1.customers.create_async({"email": "bench@example.com"})
    setup = await client.v1.setup_intents.create_async(
        {
            "customer": customer.id,
            "payment_method": "pm_auBecsDebit_success",
            "mandate_data": {
                "customer_acceptance": {
                    "type": "online",
                    "online": {"ip_address": "127.0.0.1", "user_agent": "benchmark"},
                }
            },
            "confirm": True,
        }
    )
    return customer.id, str(setup.payment_method)


def _payment_intent(customer: str, payment_method: str, n: int) -> dict[str, object]:
    return {
        "amount": 5_000,
        "currency": "aud",
        "customer": customer,
        "payment_method": payment_method,
        "confirm": "true",
        "off_session": "true",
        "transfer_group": "cycle_benchmark",
        "metadata": {"contribution_id": str(n)},
    }


def _form_body(params: dict[str, object]) -> bytes:
    # The SDK's encoding: nested keys as metadata[contribution_id].
    flat: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, dict):
            flat.extend((f"{key}[{inner}]", str(item)) for inner, item in value.items())
        else:
            flat.append((key, str(value)))
    return urlencode(flat).encode()


@dataclass(frozen=True)
class Target:
    """The running simulator, and the saved BECS account every PaymentIntent debits."""

    port: int
    pid: int
    customer: str
    payment_method: str
    concurrency: int


async def _simulator_bound(target: Target, requests: int) -> Run:
    account = (target.customer, target.payment_method)
    bodies = iter([_form_body(_payment_intent(*account, n)) for n in range(requests)])
    failures = 0
    checked = 0

    async def worker(connection: Connection) -> None:
        nonlocal failures, checked
        for body in bodies:
            status, answer = await connection.post(
                "/v1/payment_intents",
                body,
                {
                    "Authorization": f"Bearer {API_KEY}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Idempotency-Key": f"contribution-{uuid.uuid4()}",
                },
            )
            if status != 200:
                failures += 1
            elif checked < 50:  # a sample, parsed: the simulator did the real work
                checked += 1
                if json.loads(answer)["status"] != "processing":
                    failures += 1

    connections = [await Connection.open(target.port) for _ in range(target.concurrency)]
    seconds, cpu = await _timed(
        target.pid, asyncio.gather(*(worker(connection) for connection in connections))
    )
    for connection in connections:
        connection.close()
    return Run("simulator-bound", requests, seconds, cpu, failures)


async def _through_the_sdk(client: stripe.StripeClient, target: Target, requests: int) -> Run:
    numbers = iter(range(requests))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for n in numbers:
            params = _payment_intent(target.customer, target.payment_method, n)
            params |= {"confirm": True, "off_session": True}
            intent = await client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": f"contribution-{uuid.uuid4()}"},
            )
            failures += intent.status != "processing"

    seconds, cpu = await _timed(target.pid, asyncio.gather(*(worker() for _ in range(target.concurrency))))
    return Run("through the SDK", requests, seconds, cpu, failures)


async def _timed(pid: int, work: Awaitable[object]) -> tuple[float, float]:
    """Wall seconds ``work`` took, and the CPU seconds process ``pid`` spent meanwhile."""
    cpu_before, began = _cpu_seconds(pid), time.perf_counter()
    await work
    return time.perf_counter() - began, _cpu_seconds(pid) - cpu_before


async def _measure(port: int, pid: int, options: argparse.Namespace) -> list[Run]:
    client = stripe.StripeClient(API_KEY, base_addresses={"api": f"http://127.0.0.1:{port}"})
    customer, payment_method = await _saved_becs_account(client)
    target = Target(port, pid, customer, payment_method, options.concurrency)
    await _simulator_bound(target, 300)  # warm-up
    return [
        await _simulator_bound(target, options.requests),
        await _through_the_sdk(client, target, options.sdk_requests),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--sdk-requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    options = parser.parse_args()
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {CLIENT_CPU})
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="stripe_sim_bench_")
    simulator = _start_simulator(port, data_dir)
    try:
        runs = asyncio.run(_measure(port, simulator.pid, options))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    for run in runs:
        print(run.line())
    bound = runs[0]
    verdict = "PASS" if bound.ops_per_second >= TARGET_OPS_PER_SECOND and not bound.failures else "FAIL"
    print(
        f"create-and-confirm PaymentIntent on one simulator core: {bound.ops_per_second:,.0f} ops/s "
        f"({verdict}, target {TARGET_OPS_PER_SECOND})"
    )


if __name__ == "__main__":
    main()
