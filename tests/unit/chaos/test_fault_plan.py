"""The chaos run's fault plan: replayable from its seed, with at least the faults the suite promises."""

from itertools import pairwise

import pytest

from rosca.chaos.plan import (
    CLUSTER_FULL,
    FULL,
    NATS,
    NATS_STREAM_LEADER,
    POSTGRES,
    QUICK,
    PlanShape,
    plan_faults,
)

PROCESSES = ("onboarding", "collections", "payouts", "webhooks", "scheduler", "gateway", "stripe-sim")


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    first = plan_faults(7, duration_seconds=900, processes=PROCESSES)

    assert plan_faults(7, duration_seconds=900, processes=PROCESSES) == first
    assert plan_faults(8, duration_seconds=900, processes=PROCESSES) != first


@pytest.mark.parametrize("seed", range(20))
def test_the_full_plan_has_the_promised_faults_spread_over_every_process(seed: int) -> None:
    plan = plan_faults(seed, duration_seconds=900, processes=PROCESSES, shape=FULL)

    process_kills = [kill for kill in plan.kills if kill.target in PROCESSES]
    assert len(process_kills) >= 30
    assert plan.count(NATS) >= 3
    assert plan.count(POSTGRES) >= 2
    per_process = [plan.count(name) for name in PROCESSES]
    assert min(per_process) >= 30 // len(PROCESSES)
    assert max(per_process) - min(per_process) <= 1
    assert plan.simulator.duplicate_percent == 10
    assert plan.simulator.server_error_percent == 5
    assert plan.simulator.rate_limited_percent == 5
    assert plan.simulator.dropped_connection_percent > 0
    assert plan.simulator.out_of_order_window_seconds > 0


@pytest.mark.parametrize("seed", range(20))
def test_kills_are_in_order_within_the_run_and_never_closer_than_half_a_slot(seed: int) -> None:
    plan = plan_faults(seed, duration_seconds=600, processes=PROCESSES, shape=QUICK)
    slot = 600 / QUICK.total
    moments = [kill.at_seconds for kill in plan.kills]

    assert len(moments) == QUICK.total
    assert moments == sorted(moments)
    assert moments[0] > 0
    assert moments[-1] < 600
    assert all(later - earlier >= slot / 2 - 0.1 for earlier, later in pairwise(moments))
    assert {kill.target for kill in plan.kills} == {*PROCESSES, NATS, POSTGRES}


def test_a_plan_with_fewer_kills_than_processes_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot reach"):
        plan_faults(1, duration_seconds=60, processes=PROCESSES, shape=PlanShape(3, 1, 1))


@pytest.mark.parametrize("seed", range(10))
def test_on_a_cluster_every_node_and_the_stream_leader_are_killed(seed: int) -> None:
    nodes = ("nats-0", "nats-1", "nats-2")
    plan = plan_faults(
        seed,
        duration_seconds=900,
        processes=PROCESSES,
        shape=CLUSTER_FULL,
        nats_targets=(NATS_STREAM_LEADER, *nodes),
    )

    for target in (NATS_STREAM_LEADER, *nodes):
        assert plan.count(target) >= 1, target
    assert plan.count(NATS) == 0
    assert sum(plan.count(target) for target in (NATS_STREAM_LEADER, *nodes)) == CLUSTER_FULL.nats_restarts
