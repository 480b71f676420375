"""The stack the demo runs on: the one running in the data dir, or one it starts there and stops after."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from rosca.errors import CliError
from rosca.stack.readiness import probe_ready
from rosca.stack.state import StackState, running_stack

START_TIMEOUT_SECONDS = 120.0


@contextmanager
def demo_stack(data_dir: Path, gateway_port: int, say: Callable[[str], None]) -> Iterator[StackState]:
    """The running stack of ``data_dir``; without one, ``rosca up`` started for the demo and stopped after."""
    state = running_stack(data_dir)
    if state is not None:
        if state.clock != "simulated":
            raise CliError(
                f"the stack in {data_dir} runs on the system clock; the demo moves a simulated one. "
                f"Stop it, or give the demo another --data-dir"
            )
        _wait_until_ready(state)
        say(f"using the stack already running in {data_dir} ({state.gateway_url})")
        yield state
        return
    say(f"starting the stack in {data_dir} (rosca up; its output in {data_dir}/demo-up.log)")
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "demo-up.log").open("ab") as log:
        up = subprocess.Popen(  # our own command, no shell
            [
                *(sys.executable, "-m", "rosca", "up", "--data-dir", str(data_dir), "--clock", "simulated"),
                *("--gateway-port", str(gateway_port)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        state = _wait_for_start(data_dir, up)
        say(f"the stack is up ({state.gateway_url})")
        yield state
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()


def _wait_for_start(data_dir: Path, up: "subprocess.Popen[bytes]") -> StackState:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise CliError(f"rosca up exited with {up.returncode}; see {data_dir}/demo-up.log")
        state = running_stack(data_dir)
        if state is not None and state.supervisor_pid == up.pid and _all_ready(state):
            return state
        time.sleep(0.3)
    raise CliError(f"the stack was not ready within {START_TIMEOUT_SECONDS:g} s; see {data_dir}/demo-up.log")


def _wait_until_ready(state: StackState) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _all_ready(state):
        if time.monotonic() > deadline:
            raise CliError("the running stack's services are not all ready; see its logs")
        time.sleep(0.3)


def _all_ready(state: StackState) -> bool:
    with httpx.Client() as client:
        return all(probe_ready(client, f"{url}/readyz")[0] for url in state.services.values())
