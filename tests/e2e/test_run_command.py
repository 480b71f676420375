"""``rosca up`` as a fresh clone runs it: embedded Postgres, NATS from the wheel, every service behind
the gateway; then the clock commands against it, a clean Ctrl-C, and a restart on the same data."""

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

import httpx
import pytest

from rosca.stack.ports import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

ROSCA = str(Path(sys.executable).with_name("rosca"))
SERVICES = ("onboarding", "collections", "payouts", "webhooks", "scheduler")
READY_LINE = "rosca is up"


class StackRun:
    """One ``rosca up`` subprocess whose output is read line by line as it comes."""

    def __init__(self, data_dir: Path, gateway_port: int) -> None:
        self.data_dir = data_dir
        self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [ROSCA, "up", "--data-dir", str(data_dir), "--gateway-port", str(gateway_port)],
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

    def recorded_pids(self) -> dict[str, int]:
        pids: dict[str, int] = json.loads((self.data_dir / "stack.json").read_text())["pids"]
        return pids

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
    with httpx.Client(base_url=first.gateway_url, trust_env=False, timeout=10) as gateway:
        for name in SERVICES:
            readiness = gateway.get(f"/{name}/readyz")
            assert readiness.status_code == 200, readiness.text
            assert readiness.json()["status"] == "ready"
        openapi = gateway.get("/payouts/openapi.json")
        assert openapi.status_code == 200
        assert openapi.json()["info"]["title"] == "rosca payouts"

    before = simulated_time(data_dir)
    advanced = rosca("clock", "advance", "2d", "--data-dir", str(data_dir))
    assert advanced.returncode == 0, advanced.stderr
    after = simulated_time(data_dir)
    assert after - before == timedelta(days=2)

    pids = first.recorded_pids()
    assert set(pids) == {*SERVICES, "gateway", "nats", "postgres"}
    assert first.stop_with(signal.SIGINT) == 0, first.output()
    assert wait_until_gone(pids) == [], first.output()
    assert not (data_dir / "stack.json").exists()
    assert "Traceback" not in first.output()

    second = StackRun(data_dir, free_port())
    runs.append(second)
    second.wait_for_line(READY_LINE, timeout=60)

    assert "databases: 0 created, 5 already there" in second.output()
    assert simulated_time(data_dir) == after
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
