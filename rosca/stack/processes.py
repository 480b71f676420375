"""Child processes of the local stack: each in its own session, logging to its own file.

Each child gets a new session so that a Ctrl-C in the terminal reaches only ``rosca up``, which then
stops the children in order (services, then NATS, then Postgres) instead of all at once.
"""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rosca.errors import CliError


class ChildProcess:
    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env)
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            started = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- {started} rosca up starts {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self._popen = subprocess.Popen(
                    self.argv,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise CliError(f"cannot start {self.name} ({self.argv[0]}): {error}") from None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    @property
    def started(self) -> bool:
        return self._popen is not None

    def exit_code(self) -> int | None:
        """None while the process runs, else its exit status (negative: killed by that signal)."""
        return None if self._popen is None else self._popen.poll()

    def signal_group(self, signum: signal.Signals) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def wait(self, timeout: float) -> bool:
        """Wait for the process to exit; True if it did within ``timeout`` seconds."""
        if self._popen is None:
            return True
        try:
            self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def exited_early(self) -> CliError:
        return CliError(
            f"{self.name} exited with status {self.exit_code()} (log: {self.log_path}); its last lines:",
            details=self.log_tail(),
        )


def stop_processes(children: Iterable[ChildProcess], grace_seconds: float = 10.0) -> list[str]:
    """SIGTERM every running child, wait up to ``grace_seconds``, then SIGKILL; returns who was killed."""
    running = [child for child in children if child.started and child.exit_code() is None]
    for child in running:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and any(child.exit_code() is None for child in running):
        time.sleep(0.05)
    killed = []
    for child in running:
        if child.exit_code() is None:
            child.signal_group(signal.SIGKILL)
            killed.append(child.name)
    for child in running:
        child.wait(timeout=5)
    return killed
