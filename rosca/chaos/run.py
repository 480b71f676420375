"""``rosca chaos``: the seed first, then its own stack, the groups' rotations under the fault plan, and
the checks; a non-zero exit with every difference and the seed when anything is wrong."""

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx

from rosca.chaos import checks
from rosca.chaos.circles import ChaosGroups, Goal, reached
from rosca.chaos.injector import RECOVERY_LIMIT_SECONDS, FaultInjector
from rosca.chaos.patience import PatientClock, PatientTransport
from rosca.chaos.plan import (
    CLUSTER_FULL,
    CLUSTER_QUICK,
    FULL,
    NATS_STREAM_LEADER,
    QUICK,
    FaultPlan,
    plan_faults,
)
from rosca.chaos.stack import ChaosStack
from rosca.errors import CliError
from rosca.stack.nats_server import CLUSTER_NODES, cluster_node_name
from rosca.stack.services import SERVICES
from rosca.stack.state import StackState, running_stack
from rosca.stack.stripe_sim import SIMULATOR_NAME

MARKER = "chaos-run"  # in a data dir the chaos run made, and so may empty for the next run
PROCESSES = (*(spec.name for spec in SERVICES), "gateway", SIMULATOR_NAME)
DAYS_OF_GRACE = 14  # beyond the days a rotation needs, before a group that has not ended fails the run


@dataclass(frozen=True)
class ChaosOptions:
    seed: int
    groups: int
    quick: bool
    goal: str
    data_dir: Path
    nats_cluster: bool = False

    @property
    def fault_seconds(self) -> float:
        """Over how long the faults are spread: about how long the groups take to sign up and rotate."""
        return 150.0 if self.quick else 600.0


def run_chaos(options: ChaosOptions, say: Callable[[str], None]) -> int:
    # nats-py logs each connection the killed NATS dropped; the run reports the kill itself.
    logging.getLogger("nats").setLevel(logging.CRITICAL)
    say(f"chaos: seed {options.seed} (replay with: rosca chaos --seed {options.seed}{_flags(options)})")
    plan = _plan(options)
    say(f"chaos: plan: {plan.describe()}")
    _fresh_data_dir(options.data_dir)
    started = time.monotonic()
    stack = ChaosStack(options.data_dir, plan.simulator, nats_cluster=options.nats_cluster)
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            say(line)

    try:
        state = stack.start()
        up_seconds = time.monotonic() - started
        report(
            f"chaos: stack up in {up_seconds:.0f} s ({state.gateway_url}, logs in {options.data_dir}/logs)"
        )
        differences, figures = _drive(options, plan, stack, report)
    except CliError as failure:
        # The run could not go on (the stack did not start, a group could not be driven): a failure
        # like any difference, reported with the seed.
        differences, figures = [f"the run stopped: {failure}"], {}
    finally:
        stack.stop()
    figures["total_seconds"] = time.monotonic() - started
    say(_summary(figures))
    if differences:
        say(f"chaos: FAILED, {len(differences)} difference(s):")
        for line in differences:
            say(f"  - {line}")
        say(f"chaos: seed {options.seed}; replay with: rosca chaos --seed {options.seed}{_flags(options)}")
        return 1
    say(f"chaos: passed (seed {options.seed})")
    return 0


def _plan(options: ChaosOptions) -> FaultPlan:
    if options.nats_cluster:
        nodes = tuple(cluster_node_name(index) for index in range(CLUSTER_NODES))
        return plan_faults(
            options.seed,
            duration_seconds=options.fault_seconds,
            processes=PROCESSES,
            shape=CLUSTER_QUICK if options.quick else CLUSTER_FULL,
            nats_targets=(NATS_STREAM_LEADER, *nodes),
        )
    return plan_faults(
        options.seed,
        duration_seconds=options.fault_seconds,
        processes=PROCESSES,
        shape=QUICK if options.quick else FULL,
    )


def _drive(
    options: ChaosOptions, plan: FaultPlan, stack: ChaosStack, report: Callable[[str], None]
) -> tuple[list[str], dict[str, float]]:
    state = stack.state()
    clock = PatientClock(state.nats_url, state.namespace, state.stripe_api_base_url)
    injector = FaultInjector(plan, stack, report)
    differences: list[str] = []
    figures: dict[str, float] = {}
    with httpx.Client(
        base_url=state.gateway_url, timeout=30, transport=PatientTransport(), trust_env=False
    ) as http:
        groups = ChaosGroups(
            count=options.groups,
            run_tag=f"s{options.seed}",
            data_dir=options.data_dir,
            http=http,
            simulator_url=state.stripe_api_base_url,
            clock=clock,
            say=report,
        )
        try:
            injector.start()
            groups.land_at_ten_in_sydney()
            groups.sign_up_everyone()
            groups.form_and_start()
            figures["signed_up_after_seconds"] = injector.elapsed()
            _rotate(options, groups, injector, report)
            report("chaos: waiting for the rest of the fault plan")
            injector.wait_until_done()
            groups.clock.move_to(groups.clock.now())  # everything the last faults held up, done
            groups.read_rotations()
            figures["rotated_after_seconds"] = injector.elapsed()
            differences += _check(options, groups, injector, stack.state(), figures, report)
        finally:
            injector.stop()
            groups.close()
            clock.close()
    return differences, figures


def _rotate(
    options: ChaosOptions, groups: ChaosGroups, injector: FaultInjector, report: Callable[[str], None]
) -> None:
    """A day of the clock at a time until every group is done; paced so the faults fall within."""
    groups.read_rotations()
    days = groups.days_needed(options.goal)
    begun = injector.elapsed()
    for day in range(1, days + DAYS_OF_GRACE + 1):
        # Day ``day`` not before its share of the plan's time: the faults spread over the rotations.
        due = begun + (options.fault_seconds - begun) * min(1.0, (day - 1) / days)
        time.sleep(max(0.0, due - injector.elapsed()))
        moment = groups.next_day()
        groups.read_rotations()
        done = sum(reached(options.goal, group.rotation) for group in groups.groups)
        cycles = [c["status"] for g in groups.groups for c in g.rotation["cycles"]]
        tally = ", ".join(f"{status} {cycles.count(status)}" for status in sorted(set(cycles)))
        report(
            f"chaos: [{injector.elapsed():6.1f} s] day {day} of ~{days} ({moment:%a %d %b}): groups done "
            f"{done}/{len(groups.groups)}; cycles: {tally}; "
            f"faults {len(injector.recoveries)}/{len(injector.plan.kills)}"
        )
        if done == len(groups.groups):
            return


def _check(  # noqa: PLR0917 - the run's parts, each checked
    options: ChaosOptions,
    groups: ChaosGroups,
    injector: FaultInjector,
    state: StackState,
    figures: dict[str, float],
    report: Callable[[str], None],
) -> list[str]:
    differences = []
    if injector.failure is not None:
        differences.append(f"the fault injector failed: {injector.failure}")
    if len(injector.recoveries) < len(injector.plan.kills):
        differences.append(f"only {len(injector.recoveries)} of {len(injector.plan.kills)} faults were made")
    for recovery in injector.recoveries:
        if not recovery.within_limit:
            differences.append(
                f"{recovery.kill.target} killed at {recovery.fired_after_seconds:.0f} s: not whole again "
                f"within {RECOVERY_LIMIT_SECONDS:g} s ({recovery.seconds} s)"
            )
    seconds = [r.seconds for r in injector.recoveries if r.seconds is not None]
    if seconds:
        figures |= {"faults": len(seconds), "recovery_median": median(seconds), "recovery_max": max(seconds)}
    report("chaos: checking every group's end, Stripe's books, the dead letters and the money")
    # The faults are over: Stripe is reliable again for the checks' own reads.
    httpx.post(f"{state.stripe_api_base_url}/_sim/faults", json=_NO_FAULTS, timeout=10).raise_for_status()
    differences += checks.terminal_states(groups.groups, options.goal)
    client = checks.stripe_client(state.stripe_api_base_url)
    books, counted = checks.stripe_books(groups.groups, client)
    differences += books
    figures |= {name: float(count) for name, count in counted.items()}
    differences += checks.dead_letters(state)
    money = checks.money_checker(options.data_dir, client)
    if money is None:
        report("chaos: no money checker in this build (rosca.money_checker): skipped")
    else:
        differences += [f"money checker: {violation}" for violation in money]
    return differences


_NO_FAULTS = {
    "duplicate_percent": 0,
    "out_of_order_window_seconds": 0,
    "server_error_percent": 0,
    "rate_limited_percent": 0,
    "dropped_connection_percent": 0,
    "rate_limit_ops_per_second": 0,
}


def _summary(figures: dict[str, float]) -> str:
    parts = [f"total {figures['total_seconds']:.0f} s"]
    if "faults" in figures:
        parts.append(
            f"{figures['faults']:.0f} faults recovered from in {figures['recovery_median']:.1f} s median, "
            f"{figures['recovery_max']:.1f} s at most"
        )
    if "attempts" in figures:
        parts.append(
            f"{figures['attempts']:.0f} debit attempts, {figures['payment_intents']:.0f} PaymentIntents, "
            f"{figures['transfers']:.0f} transfers on Stripe"
        )
    return "chaos: " + "; ".join(parts)


def _flags(options: ChaosOptions) -> str:
    flags = f" --groups {options.groups}" + (" --quick" if options.quick else "")
    flags += " --nats-cluster" if options.nats_cluster else ""
    return flags + (f" --until {options.goal}" if options.goal != Goal.ROTATION else "")


def _fresh_data_dir(data_dir: Path) -> None:
    """Each run starts from nothing, so that a seed replays the same run; only a chaos run's own
    data dir is ever emptied."""
    if running_stack(data_dir) is not None:
        raise CliError(f"a stack is running in {data_dir}: the chaos run needs a data dir of its own")
    if data_dir.exists() and any(data_dir.iterdir()):
        if not (data_dir / MARKER).exists():
            raise CliError(
                f"{data_dir} holds something other than a chaos run's data: choose another --data-dir"
            )
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by rosca chaos; emptied at its next run\n")
