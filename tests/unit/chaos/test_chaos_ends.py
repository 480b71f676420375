"""What counts as a group's correct end in the chaos run."""

from typing import Any

from rosca.chaos.checks import terminal_states
from rosca.chaos.circles import ChaosGroup, Goal, reached


def rotation(status: str, *cycles: str) -> dict[str, Any]:
    return {"status": status, "cycles": [{"cycle_number": n, "status": s} for n, s in enumerate(cycles, 1)]}


def test_a_rotation_ends_when_every_cycle_is_paid() -> None:
    assert reached(Goal.ROTATION, rotation("completed", "completed", "completed", "completed"))
    assert not reached(Goal.ROTATION, rotation("running", "completed", "completed", "paying_out"))
    assert not reached(Goal.ROTATION, rotation("not_started"))


def test_funded_accepts_a_cycle_handed_to_payouts_or_paid_but_not_one_still_collecting() -> None:
    assert reached(Goal.FUNDED, rotation("running", "completed", "payout_paused", "paying_out"))
    assert not reached(Goal.FUNDED, rotation("running", "paying_out", "paying_out", "collecting"))
    assert not reached(
        Goal.FUNDED, rotation("awaiting_admin_decision", "cancelled", "scheduled", "scheduled")
    )


def test_every_group_short_of_its_end_is_named_with_its_cycles() -> None:
    done = ChaosGroup(1, "chaos group 01", [], "g-1", rotation("running", "paying_out", "paying_out"))
    stuck = ChaosGroup(2, "chaos group 02", [], "g-2", rotation("running", "paying_out", "collecting"))

    differences = terminal_states([done, stuck], Goal.FUNDED)

    assert differences == [
        "chaos group 02 (g-2) did not reach its end (funded): "
        "rotation running, cycles 1: paying_out, 2: collecting"
    ]
