"""The short seeded chaos run (``rosca chaos --quick``): a few groups through their cycles while every
process of the stack is killed once (NATS and Postgres among them) and the Stripe simulator
duplicates, reorders, fails and drops; every group must end right, Stripe's books match, nothing is
dead-lettered, and every fault is recovered from within 60 s.

A group's end is its whole rotation: every cycle's pot transferred by payouts, the rotation complete,
and the money checker passing on the books.
"""

import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_run_command import ROSCA, stack_environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SEED = 20261201


def test_a_quick_seeded_chaos_run_ends_every_group_right_with_true_books(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            *(ROSCA, "chaos", "--quick", "--groups", "3", "--until", "rotation"),
            *("--seed", str(SEED), "--data-dir", str(tmp_path / "chaos")),
        ],
        env=stack_environment(),
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    output = run.stdout + run.stderr
    assert output.splitlines()[0].startswith(f"chaos: seed {SEED} "), output
    assert run.returncode == 0, output
    assert f"chaos: passed (seed {SEED})" in output
    assert output.count(": whole again in ") == 9, output  # every kill of the quick plan, recovered
