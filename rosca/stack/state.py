"""``<data-dir>/stack.json``: where a running stack is, so other commands can find it.

Next to it, ``<data-dir>/env/<service>.env`` holds the ``ROSCA_<SERVICE>_*`` settings the stack
last gave each service (owner-only: they carry secrets), for operator commands to run alike.
"""

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rosca.errors import CliError

STACK_FILE = "stack.json"
SERVICE_ENVIRONMENTS_DIR = "env"
DEFAULT_DATA_DIR = Path(".rosca")


@dataclass(frozen=True)
class StackState:
    supervisor_pid: int
    gateway_url: str
    nats_url: str
    namespace: str
    clock: str
    started_at: str
    pids: dict[str, int] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    stripe_api_base_url: str = ""

    def is_running(self) -> bool:
        return pid_is_alive(self.supervisor_pid)


def write_stack_state(data_dir: Path, state: StackState) -> Path:
    path = data_dir / STACK_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n")
    partial.replace(path)
    return path


def read_stack_state(data_dir: Path) -> StackState | None:
    path = data_dir / STACK_FILE
    try:
        raw = json.loads(path.read_text())
        return StackState(**raw)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as error:
        raise CliError(f"{path} is not a stack file written by `rosca up` ({error}); remove it") from None


def remove_stack_state(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / STACK_FILE).unlink()


def service_environment_path(data_dir: Path, service: str) -> Path:
    return data_dir / SERVICE_ENVIRONMENTS_DIR / f"{service}.env"


def running_stack(data_dir: Path) -> StackState | None:
    """The stack recorded in ``data_dir`` if its ``rosca up`` is still alive."""
    state = read_stack_state(data_dir)
    return state if state is not None and state.is_running() else None


class StackNotRunningError(CliError):
    """An operator command found no running stack in its data dir, and was told of nothing else."""


def require_running_stack(data_dir: Path, *, otherwise: str) -> StackState:
    """The stack running from ``data_dir``, else one line saying so, how to start it, and ``otherwise``.

    Operator commands never guess: a NATS server that happens to listen on the default port may be
    anybody's, and provisioning streams or moving a clock there is worse than stopping.
    """
    state = read_stack_state(data_dir)
    if state is not None and state.is_running():
        return state
    gone = f" (its rosca up, pid {state.supervisor_pid}, has exited)" if state is not None else ""
    start = "`make up`" if data_dir == DEFAULT_DATA_DIR else f"`rosca up --data-dir {data_dir}`"
    raise StackNotRunningError(
        f"the stack is not running in {data_dir}{gone}: start it with {start}, {otherwise}"
    )


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_is_running(pid: int) -> bool:
    """Alive and not a zombie: a killed process nobody has reaped yet counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid_is_alive(pid)
    return state not in ("Z", "X")
