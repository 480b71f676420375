"""The chaos run's fault plan: from a seed, which process is killed when, and the simulator's faults.

Pure: the same seed, duration and targets give the same plan, so a failing run can be replayed
exactly (the seed also seeds the simulator's own random faults). Every fault is a SIGKILL of one
process of the stack; ``rosca up --restart-crashed`` brings it back. Killing NATS or the embedded
Postgres is what restarting them means here: the hardest way for them to stop.
"""

import random
from dataclasses import dataclass
from typing import Any

NATS = "nats"
POSTGRES = "postgres"
# On a NATS cluster: whichever node leads the COLLECTIONS stream when the kill is made.
NATS_STREAM_LEADER = "nats-stream-leader"


@dataclass(frozen=True)
class PlanShape:
    """How many faults of each kind a run gets."""

    process_kills: int  # spread over every service, the gateway and the simulator
    nats_restarts: int
    postgres_restarts: int

    @property
    def total(self) -> int:
        return self.process_kills + self.nats_restarts + self.postgres_restarts


FULL = PlanShape(process_kills=30, nats_restarts=3, postgres_restarts=2)
QUICK = PlanShape(process_kills=7, nats_restarts=1, postgres_restarts=1)
# On a three-node cluster: every node and the stream leader killed at least once.
CLUSTER_FULL = PlanShape(process_kills=30, nats_restarts=6, postgres_restarts=2)
CLUSTER_QUICK = PlanShape(process_kills=7, nats_restarts=4, postgres_restarts=1)


@dataclass(frozen=True)
class SimulatorFaults:
    """What the Stripe simulator does wrong all run long (its ``POST /_sim/faults`` body)."""

    seed: int
    duplicate_percent: float = 10.0  # webhook deliveries sent twice
    out_of_order_window_seconds: float = 600.0  # each delivery delayed 0..10 min of the clock: reordered
    server_error_percent: float = 5.0  # API requests answered 500 before they run
    rate_limited_percent: float = 5.0  # API requests answered 429 before they run, beyond the limit's
    dropped_connection_percent: float = 2.0  # API requests that run, then lose their answer
    rate_limit_ops_per_second: float = 20.0  # beyond it: 429

    def as_settings(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "duplicate_percent": self.duplicate_percent,
            "out_of_order_window_seconds": self.out_of_order_window_seconds,
            "server_error_percent": self.server_error_percent,
            "rate_limited_percent": self.rate_limited_percent,
            "dropped_connection_percent": self.dropped_connection_percent,
            "rate_limit_ops_per_second": self.rate_limit_ops_per_second,
        }


@dataclass(frozen=True)
class Kill:
    at_seconds: float  # from the start of the rotations
    target: str  # a process name of the stack: a service, gateway, stripe-sim, nats, postgres


@dataclass(frozen=True)
class FaultPlan:
    seed: int
    duration_seconds: float
    kills: tuple[Kill, ...]
    simulator: SimulatorFaults

    def count(self, target: str) -> int:
        return sum(1 for kill in self.kills if kill.target == target)

    def describe(self) -> str:
        targets = sorted({kill.target for kill in self.kills})
        counts = ", ".join(f"{target} {self.count(target)}" for target in targets)
        faults = self.simulator
        return (
            f"{len(self.kills)} SIGKILLs over {self.duration_seconds:.0f} s ({counts}); simulator: "
            f"{faults.duplicate_percent:g} % duplicate deliveries, reordered within "
            f"{faults.out_of_order_window_seconds:g} s, {faults.server_error_percent:g} % 500, "
            f"{faults.rate_limited_percent:g} % 429, "
            f"{faults.dropped_connection_percent:g} % dropped connections, and 429 beyond "
            f"{faults.rate_limit_ops_per_second:g} requests/s"
        )


def plan_faults(
    seed: int,
    *,
    duration_seconds: float,
    processes: tuple[str, ...],
    shape: PlanShape = FULL,
    nats_targets: tuple[str, ...] = (NATS,),
) -> FaultPlan:
    """Kills spread evenly in time, one per slot at a seeded moment within it, in a seeded order.

    ``processes``: the stack's processes other than NATS and Postgres (services, gateway, simulator).
    The process kills go round them in a seeded order, so each is killed
    ``process_kills // len(processes)`` times or once more; the NATS restarts go round
    ``nats_targets`` alike (one server, or a cluster's nodes and its stream leader).
    """
    if not processes:
        raise ValueError("a fault plan needs processes to kill")
    if shape.process_kills < len(processes):
        raise ValueError(f"{shape.process_kills} kills cannot reach all {len(processes)} processes")
    if shape.nats_restarts < len(nats_targets):
        raise ValueError(f"{shape.nats_restarts} NATS restarts cannot reach all of {', '.join(nats_targets)}")
    rng = random.Random(seed)  # noqa: S311 - a replayable plan, not a secret
    targets = _round_robin(rng, processes, shape.process_kills) + _round_robin(
        rng, nats_targets, shape.nats_restarts
    )
    targets += [POSTGRES] * shape.postgres_restarts
    rng.shuffle(targets)
    slot = duration_seconds / len(targets)
    kills = tuple(
        # Within the middle of each slot, so two kills are never closer than half a slot.
        Kill(at_seconds=round(index * slot + rng.uniform(0.25, 0.75) * slot, 1), target=target)
        for index, target in enumerate(targets)
    )
    return FaultPlan(seed, duration_seconds, kills, SimulatorFaults(seed=rng.randrange(2**31)))


def _round_robin(rng: random.Random, names: tuple[str, ...], count: int) -> list[str]:
    """``count`` names, going round all of ``names`` (each round in a seeded order)."""
    rounds = [rng.sample(names, len(names)) for _ in range(-(-count // len(names)))]
    return [name for round_ in rounds for name in round_][:count]
