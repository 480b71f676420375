"""SIGINT, SIGTERM and SIGHUP become a request to stop that the start-up and supervision loops check.

SIGHUP is included so that closing the terminal stops the stack in order instead of orphaning it.
"""

import signal
import threading
from types import FrameType


class StopRequested(Exception):  # noqa: N818  # a request, not an error
    """The user asked the stack to stop (Ctrl-C or SIGTERM): not an error."""


class StopSignal:
    def __init__(self) -> None:
        self._requested = threading.Event()
        self.signal_name = ""

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self._requested.set()

    def requested(self) -> bool:
        return self._requested.is_set()

    def raise_if_requested(self) -> None:
        if self._requested.is_set():
            raise StopRequested(self.signal_name)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop is requested."""
        return self._requested.wait(seconds)
