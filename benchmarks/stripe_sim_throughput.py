"""Create-and-confirm PaymentIntent throughput of the Stripe simulator on one core.

Starts `python -m simulators.stripe_sim` pinned to one CPU (taskset, where available), saves
one BECS account, then drives `payment_intents.create(confirm=true, off_session=true)` through
the official SDK's async client with several requests in flight, and prints ops/s.

    .venv/bin/python benchmarks/stripe_sim_throughput.py [--requests 3000] [--concurrency 32]
"""

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import httpx
import stripe

TARGET_OPS_PER_SECOND = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_simulator(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    # With a data directory, as it runs for real: every request is committed to SQLite. Without
    # the test-mode rate limit (25 ops/s), which is what the benchmark would otherwise measure.
    command = [
        *(sys.executable, "-m", "simulators.stripe_sim"),
        *("--port", str(port), "--data-dir", data_dir, "--rate-limit-ops-per-second", "0"),
    ]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
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


async def _measure(base_url: str, requests: int, concurrency: int) -> float:
    client = stripe.StripeClient("sk_test_benchmark", base_addresses={"api": base_url})
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
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await client.v1.payment_intents.create_async(
                {
                    "amount": 5_000,
                    "currency": "aud",
                    "customer": customer.id,
                    "payment_method": str(setup.payment_method),
                    "confirm": True,
                    "off_session": True,
                    "transfer_group": "cycle_benchmark",
                    "metadata": {"contribution_id": str(n)},
                },
                {"idempotency_key": f"contribution-{uuid.uuid4()}"},
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    arguments = parser.parse_args()
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="stripe_sim_bench_")
    simulator = _start_simulator(port, data_dir)
    try:
        rate = asyncio.run(_measure(f"http://127.0.0.1:{port}", arguments.requests, arguments.concurrency))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    verdict = "PASS" if rate >= TARGET_OPS_PER_SECOND else "FAIL"
    print(f"create-and-confirm PaymentIntent: {rate:.0f} ops/s ({verdict}, target {TARGET_OPS_PER_SECOND})")


if __name__ == "__main__":
    main()
