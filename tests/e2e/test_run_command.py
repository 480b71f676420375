"""``rosca up`` as a fresh clone runs it: embedded Postgres, NATS from the wheel, the Stripe simulator
wired to the webhooks service, every service behind the gateway; then the operator commands against
it, a clean Ctrl-C, and a restart on the same data."""

import asyncio
import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import nats
import pytest
import stripe

from contracts import subjects
from contracts.scheduler import ScheduleTimer
from contracts.streams import NOTIFY
from rosca.stack.local_secrets import read_env_file
from rosca.stack.ports import free_port
from services.runtime.outbox import message_headers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

ROSCA = str(Path(sys.executable).with_name("rosca"))
SERVICES = ("onboarding", "collections", "payouts", "webhooks", "scheduler")
READY_LINE = "rosca is up"
FRONTEND = "http://localhost:3000"


class StackRun:
    """One ``rosca up`` subprocess whose output is read line by line as it comes."""

    def __init__(self, data_dir: Path, gateway_port: int, *options: str) -> None:
        self.data_dir = data_dir
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [ROSCA, "up", "--data-dir", str(data_dir), "--gateway-port", str(gateway_port), *options],
            env=stack_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for_line(self, starting: str, timeout: float) -> float:
        """Seconds from start until a line starting with ``starting`` appeared."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._incoming.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"rosca up ended before {starting!r}:\n{self.output()}")
            self.lines.append(line)
            if line.startswith(starting):
                return time.monotonic() - self.started_at
        pytest.fail(f"no line {starting!r} within {timeout} s:\n{self.output()}")

    def stop_with(self, signum: signal.Signals, timeout: float = 40) -> int:
        self.process.send_signal(signum)
        status = self.process.wait(timeout=timeout)
        self.drain()
        return status

    def drain(self) -> None:
        while True:
            try:
                line = self._incoming.get(timeout=2)
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)

    def output(self) -> str:
        return "\n".join(self.lines)

    def nats_url(self) -> str:
        return str(self.stack_file()["nats_url"])

    def recorded_pids(self) -> dict[str, int]:
        pids: dict[str, int] = self.stack_file()["pids"]
        return pids

    def stack_file(self) -> dict[str, Any]:
        recorded: dict[str, Any] = json.loads((self.data_dir / "stack.json").read_text())
        return recorded

    def stripe(self) -> tuple[stripe.StripeClient, str]:
        """An SDK client on the stack's Stripe simulator, and the simulator's URL."""
        base_url = str(self.stack_file()["stripe_api_base_url"])
        client = stripe.StripeClient(
            "sk_test_e2e", base_addresses={"api": base_url, "connect": base_url}, max_network_retries=0
        )
        return client, base_url

    def kill_everything(self) -> None:
        """Test cleanup only: whatever is still running, however the test ended."""
        pids: dict[str, int] = {}
        with contextlib.suppress(OSError, ValueError, KeyError):
            pids = self.recorded_pids()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def stack_environment() -> dict[str, str]:
    """The caller's environment without anything that points the stack at another server."""
    return {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith(("ROSCA_", "PG"))
    }


def rosca(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROSCA, *arguments],
        env=stack_environment(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def is_running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def wait_until_gone(pids: dict[str, int], timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    while (alive := [name for name, pid in pids.items() if is_running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def registered_endpoints(client: stripe.StripeClient) -> dict[str, tuple[str, str]]:
    """{role: (endpoint id, url)} of the endpoints ``rosca up`` registered on the simulator."""
    endpoints = client.v1.webhook_endpoints.list({"limit": 100}).data
    roles = [endpoint.to_dict()["metadata"].get("rosca_endpoint") for endpoint in endpoints]
    assert sorted(roles) == ["connect", "platform"], roles
    return {role: (endpoint.id, endpoint.url) for role, endpoint in zip(roles, endpoints, strict=True)}


def latest_event(client: stripe.StripeClient, event_type: str, account: str | None = None) -> str:
    options: stripe.RequestOptions = {"stripe_account": account} if account else {}
    events = client.v1.events.list({"type": event_type, "limit": 1}, options).data
    assert events, event_type
    return events[0].id


def wait_for_delivery(simulator_url: str, endpoint_id: str, event_id: str, timeout: float = 15) -> None:
    """Until the endpoint has answered the event's delivery 2xx: it verified the signature."""
    deadline = time.monotonic() + timeout
    attempts: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{simulator_url}/_sim/deliveries", params={"endpoint": endpoint_id, "event": event_id}, timeout=5
        )
        attempts = answer.json()["data"]
        if any(attempt["status"] == 200 for attempt in attempts):
            return
        time.sleep(0.1)
    pytest.fail(f"no successful delivery of {event_id} to {endpoint_id} within {timeout} s: {attempts}")


def onboard_connected_account(client: stripe.StripeClient) -> str:
    """An Express account, onboarded through its link: the Connect endpoint hears of it."""
    account = client.v1.accounts.create(
        {"type": "express", "country": "AU", "capabilities": {"transfers": {"requested": True}}}
    )
    link = client.v1.account_links.create(
        {
            "account": account.id,
            "type": "account_onboarding",
            "refresh_url": "http://127.0.0.1/again",
            "return_url": "http://127.0.0.1/done",
        }
    )
    assert httpx.get(link.url, follow_redirects=False, timeout=5).status_code == 302
    return account.id


async def schedule_timer(nats_url: str, due_at: datetime) -> str:
    """Ask the scheduler for a timer due at ``due_at``; returns the subject it will publish to."""
    target = subjects.notify_member(f"e2e_{uuid4().hex[:10]}")
    command = ScheduleTimer(
        occurred_at=due_at - timedelta(days=1),
        correlation_id="e2e",
        timer_id=f"e2e:{uuid4().hex}",
        due_at=due_at,
        target_subject=target,
        payload={"timer": "e2e"},
    )
    client = await nats.connect(nats_url)
    try:
        await client.jetstream().publish(
            subjects.SCHEDULER_SCHEDULE, command.model_dump_json().encode(), headers=message_headers(command)
        )
    finally:
        await client.close()
    return target


async def published_to(nats_url: str, subject: str) -> bool:
    client = await nats.connect(nats_url)
    try:
        await client.jetstream().get_last_msg(NOTIFY.name, subject)
    except nats.js.errors.NotFoundError:
        return False
    finally:
        await client.close()
    return True


def simulated_time(data_dir: Path) -> datetime:
    shown = rosca("clock", "show", "--data-dir", str(data_dir))
    assert shown.returncode == 0, shown.stderr
    return datetime.fromisoformat(shown.stdout.strip())


@pytest.fixture
def runs() -> Iterator[list[StackRun]]:
    started: list[StackRun] = []
    yield started
    for run in started:
        run.kill_everything()


def test_up_serves_every_service_then_stops_cleanly_and_restarts_on_its_data(
    tmp_path: Path, runs: list[StackRun]
) -> None:
    data_dir = tmp_path / "stack"
    first = StackRun(data_dir, free_port())
    runs.append(first)

    seconds_to_ready = first.wait_for_line(READY_LINE, timeout=60)
    first.wait_for_line("Press Ctrl-C", timeout=5)

    assert seconds_to_ready < 30, first.output()
    for name in SERVICES:
        assert f"{first.gateway_url}/{name}/docs" in first.output()
    assert f"dev JWT secret in {data_dir / 'secrets.env'}" in first.output()
    with httpx.Client(base_url=first.gateway_url, trust_env=False, timeout=10) as gateway:
        for name in SERVICES:
            readiness = gateway.get(f"/{name}/readyz")
            assert readiness.status_code == 200, readiness.text
            assert readiness.json()["status"] == "ready"
            openapi = gateway.get(f"/{name}/openapi.json")
            assert openapi.status_code == 200, openapi.text
            assert openapi.json()["info"]["title"] == f"rosca {name}"
            assert gateway.get(f"/{name}/metrics").status_code == 404
        # A frontend in development (http://localhost:3000) may call the API from the browser.
        preflight = gateway.options(
            "/onboarding/members",
            headers={"Origin": FRONTEND, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers.get("access-control-allow-origin") == FRONTEND, preflight.text

        # A member signs up through the gateway with a token `rosca onboarding mint-token` made from
        # the stack's own secret, and gets a customer on the simulator the stack started.
        minted = rosca("onboarding", "--data-dir", str(data_dir), "mint-token", "--sub", "e2e-member")
        assert minted.returncode == 0, minted.stderr
        signed_up = gateway.post(
            "/onboarding/members",
            headers={"Authorization": f"Bearer {minted.stdout.strip()}"},
            json={"email": "e2e-member@example.com", "display_name": "E2E"},
        )
        assert signed_up.status_code == 201, signed_up.text
        assert signed_up.json()["stripe_customer_id"].startswith("cus_")
        assert signed_up.json()["readiness"]["missing"] == ["becs_mandate", "payout_account"]

    # The simulator's signed deliveries reach the webhooks service through the gateway, verified
    # with the secrets rosca up registered: platform events and connected accounts' events.
    client, simulator_url = first.stripe()
    endpoints = registered_endpoints(client)
    assert {role: url for role, (_, url) in endpoints.items()} == {
        "platform": f"{first.gateway_url}/webhooks/stripe/platform",
        "connect": f"{first.gateway_url}/webhooks/stripe/connect",
    }
    client.v1.customers.create({"email": "e2e@example.com"})
    account = onboard_connected_account(client)
    wait_for_delivery(simulator_url, endpoints["platform"][0], latest_event(client, "customer.created"))
    connect_event = latest_event(client, "account.updated", account)
    wait_for_delivery(simulator_url, endpoints["connect"][0], connect_event)
    backfilled = rosca("webhooks", "--data-dir", str(data_dir), "backfill", "--known-accounts")
    assert backfilled.returncode == 0, backfilled.stderr
    assert "already stored, 0 rejected" in backfilled.stdout

    secrets = read_env_file(data_dir / "secrets.env")
    with httpx.Client(base_url=first.gateway_url, trust_env=False, timeout=10) as gateway:
        operator = {"Authorization": f"Bearer {secrets['ROSCA_SCHEDULER_OPERATOR_TOKEN']}"}
        assert gateway.get("/scheduler/timers", headers=operator).status_code == 200
        assert gateway.get("/scheduler/timers").status_code == 401

    before = simulated_time(data_dir)
    target = asyncio.run(schedule_timer(first.nats_url(), before + timedelta(days=1)))
    advanced = rosca("clock", "advance", "2d", "--wait", "--data-dir", str(data_dir))
    assert advanced.returncode == 0, advanced.stderr
    assert asyncio.run(published_to(first.nats_url(), target)), advanced.stdout
    after = simulated_time(data_dir)
    assert after - before == timedelta(days=2)

    # Collections reconciles each day with Stripe on the simulated clock (the days the jump crossed
    # too), and on demand; both show in the operator's view.
    reconciled = rosca("reconcile", "--data-dir", str(data_dir))
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "reconciled: the ledger and Stripe agree to the cent" in reconciled.stdout
    collections_operator = {"Authorization": f"Bearer {secrets['ROSCA_COLLECTIONS_OPERATOR_TOKEN']}"}
    with httpx.Client(base_url=first.gateway_url, trust_env=False, timeout=10) as gateway:
        deadline = time.monotonic() + 30
        while True:
            listed = gateway.get("/collections/operator/reconciliations", headers=collections_operator).json()
            triggers = {run["trigger"] for run in listed["runs"]}
            if triggers == {"schedule", "cli"} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert triggers == {"schedule", "cli"}, listed
        assert {run["differences_total"] for run in listed["runs"]} == {0}

    pids = first.recorded_pids()
    assert set(pids) == {*SERVICES, "gateway", "nats", "postgres", "stripe-sim"}
    assert first.stop_with(signal.SIGINT) == 0, first.output()
    assert wait_until_gone(pids) == [], first.output()
    assert not (data_dir / "stack.json").exists()
    assert "Traceback" not in first.output()

    second = StackRun(data_dir, free_port())
    runs.append(second)
    second.wait_for_line(READY_LINE, timeout=60)

    assert "databases: 0 created, 5 already there" in second.output()
    assert simulated_time(data_dir) == after
    assert read_env_file(data_dir / "secrets.env") == secrets
    client, simulator_url = second.stripe()
    reused = registered_endpoints(client)
    assert {role: endpoint_id for role, (endpoint_id, _) in reused.items()} == {
        role: endpoint_id for role, (endpoint_id, _) in endpoints.items()
    }
    assert reused["platform"][1] == f"{second.gateway_url}/webhooks/stripe/platform"
    client.v1.customers.create({"email": "e2e-again@example.com"})
    wait_for_delivery(simulator_url, reused["platform"][0], latest_event(client, "customer.created"))
    with httpx.Client(base_url=second.gateway_url, trust_env=False, timeout=10) as gateway:
        not_ready = {
            name: response.text
            for name in SERVICES
            if (response := gateway.get(f"/{name}/readyz")).status_code != 200
        }
        assert not_ready == {}, second.output()
    second_pids = second.recorded_pids()
    assert second.stop_with(signal.SIGTERM) == 0, second.output()
    assert wait_until_gone(second_pids) == [], second.output()


def test_up_names_a_busy_gateway_port_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [ROSCA, "up", "--data-dir", str(tmp_path / "stack"), "--gateway-port", str(port)],
            env=stack_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert finished.returncode == 1
    assert f"port {port} (gateway) is already in use" in finished.stderr
    assert "Traceback" not in finished.stdout + finished.stderr
    assert not (tmp_path / "stack" / "nats").exists()


def test_a_bad_duration_is_a_usage_error() -> None:
    finished = rosca("clock", "advance", "two days", "--nats-url", "nats://127.0.0.1:1")

    assert finished.returncode == 2
    assert "not a duration" in finished.stderr
