"""The member API under a few hundred members at once: p50, p95 and p99 of each endpoint, through the
gateway, with locust.

Starts its own stack (``rosca up`` on the simulated clock, in a fresh data dir under the temp folder,
on free ports, with its embedded Postgres and the Stripe simulator without faults), as the chaos run
does.

Not measured: ``--members`` members sign up through the gateway (BECS mandate, payout account on the
simulator), form weekly groups of ``--group-size`` and start them; the clock moves on until each
group's first pot is paid and its second cycle is being collected (``member_api_population.py``).

Measured: ``--users`` simulated members (locust, headless, in a process of its own), each signed in
as a seeded member, open a frontend's pages with 1 to 3 s between them: home (profile, groups, pots),
a group (its terms, rotation, payouts, a cycle), its ledger, their contributions, pots, debts and
readiness, and now and then save their profile unchanged (a write through onboarding to Stripe). The
clock stands still meanwhile. Statistics are reset once every user is spawned, so the figures are at
full concurrency. Any unexpected answer, a 4xx included, or a page whose code raised is a failure and
makes the exit non-zero.

Usage: .venv/bin/python -m benchmarks.member_api_load [--users 300] [--duration 60] [--spawn-rate 50]
       .venv/bin/python -m benchmarks.member_api_load --quick    (50 users for 15 s)
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from benchmarks.member_api_population import Population
from rosca.chaos.plan import SimulatorFaults
from rosca.chaos.stack import ChaosStack
from rosca.demo.simulator import StripeSimulator
from rosca.demo.time_machine import TimeMachine
from rosca.errors import CliError
from rosca.stack.state import StackState

LOCUSTFILE = Path(__file__).with_name("member_api_locustfile.py")
POPULATION_VARIABLE = "ROSCA_LOAD_POPULATION"  # read by the locustfile
SUMMARY_VARIABLE = "ROSCA_LOAD_SUMMARY"  # written by it
# The simulator as Stripe's test mode behaves when nothing goes wrong: 25 requests a second.
NO_FAULTS = SimulatorFaults(
    seed=0,
    duplicate_percent=0,
    out_of_order_window_seconds=0,
    server_error_percent=0,
    dropped_connection_percent=0,
    rate_limit_ops_per_second=25,
)
QUICK = {"users": 50, "duration": 15}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def main() -> None:
    options = _options()
    print(f"machine: {machine()}")
    print(f"load average before: {_load_average()}")
    if options.data_dir is not None and options.data_dir.exists() and any(options.data_dir.iterdir()):
        # A stack's old members and groups would be seeded again beside the new ones.
        sys.exit(f"{options.data_dir} is not empty: the benchmark seeds a stack of its own")
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="rosca-member-load-"))
    stack = ChaosStack(data_dir, NO_FAULTS)
    passed = False
    try:
        started = time.monotonic()
        state = stack.start()
        print(f"stack up in {time.monotonic() - started:.0f} s at {state.gateway_url} (data in {data_dir})")
        population_file = data_dir / "load-population.json"
        started = time.monotonic()
        _seed(options, state, data_dir, population_file)
        print(f"seeded in {time.monotonic() - started:.0f} s (not measured)")
        print(f"load average before the load: {_load_average()}")
        cpu_before = stack_cpu_seconds(state.pids)
        passed = _run_locust(options, state.gateway_url, data_dir, population_file)
        print(f"stack CPU during the load: {_cpu_used_since(cpu_before, state.pids)}")
        print(f"load average after: {_load_average()}")
    except CliError as failure:
        print(f"the benchmark stopped: {failure}", file=sys.stderr)
    finally:
        stack.stop()
        if passed and options.data_dir is None and not options.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"data and logs kept in {data_dir}")
    sys.exit(0 if passed else 1)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=300, help="members using the API at once")
    parser.add_argument("--members", type=int, help="members seeded (default: as many as --users)")
    parser.add_argument("--group-size", type=int, default=5)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load, spawning included")
    parser.add_argument("--spawn-rate", type=float, default=50, help="users started per second")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK}")
    parser.add_argument(
        "--data-dir", type=Path, help="a new or empty folder; default: one in the temp folder"
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the stack's data dir and logs")
    options = parser.parse_args()
    if options.quick:
        options.users, options.duration = QUICK["users"], QUICK["duration"]
    options.members = options.members or options.users
    return options


def _seed(options: argparse.Namespace, state: StackState, data_dir: Path, population_file: Path) -> None:
    with (
        closing(StripeSimulator(state.stripe_api_base_url)) as simulator,
        httpx.Client(base_url=state.gateway_url, timeout=60, trust_env=False) as http,
        TimeMachine(state.nats_url, state.namespace, simulator) as clock,
    ):
        population = Population(
            members=options.members,
            group_size=options.group_size,
            data_dir=data_dir,
            http=http,
            clock=clock,
            simulator=simulator,
            say=print,
        )
        population.seed()
    population_file.write_text(json.dumps([m.as_json() for m in population.seeded]))


def _run_locust(options: argparse.Namespace, gateway_url: str, data_dir: Path, population_file: Path) -> bool:
    """Locust in its own process (its gevent patches the standard library); True if nothing failed."""
    argv = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary"),
        *("--users", str(options.users), "--spawn-rate", f"{options.spawn_rate:g}"),
        *("--run-time", f"{options.duration}s", "--stop-timeout", "10", "--reset-stats"),
        *("--host", gateway_url, "--exit-code-on-error", "0"),
    ]
    print(
        f"locust: {options.users} users (spawned at {options.spawn_rate:g}/s) for {options.duration} s "
        f"against {options.members} seeded members"
    )
    log_path, summary_path = data_dir / "locust.log", data_dir / "locust-summary.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with log_path.open("wb") as log:
        finished = subprocess.run(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                POPULATION_VARIABLE: str(population_file),
                SUMMARY_VARIABLE: str(summary_path),
            },
            check=False,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0 or not summary_path.exists():
        print(f"locust exited with {finished.returncode}; see {log_path}", file=sys.stderr)
        return False
    summary = json.loads(summary_path.read_text())
    print(stats_table(summary))
    locust_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"locust's own CPU: {locust_cpu:.1f} s in {options.duration} s")
    for line in log_path.read_text(errors="replace").splitlines():
        if "CPU usage" in line:  # locust's own warning that it, not the API, may be the limit
            print(f"locust warned: {line.strip()}")
    for failure in summary["failures"]:
        print(f"FAILED {failure['occurrences']} x {failure['method']} {failure['name']}: {failure['error']}")
    for raised in summary["exceptions"]:
        print(f"RAISED {raised['count']} x in a task: {raised['error']}")
    total = summary["total"]
    return bool(total["requests"] > 0 and total["failures"] == 0 and not summary["exceptions"])


def stats_table(summary: dict[str, Any]) -> str:
    """Locust's figures of each endpoint, one line each, all endpoints together last."""
    lines = [
        f"{'endpoint':<62} {'requests':>9} {'failures':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7}"
    ]
    for row in [*summary["endpoints"], {**summary["total"], "method": "", "name": "all endpoints"}]:
        name = f"{row['method']} {row['name']}".strip()
        lines.append(
            f"{name:<62} {row['requests']:>9,} {row['failures']:>8,} {row['requests_per_second']:>7.1f} "
            f"{row['p50']:>7,} {row['p95']:>7,} {row['p99']:>7,} {row['max_ms']:>7,.0f}"
        )
    return "\n".join(lines)


def stack_cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """User and system CPU so far of each process of the stack with its direct children (Postgres's
    backends), from Linux's /proc; a child that has exited is no longer counted."""
    times: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, CPU seconds)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        times[int(stat.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return {
        name: sum(seconds for child, (parent, seconds) in times.items() if pid in (child, parent))
        for name, pid in pids.items()
    }


def _cpu_used_since(before: dict[str, float], pids: dict[str, int]) -> str:
    used = {name: seconds - before.get(name, 0.0) for name, seconds in stack_cpu_seconds(pids).items()}
    return ", ".join(f"{name} {used[name]:.1f} s" for name in sorted(used, key=lambda name: -used[name]))


def machine() -> str:
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({_cpu_model()}), "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return models[0] if models else platform.processor() or "CPU model unknown"


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
