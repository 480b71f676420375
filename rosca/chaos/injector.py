"""Carrying out the fault plan while the groups run: each kill at its moment, then how long until the
stack is whole again (the process started again, every service ready, NATS listening, the
simulator answering).

Kills never overlap: a kill due while the stack is still recovering from the last waits for it,
so each recovery is measured on its own.
"""

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import nats

from contracts.streams import COLLECTIONS
from rosca.chaos.plan import NATS_STREAM_LEADER, FaultPlan, Kill
from rosca.chaos.stack import ChaosStack, unready_services
from rosca.errors import CliError
from rosca.stack.state import StackState
from services.runtime.naming import Namespace

RECOVERY_LIMIT_SECONDS = 60.0  # what the suite promises
# How long to keep waiting for a recovery past its limit before giving up on the rest of the plan.
GIVE_UP_SECONDS = 300.0
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Recovery:
    kill: Kill
    fired_after_seconds: float  # from the start of the plan
    pid: int
    seconds: float | None  # None: not recovered within GIVE_UP_SECONDS
    still_down: tuple[str, ...] = ()

    @property
    def within_limit(self) -> bool:
        return self.seconds is not None and self.seconds <= RECOVERY_LIMIT_SECONDS


class FaultInjector:
    """Runs the plan on its own thread; ``recoveries`` grows as kills are made and recovered from."""

    def __init__(self, plan: FaultPlan, stack: ChaosStack, report: Callable[[str], None]) -> None:
        self.plan = plan
        self.recoveries: list[Recovery] = []
        self._stack = stack
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)
        self._started_at = 0.0
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._started_at = time.monotonic()
        self._thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - self._started_at

    def finished(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=GIVE_UP_SECONDS + 10)

    def wait_until_done(self) -> None:
        """Until every kill of the plan was made and recovered from (or the injector gave up)."""
        self._thread.join()

    def _run(self) -> None:
        try:
            for kill in self.plan.kills:
                if self._stop.wait(max(0.0, kill.at_seconds - self.elapsed())):
                    return
                recovery = self._kill_and_recover(kill)
                self.recoveries.append(recovery)
                self._report(_describe(recovery))
                if recovery.seconds is None:
                    self._report("chaos: the stack did not recover; the rest of the plan is not carried out")
                    return
        except Exception as error:  # reported by the run, which fails on it
            self.failure = error

    def _kill_and_recover(self, planned: Kill) -> Recovery:
        state = self._stack.state()
        kill = planned
        if planned.target == NATS_STREAM_LEADER:
            kill = Kill(planned.at_seconds, asyncio.run(_stream_leader(state)))
            self._report(f"chaos: the COLLECTIONS stream's leader is {kill.target}")
        pid = state.pids.get(kill.target)
        if pid is None:
            raise CliError(
                f"the stack has no process {kill.target!r} to kill (stack.json: {sorted(state.pids)})"
            )
        fired_after = self.elapsed()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        still_down: list[str] = [kill.target]
        while (waited := time.monotonic() - killed_at) < GIVE_UP_SECONDS and not self._stop.is_set():
            if not self._stack.supervisor_alive():
                raise CliError(f"rosca up itself exited after {kill.target} was killed; see its log")
            state = self._stack.state()
            restarted = state.pids.get(kill.target, pid) != pid
            still_down = ([] if restarted else [kill.target]) + unready_services(state)
            if not still_down:
                return Recovery(kill, fired_after, pid, waited)
            time.sleep(POLL_SECONDS)
        return Recovery(kill, fired_after, pid, None, tuple(still_down))


def _describe(recovery: Recovery) -> str:
    kill = recovery.kill
    what = f"chaos: [{recovery.fired_after_seconds:6.1f} s] SIGKILL {kill.target} (pid {recovery.pid})"
    if recovery.seconds is None:
        down = ", ".join(recovery.still_down)
        return f"{what}: NOT recovered within {GIVE_UP_SECONDS:g} s (still down: {down})"
    late = "" if recovery.within_limit else f"  (over the {RECOVERY_LIMIT_SECONDS:g} s limit)"
    return f"{what}: whole again in {recovery.seconds:.1f} s{late}"


async def _stream_leader(state: StackState) -> str:
    """The cluster node that leads the COLLECTIONS stream now (the one whose loss forces an election)."""
    client = await nats.connect(state.nats_url.split(","), name="rosca-chaos-faults", connect_timeout=5)
    try:
        info = await client.jetstream().stream_info(Namespace(state.namespace).stream(COLLECTIONS.name))
    finally:
        await client.close()
    if info.cluster is None or not info.cluster.leader:
        raise CliError("the COLLECTIONS stream has no leader: is NATS a cluster?")
    return info.cluster.leader
