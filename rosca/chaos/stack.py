"""The chaos run's own stack: ``rosca up --restart-crashed`` in its own data dir, on the simulated clock,
with the Stripe simulator's faults in its environment (so a restarted simulator keeps them)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from rosca.chaos.plan import SimulatorFaults
from rosca.errors import CliError
from rosca.stack.ports import free_port, is_listening
from rosca.stack.readiness import probe_ready
from rosca.stack.state import StackState, read_stack_state, running_stack

START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 60.0


def simulator_environment(faults: SimulatorFaults) -> dict[str, str]:
    """The simulator's fault options (``STRIPE_SIM_*``), as the stack hands them to it at each start."""
    return {
        "STRIPE_SIM_FAULT_SEED": str(faults.seed),
        "STRIPE_SIM_FAULT_DUPLICATE_PERCENT": f"{faults.duplicate_percent:g}",
        "STRIPE_SIM_FAULT_OUT_OF_ORDER_WINDOW_SECONDS": f"{faults.out_of_order_window_seconds:g}",
        "STRIPE_SIM_FAULT_SERVER_ERROR_PERCENT": f"{faults.server_error_percent:g}",
        "STRIPE_SIM_FAULT_RATE_LIMITED_PERCENT": f"{faults.rate_limited_percent:g}",
        "STRIPE_SIM_FAULT_DROPPED_CONNECTION_PERCENT": f"{faults.dropped_connection_percent:g}",
        "STRIPE_SIM_RATE_LIMIT_OPS_PER_SECOND": f"{faults.rate_limit_ops_per_second:g}",
    }


class ChaosStack:
    """``rosca up`` as a child of the chaos run, which reads where everything is from its stack.json."""

    def __init__(self, data_dir: Path, faults: SimulatorFaults, *, nats_cluster: bool = False) -> None:
        self.data_dir = data_dir
        self._nats_cluster = nats_cluster
        self._faults = faults
        self._up: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "chaos-up.log"

    def start(self) -> StackState:
        if running_stack(self.data_dir) is not None:
            raise CliError(f"a stack is already running in {self.data_dir}: the chaos run needs its own")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        environment = {
            key: value
            for key, value in os.environ.items()
            # The chaos stack is wholly its own: its embedded Postgres, the simulator, no outside server.
            if key not in ("DATABASE_URL", "STRIPE_API_KEY") and not key.startswith(("ROSCA_", "STRIPE_SIM_"))
        }
        argv = [
            *(sys.executable, "-m", "rosca", "up", "--restart-crashed", "--clock", "simulated"),
            *("--data-dir", str(self.data_dir), "--gateway-port", str(free_port())),
            *(["--nats-cluster"] if self._nats_cluster else []),
        ]
        with self.log_path.open("ab") as log:
            self._up = subprocess.Popen(  # our own command, no shell
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=environment | simulator_environment(self._faults) | {"PYTHONUNBUFFERED": "1"},
            )
        return self._wait_for_start(self._up)

    def state(self) -> StackState:
        state = read_stack_state(self.data_dir)
        if state is None:
            raise CliError(f"the chaos stack's {self.data_dir}/stack.json is gone; see {self.log_path}")
        return state

    def supervisor_alive(self) -> bool:
        return self._up is not None and self._up.poll() is None

    def restarts_logged(self) -> list[str]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if "started it again" in line or "starting it again failed" in line]

    def stop(self) -> None:
        if self._up is None or self._up.poll() is not None:
            return
        self._up.send_signal(signal.SIGINT)
        try:
            self._up.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._up.kill()
            self._up.wait(timeout=10)

    def _wait_for_start(self, up: "subprocess.Popen[bytes]") -> StackState:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if up.poll() is not None:
                raise CliError(
                    f"rosca up exited with {up.returncode} before it was ready; see {self.log_path}"
                )
            state = running_stack(self.data_dir)
            if state is not None and state.supervisor_pid == up.pid and not unready_services(state):
                return state
            time.sleep(0.5)
        raise CliError(
            f"the chaos stack was not ready within {START_TIMEOUT_SECONDS:g} s; see {self.log_path}"
        )


def unready_services(state: StackState) -> list[str]:
    """The services not ready through the gateway, and the simulator if it does not answer."""
    unready = [
        f"nats at {url}" for url in state.nats_url.split(",") if not is_listening(urlsplit(url).port or 0)
    ]
    with httpx.Client(trust_env=False) as client:
        for name, url in state.services.items():
            if not probe_ready(client, f"{url}/readyz")[0]:
                unready.append(name)
        if state.stripe_api_base_url:
            try:
                client.get(f"{state.stripe_api_base_url}/_sim/health", timeout=2).raise_for_status()
            except httpx.HTTPError:
                unready.append("stripe-sim")
    return unready
