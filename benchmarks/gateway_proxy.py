"""The gateway's CPU per proxied request, alone: a trivial upstream behind it, keep-alive clients in front.

Starts, each in its own process on free loopback ports, a trivial upstream (uvicorn and Starlette,
as the services run, answering a small JSON under ``/bench/...``) and the gateway as ``rosca up``
starts it (``python -m rosca.gateway``), then for each concurrency drives that many keep-alive
connections (the minimal client of ``benchmarks/http_client.py``, so the client is not what is
measured) through ``GET /bench/items/<n>`` until ``--requests`` answers, after a warm-up of two
requests a connection. Reports requests a second, p50/p95/p99 latency, and the CPU time per request
of the gateway, of the upstream and of the client (from /proc), with the machine and its load.

    .venv/bin/python -m benchmarks.gateway_proxy [--concurrency 50 300] [--requests 20000]
"""

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.collections_groups import cpu_seconds
from benchmarks.http_client import Connection
from rosca.stack.ports import LOOPBACK, free_port, is_listening

SERVICE = "bench"
WARM_UP_REQUESTS_PER_CONNECTION = 2


@dataclass(frozen=True)
class Run:
    concurrency: int
    requests: int
    seconds: float
    latencies: list[float]
    gateway_cpu: float
    upstream_cpu: float
    client_cpu: float
    failures: int

    def line(self) -> str:
        cuts = statistics.quantiles(self.latencies, n=100)
        gateway, upstream, client = (cpu / self.requests * 1000 for cpu in self.cpu_seconds)
        return (
            f"{self.concurrency:>5} {self.requests:>9,} {self.requests / self.seconds:>8,.0f} "
            f"{cuts[49] * 1000:>7.1f} {cuts[94] * 1000:>7.1f} {cuts[98] * 1000:>7.1f} "
            f"{gateway:>12.2f} {upstream:>12.2f} {client:>10.2f} {self.failures:>8}"
        )

    @property
    def cpu_seconds(self) -> tuple[float, float, float]:
        return self.gateway_cpu, self.upstream_cpu, self.client_cpu


HEADER = (
    f"{'conns':>5} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
    f"{'gateway ms':>12} {'upstream ms':>12} {'client ms':>10} {'failures':>8}"
)


def upstream_app() -> Starlette:
    async def item(request: Request) -> Response:
        return JSONResponse(
            {"id": request.path_params["item_id"], "name": "Ana", "email": "ana@example.com", "groups": 3}
        )

    return Starlette(routes=[Route(f"/{SERVICE}/items/{{item_id}}", item)])


def serve_upstream(port: int) -> None:
    uvicorn.run(upstream_app(), host=LOOPBACK, port=port, log_level="warning", access_log=False)


@contextmanager
def started(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while not is_listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{' '.join(command)} did not start listening on {port}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


async def drive(port: int, concurrency: int, requests: int, pids: tuple[int, int]) -> Run:
    connections = [await Connection.open(port) for _ in range(concurrency)]
    for _ in range(WARM_UP_REQUESTS_PER_CONNECTION):
        await asyncio.gather(*(connection.get(f"/{SERVICE}/items/0") for connection in connections))
    latencies: list[float] = []
    failures = 0
    remaining = requests

    async def keep_asking(connection: Connection) -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            sent = time.perf_counter()
            status, _body = await connection.get(f"/{SERVICE}/items/{remaining}")
            latencies.append(time.perf_counter() - sent)
            failures += status != 200

    gateway_before, upstream_before = (cpu_seconds(pid) for pid in pids)
    client_before = time.process_time()
    started_at = time.perf_counter()
    await asyncio.gather(*(keep_asking(connection) for connection in connections))
    seconds = time.perf_counter() - started_at
    client_cpu = time.process_time() - client_before
    gateway_after, upstream_after = (cpu_seconds(pid) for pid in pids)
    for connection in connections:
        connection.close()
    return Run(
        concurrency,
        len(latencies),
        seconds,
        latencies,
        gateway_after - gateway_before,
        upstream_after - upstream_before,
        client_cpu,
        failures,
    )


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs "
        f"({models[0] if models else platform.processor()}), "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 300])
    parser.add_argument("--requests", type=int, default=10_000, help="measured requests per concurrency")
    parser.add_argument("--upstream-port", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.upstream_port:
        serve_upstream(options.upstream_port)
        return

    upstream_port, gateway_port = free_port(), free_port()
    print(f"machine: {machine()}")
    print(f"load average at the start: {load_average()}")
    upstream_command = [
        sys.executable,
        "-m",
        "benchmarks.gateway_proxy",
        "--upstream-port",
        str(upstream_port),
    ]
    gateway_env = {
        "ROSCA_GATEWAY_ROUTES": f"{SERVICE}=http://{LOOPBACK}:{upstream_port}",
        "ROSCA_GATEWAY_HOST": LOOPBACK,
        "ROSCA_GATEWAY_PORT": str(gateway_port),
    }
    with (
        started(upstream_command, upstream_port, {}) as upstream,
        started([sys.executable, "-m", "rosca.gateway"], gateway_port, gateway_env) as gateway,
    ):
        print(f"CPU time per request, in ms; {options.requests:,} requests per row after a warm-up")
        print(HEADER)
        for concurrency in options.concurrency:
            run = asyncio.run(drive(gateway_port, concurrency, options.requests, (gateway.pid, upstream.pid)))
            print(run.line())
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
