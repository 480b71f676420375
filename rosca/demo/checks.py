"""The demo's last word: its books checked, by the money checker and by reconciliation with Stripe.

Both read what an operator may read (the collections database, Stripe's records); the members'
story above went through the gateway only.
"""

import asyncio
import subprocess
import sys
from pathlib import Path

import stripe

from rosca.errors import CliError
from rosca.money_checker import check_money
from rosca.stack.local_secrets import read_env_file
from rosca.stack.state import service_environment_path


class BooksDisagreeError(CliError):
    """The money checker or the reconciliation found a difference."""


def money_checks(data_dir: Path, client: stripe.StripeClient) -> str:
    """Every money invariant on the stack's books and Stripe's; raises on any violation."""
    settings = read_env_file(service_environment_path(data_dir, "collections"))
    report = asyncio.run(check_money(settings["ROSCA_COLLECTIONS_DATABASE_URL"], client))
    if not report.passed:
        raise BooksDisagreeError(report.describe())
    return report.describe()


def reconcile_group(data_dir: Path, group_id: str) -> str:
    """``rosca reconcile --group``, as an operator runs it; raises when it finds a difference."""
    run = subprocess.run(  # our own command, no shell
        [sys.executable, "-m", "rosca", "reconcile", "--data-dir", str(data_dir), "--group", group_id],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise BooksDisagreeError(
            f"rosca reconcile --group {group_id} exited {run.returncode}:\n{run.stdout}{run.stderr}"
        )
    return run.stdout.strip()
