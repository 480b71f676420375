"""The member API load benchmark keeps locust (and gevent's patching) in a process of its own, and its
locustfile loads in locust; no stack is started here and nothing is timed."""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.member_api_load import LOCUSTFILE, POPULATION_VARIABLE, stats_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_runner_imports_neither_locust_nor_gevent() -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, benchmarks.member_api_load; print(sorted({'locust', 'gevent'} & set(sys.modules)))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert finished.stdout.strip() == "[]"


def test_locust_finds_the_simulated_member_in_the_locustfile(tmp_path: Path) -> None:
    population = tmp_path / "population.json"
    population.write_text(json.dumps([{"member_id": "m", "token": "t", "display_name": "M"}]))
    finished = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", POPULATION_VARIABLE: str(population)},
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "Member" in finished.stdout


def test_the_table_has_a_line_per_endpoint_and_the_total_last() -> None:
    def figures(method: str, name: str, requests: int) -> dict[str, object]:
        return {
            "method": method,
            "name": name,
            "requests": requests,
            "failures": 0,
            "requests_per_second": requests / 60,
            "p50": 12,
            "p95": 40,
            "p99": 95,
            "max_ms": 130.4,
        }

    table = stats_table(
        {
            "endpoints": [figures("GET", "/payouts/members/me/pots", 600)],
            "total": figures("", "Aggregated", 1_200),
            "failures": [],
            "exceptions": [],
        }
    ).splitlines()

    assert len(table) == 3
    pots = ["GET", "/payouts/members/me/pots", "600", "0", "10.0", "12", "40", "95", "130"]
    assert table[1].split() == pots
    assert table[2].split()[:3] == ["all", "endpoints", "1,200"]
