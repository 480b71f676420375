"""Locust's simulated members for ``benchmarks/member_api_load.py``: each signs in as one seeded member
and opens the pages of a frontend in turn, every call through the gateway with the member's token.

Run by that script in a process of its own: importing locust patches the standard library with
gevent, so no other module (and no test) imports this one. The seeded members come from the JSON file
named by ``ROSCA_LOAD_POPULATION``; the final statistics go to the JSON file named by
``ROSCA_LOAD_SUMMARY`` (locust's CSV files are written every few seconds, so may miss the end).

Any answer but the one a page expects (a 4xx included) is a failure in locust's statistics.
"""

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.stats import StatsEntry

POPULATION_VARIABLE = "ROSCA_LOAD_POPULATION"
SUMMARY_VARIABLE = "ROSCA_LOAD_SUMMARY"
PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
POPULATION: list[dict[str, str]] = json.loads(Path(os.environ[POPULATION_VARIABLE]).read_text())
NEXT_SEAT = itertools.count()  # gevent runs one user at a time: no lock needed


class Member(FastHttpUser):
    """One member with a browser open: a page, a pause to read it, another page."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        seat = POPULATION[next(NEXT_SEAT) % len(POPULATION)]
        self.display_name = seat["display_name"]
        self.headers = {"Authorization": f"Bearer {seat['token']}"}
        self.group_ids = [group["group_id"] for group in self.read("/onboarding/groups") or []]

    @task(4)
    def home(self) -> None:
        self.read("/onboarding/members/me")
        self.read("/onboarding/groups")
        self.read("/payouts/members/me/pots")

    @task(4)
    def group_page(self) -> None:
        group_id = self.some_group()
        if group_id is None:
            return
        self.read(f"/onboarding/groups/{group_id}", name="/onboarding/groups/{group_id}")
        rotation = self.read(
            f"/collections/groups/{group_id}/rotation", name="/collections/groups/{group_id}/rotation"
        )
        self.read(f"/payouts/groups/{group_id}/payouts", name="/payouts/groups/{group_id}/payouts")
        if rotation and rotation["cycles"]:
            cycle_number = random.choice(rotation["cycles"])["cycle_number"]
            self.read(
                f"/collections/groups/{group_id}/cycles/{cycle_number}",
                name="/collections/groups/{group_id}/cycles/{cycle_number}",
            )

    @task(2)
    def ledger_page(self) -> None:
        group_id = self.some_group()
        if group_id is not None:
            self.read(f"/collections/groups/{group_id}/ledger", name="/collections/groups/{group_id}/ledger")

    @task(3)
    def my_contributions(self) -> None:
        self.read("/collections/members/me/contributions")

    @task(2)
    def my_pots(self) -> None:
        self.read("/payouts/members/me/pots")

    @task(2)
    def my_debts(self) -> None:
        self.read("/collections/members/me/debts")
        self.read("/onboarding/members/me/readiness")

    @task(1)
    def save_profile(self) -> None:
        """The profile page saved without a change: a write through onboarding to Stripe's customer."""
        with self.client.patch(
            "/onboarding/members/me",
            json={"display_name": self.display_name},
            headers=self.headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"answered {response.status_code}: {response.text[:200]}")

    def some_group(self) -> str | None:
        return random.choice(self.group_ids) if self.group_ids else None

    def read(self, path: str, *, name: str | None = None) -> Any:
        """The page's JSON, or None when it failed (counted as a failure)."""
        with self.client.get(path, name=name or path, headers=self.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"answered {response.status_code}: {response.text[:200]}")
                return None
            return response.json()


def write_summary(environment: Environment, **_: Any) -> None:
    """Every endpoint's figures, every failure and every exception, once the last user has stopped."""
    stats = environment.stats
    summary = {
        "endpoints": [_figures(entry) for _, entry in sorted(stats.entries.items())],
        "total": _figures(stats.total),
        "failures": [
            {
                "method": error.method,
                "name": error.name,
                "error": str(error.error),
                "occurrences": error.occurrences,
            }
            for error in stats.errors.values()
        ],
        # A task that raised (not a request that failed): its page was not opened to the end.
        "exceptions": [
            {"count": raised["count"], "error": raised["msg"]}
            for raised in (environment.runner.exceptions.values() if environment.runner else [])
        ],
    }
    Path(os.environ[SUMMARY_VARIABLE]).write_text(json.dumps(summary, indent=1))


def _figures(entry: StatsEntry) -> dict[str, Any]:
    return {
        "method": entry.method,
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "requests_per_second": entry.total_rps,
        "max_ms": entry.max_response_time,
        **{name: entry.get_response_time_percentile(share) for name, share in PERCENTILES.items()},
    }


# Locust's event hooks carry no types.
events.test_stop.add_listener(write_summary)  # type: ignore[no-untyped-call]
