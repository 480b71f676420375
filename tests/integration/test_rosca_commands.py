"""Operator commands against real NATS and a real simulator process: ``rosca clock advance --wait``,
``rosca stripe-sim``."""

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from nats.js import JetStreamContext
from typer.testing import CliRunner

from rosca.cli import app
from rosca.clock import advance_clock, set_clock, wait_for_timers
from rosca.errors import CliError, UsageError
from rosca.stack.ports import free_port
from rosca.stack.state import StackState, write_stack_state
from rosca.streams import provision
from services.runtime.naming import Namespace
from services.runtime.streams import StreamSettings, provision_streams
from services.scheduler.progress import FiredThrough
from tests.infrastructure import NatsServer

pytestmark = pytest.mark.integration

ROSCA = str(Path(sys.executable).with_name("rosca"))


async def provisioned_clock(js: JetStreamContext, namespace: str) -> None:
    await provision_streams(js, Namespace(namespace), StreamSettings(), definitions=())


async def test_waiting_ends_once_the_scheduler_has_worked_off_the_new_time(
    js: JetStreamContext, nats_server: NatsServer, namespace: str
) -> None:
    await provisioned_clock(js, namespace)
    _, after = await advance_clock(nats_server.url, namespace, timedelta(days=2))
    scheduler = FiredThrough(js, Namespace(namespace), command_consumers=())

    waiting = asyncio.create_task(wait_for_timers(nats_server.url, namespace, after, timeout_seconds=10))
    await scheduler.record(after - timedelta(hours=1))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await scheduler.record(after)

    async with asyncio.timeout(5):
        assert await waiting == after


async def test_waiting_on_a_scheduler_that_lags_gives_up_saying_how_far_it_got(
    js: JetStreamContext, nats_server: NatsServer, namespace: str
) -> None:
    await provisioned_clock(js, namespace)
    before, after = await advance_clock(nats_server.url, namespace, timedelta(hours=3))
    await FiredThrough(js, Namespace(namespace), command_consumers=()).record(before)

    with pytest.raises(CliError, match=re.escape(f"worked off simulated time up to {before.isoformat()}")):
        await wait_for_timers(nats_server.url, namespace, after, timeout_seconds=0.5)


async def test_advance_with_wait_and_no_scheduler_moves_the_clock_then_fails_clearly(
    js: JetStreamContext, nats_server: NatsServer, namespace: str
) -> None:
    await provisioned_clock(js, namespace)
    started = time.monotonic()
    finished = await asyncio.to_thread(
        subprocess.run,
        [
            *(ROSCA, "clock", "advance", "1h", "--wait", "--wait-timeout", "0.5"),
            *("--nats-url", nats_server.url, "--namespace", namespace),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 1, finished.stderr
    assert "(+1:00:00)" in finished.stdout
    assert "within 0.5 s the scheduler has not published every timer due by then" in finished.stderr
    assert "it has reported no progress at all" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert time.monotonic() - started < 20


def test_a_nats_named_in_the_environment_is_used_without_a_stack(
    tmp_path: Path, nats_server: NatsServer, namespace: str
) -> None:
    shared_now = datetime(2031, 5, 5, 9, 30, tzinfo=UTC)
    asyncio.run(provision(nats_server.url, namespace))
    asyncio.run(set_clock(nats_server.url, namespace, shared_now))

    shown = subprocess.run(
        [ROSCA, "clock", "show", "--namespace", namespace, "--data-dir", str(tmp_path)],
        env={**os.environ, "ROSCA_NATS_URL": nats_server.url},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert datetime.fromisoformat(shown.stdout.strip()) == shared_now


def test_wait_is_refused_for_a_stack_on_the_system_clock(tmp_path: Path) -> None:
    write_stack_state(
        tmp_path,
        StackState(
            supervisor_pid=os.getpid(),
            gateway_url="http://127.0.0.1:1",
            nats_url="nats://127.0.0.1:1",
            namespace="",
            clock="system",
            started_at=datetime.now(UTC).isoformat(),
        ),
    )

    result = CliRunner().invoke(app, ["clock", "advance", "1d", "--wait", "--data-dir", str(tmp_path)])

    assert isinstance(result.exception, UsageError)
    assert "only the simulated clock can be waited on" in str(result.exception)


def test_stripe_sim_command_runs_on_the_stacks_shared_clock_and_stops_on_sigterm(
    tmp_path: Path, nats_server: NatsServer, namespace: str
) -> None:
    shared_now = datetime(2031, 3, 3, 0, 0, tzinfo=UTC)
    asyncio.run(provision(nats_server.url, namespace))
    asyncio.run(set_clock(nats_server.url, namespace, shared_now))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    simulator = subprocess.Popen(
        [
            *(ROSCA, "stripe-sim", "--port", str(port), "--data-dir", str(tmp_path)),
            *("--clock", "simulated", "--nats-url", nats_server.url, "--namespace", namespace),
            *("--rate-limit-ops-per-second", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        health = wait_for_health(simulator, base_url)
        client = stripe.StripeClient("sk_test_command", base_addresses={"api": base_url})

        customer = client.v1.customers.create({"email": "command@example.com"})

        assert datetime.fromisoformat(health["now"]) == shared_now
        assert customer.created == int(shared_now.timestamp())
        assert (tmp_path / "stripe_sim.sqlite3").exists()
        simulator.send_signal(signal.SIGTERM)
        # uvicorn shuts down cleanly, then ends by the signal it caught.
        assert simulator.wait(timeout=10) in {0, -signal.SIGTERM}
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()


def wait_for_health(simulator: subprocess.Popen[bytes], base_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(f"{base_url}/_sim/health", timeout=1)
            if answer.status_code == 200:
                health: dict[str, Any] = answer.json()
                return health
        assert simulator.poll() is None, simulator.communicate()[0]
        assert time.monotonic() < deadline, "the simulator never answered"
        time.sleep(0.1)


def test_stripe_sim_command_shows_the_simulators_own_options() -> None:
    result = CliRunner().invoke(app, ["stripe-sim", "--help"])

    assert result.exit_code == 0
    assert "usage: rosca stripe-sim" in result.output
    assert "--fault-duplicate-percent" in result.output
