"""``rosca demo`` from nothing: it starts its own stack (embedded Postgres, NATS, the Stripe simulator,
every service), runs a circle's whole rotation through the gateway on the simulated clock with the
trouble of its story, and ends with the statement, the money checker and reconciliation with Stripe.
Any refusal, a circle that does not do what the story expects, or a difference in the books fails it."""

import subprocess
import sys
from pathlib import Path

import pytest

from rosca.stack.ports import free_port
from tests.e2e.test_run_command import stack_environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROSCA = str(Path(sys.executable).with_name("rosca"))


def test_the_demo_runs_a_whole_rotation_and_its_books_agree_with_stripe(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    run = subprocess.run(
        [ROSCA, "demo", "--data-dir", str(data_dir), "--gateway-port", str(free_port())],
        env=stack_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    told = " ".join(output.split())  # the console wraps long lines
    for line in (
        "Bo's new debit: succeeded",
        "Dee's retry failed too",
        "refunded AUD 150.00 to Alice, Bo, Cy",
        "decision taken: Dee removed",
        "its payout is paused, waiting on recipient",
        "Cy's debt is paid",
        "payouts holds Cy's pot: recipient_owes_the_group",
        "the rotation is complete",
        "every invariant holds",
        "reconciled: the ledger and Stripe agree to the cent",
    ):
        assert line in told, f"{line!r} missing from:\n{output}"
    assert not (data_dir / "stack.json").exists(), "the demo left the stack it started running"
