"""When ``rosca up --restart-crashed`` starts again a process of the stack that exited or was killed.

A process that dies is started again after a short back-off; one that dies again soon after its
restart waits twice as long each time (up to a ceiling), so a process that cannot start (a broken
setting, a port taken) is not restarted in a tight loop but still comes back once its cause is gone.
"""

from dataclasses import dataclass, field

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
# A process that ran this long since its restart counts as recovered: its next crash starts over.
STABLE_AFTER_SECONDS = 30.0


@dataclass
class _History:
    backoff_seconds: float = FIRST_BACKOFF_SECONDS
    seen_down_at: float | None = None
    started_at: float | None = None
    restarts: int = 0


@dataclass
class CrashRestarts:
    """The restart schedule of every process of the stack, by name (times from ``time.monotonic``)."""

    _histories: dict[str, _History] = field(default_factory=dict)

    def started(self, name: str, now: float) -> None:
        history = self._histories.setdefault(name, _History())
        history.started_at = now
        history.seen_down_at = None

    def due(self, name: str, now: float) -> bool:
        """Whether the process found down at ``now`` should be started again now."""
        history = self._histories.setdefault(name, _History())
        if history.seen_down_at is None:
            history.seen_down_at = now
            ran_for = now - history.started_at if history.started_at is not None else 0.0
            if ran_for >= STABLE_AFTER_SECONDS:
                history.backoff_seconds = FIRST_BACKOFF_SECONDS
        return now - history.seen_down_at >= history.backoff_seconds

    def restarting(self, name: str, now: float) -> int:
        """Record a restart at ``now``; returns how many restarts this process has had."""
        history = self._histories.setdefault(name, _History())
        history.restarts += 1
        history.backoff_seconds = min(history.backoff_seconds * 2, MAX_BACKOFF_SECONDS)
        self.started(name, now)
        return history.restarts
