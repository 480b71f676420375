"""``rosca up --restart-crashed``: a service, NATS and the embedded Postgres killed with SIGKILL come
back on their own port and data, and the stack is ready again; without the flag, one process's death
still stops the whole stack."""

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rosca.stack.ports import free_port
from tests.e2e.test_run_command import READY_LINE, SERVICES, StackRun, rosca, wait_until_gone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

RECOVERY_SECONDS = 60


@pytest.fixture
def runs() -> Iterator[list[StackRun]]:
    started: list[StackRun] = []
    yield started
    for run in started:
        run.kill_everything()


def unready_services(gateway_url: str) -> list[str]:
    unready = []
    with httpx.Client(base_url=gateway_url, trust_env=False, timeout=3) as gateway:
        for name in SERVICES:
            try:
                answer = gateway.get(f"/{name}/readyz")
            except httpx.HTTPError:
                unready.append(name)
                continue
            if answer.status_code != 200 or answer.json().get("status") != "ready":
                unready.append(name)
    return unready


def wait_until_ready_again(run: StackRun, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    unready = list(SERVICES)
    while time.monotonic() < deadline:
        unready = unready_services(run.gateway_url)
        if not unready:
            return
        time.sleep(0.5)
    run.drain()
    pytest.fail(f"not ready again within {timeout} s: {unready}\n{run.output()}")


def test_killed_service_nats_and_postgres_are_started_again_and_the_stack_is_ready(
    tmp_path: Path, runs: list[StackRun]
) -> None:
    run = StackRun(tmp_path / "stack", free_port(), "--restart-crashed")
    runs.append(run)
    run.wait_for_line(READY_LINE, timeout=90)
    minted = rosca("onboarding", "--data-dir", str(run.data_dir), "mint-token", "--sub", "crash-member")
    assert minted.returncode == 0, minted.stderr
    member = {"Authorization": f"Bearer {minted.stdout.strip()}"}
    with httpx.Client(base_url=run.gateway_url, trust_env=False, timeout=10) as gateway:
        registered = gateway.post(
            "/onboarding/members", headers=member, json={"email": "crash@example.com", "display_name": "C"}
        )
        assert registered.status_code == 201, registered.text
    before = run.recorded_pids()
    killed = {name: before[name] for name in ("collections", "nats", "postgres")}
    nats_url = run.nats_url()

    for pid in killed.values():
        os.kill(pid, signal.SIGKILL)
    assert wait_until_gone(killed) == []
    wait_until_ready_again(run, RECOVERY_SECONDS)

    after = run.recorded_pids()
    for name, old_pid in killed.items():
        assert after[name] != old_pid, (name, run.output())
    assert run.nats_url() == nats_url  # same port: the services reconnect to where they were
    assert run.process.poll() is None, run.output()
    run.wait_for_line("rosca: postgres stopped; started it again on the same data", timeout=10)
    for name in ("collections", "nats"):
        assert f"rosca: {name} exited with status -9; started it again" in run.output()
    assert after["onboarding"] == before["onboarding"]  # only what was killed was started again
    # The data survived: the member registered before the kill is still there, with their customer.
    with httpx.Client(base_url=run.gateway_url, trust_env=False, timeout=10) as gateway:
        profile = gateway.get("/onboarding/members/me", headers=member)
    assert profile.status_code == 200, profile.text
    assert profile.json()["stripe_customer_id"] == registered.json()["stripe_customer_id"]


def test_without_the_flag_a_killed_service_stops_the_stack(tmp_path: Path, runs: list[StackRun]) -> None:
    run = StackRun(tmp_path / "stack", free_port())
    runs.append(run)
    run.wait_for_line(READY_LINE, timeout=90)
    pids = run.recorded_pids()

    os.kill(pids["webhooks"], signal.SIGKILL)

    assert run.process.wait(timeout=40) != 0
    run.drain()
    assert "webhooks exited with status -9" in run.output()
    assert wait_until_gone({name: pid for name, pid in pids.items() if name != "postgres"}) == []
