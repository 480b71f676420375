"""What a ``rosca up`` that was killed (SIGKILL, a crash) left running: found by its stack.json, stopped."""

import contextlib
import os
import signal
import time
from pathlib import Path

from rosca.stack.nats_server import CLUSTER_NODES, cluster_node_name
from rosca.stack.services import ServiceSpec
from rosca.stack.state import pid_is_alive, read_stack_state, remove_stack_state
from rosca.stack.stripe_sim import SIMULATOR_MODULE, SIMULATOR_NAME

GRACE_SECONDS = 10.0


def stop_leftovers(data_dir: Path, services: tuple[ServiceSpec, ...]) -> list[str]:
    """Stop the processes a dead ``rosca up`` recorded in ``data_dir``; returns their names.

    Postgres is left alone: the embedded server adopts a running one on the same data.
    """
    stale = read_stack_state(data_dir)
    if stale is None or stale.is_running():
        return []
    nats_store = str((data_dir / "nats").resolve())
    markers = {
        "nats": nats_store,
        **{cluster_node_name(index): nats_store for index in range(CLUSTER_NODES)},
        "gateway": "rosca.gateway",
        SIMULATOR_NAME: SIMULATOR_MODULE,
        **{spec.name: spec.module for spec in services},
    }
    leftovers = {name: pid for name, pid in stale.pids.items() if name in markers}

    def signal_all(signum: signal.Signals) -> list[str]:
        return [
            name
            for name, pid in leftovers.items()
            if signal_leftover(pid, signum, expected_in_command_line=markers[name])
        ]

    stopping = signal_all(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while (
        stopping and time.monotonic() < deadline and any(pid_is_alive(leftovers[name]) for name in stopping)
    ):
        time.sleep(0.1)
    signal_all(signal.SIGKILL)
    remove_stack_state(data_dir)
    return stopping


def signal_leftover(pid: int, signum: signal.Signals, *, expected_in_command_line: str) -> bool:
    """Signal a process left by a ``rosca up`` that was killed, if that pid still runs the same command.

    The command-line check keeps a recycled pid from ever being signalled.
    """
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if expected_in_command_line not in command_line:
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)
        return True
    return False
