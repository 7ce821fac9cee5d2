"""The benchmark scripts keep working: `python -m benchmarks --quick` runs every scenario.

Quick mode uses tiny sizes and judges no target, so nothing here asserts a timing; it proves
that each script starts its server process, drives the client, and reports a full row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["polling_jobs", "cpu_per_call", "memory_pending", "loop_lag", "upload", "batch"]


@pytest.fixture(scope="module")
def quick_rows() -> dict[str, list[dict[str, object]]]:
    """Rows of every scenario script, each run in quick mode in its own interpreter."""
    rows: dict[str, list[dict[str, object]]] = {}
    for name in SCENARIOS:
        done = subprocess.run(  # noqa: S603 (our own interpreter and module)
            [sys.executable, "-m", f"benchmarks.{name}", "--quick", "--json"],
            cwd=ROOT,
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=110,
        )
        rows[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return rows


def test_runner_lists_every_scenario_script() -> None:
    from benchmarks.__main__ import SCENARIOS as listed

    assert list(listed) == SCENARIOS
    for name in SCENARIOS:
        assert (ROOT / "benchmarks" / f"{name}.py").is_file()


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_reports_ours_baseline_and_target(
    quick_rows: dict[str, list[dict[str, object]]], name: str
) -> None:
    rows = quick_rows[name]
    assert rows, f"{name} reported no row"
    for row in rows:
        for cell in ("scenario", "ours", "baseline", "target"):
            assert isinstance(row[cell], str), f"{name}: {cell} is not text in {row}"
            assert row[cell], f"{name}: empty {cell} in {row}"
        assert row["holds"] is None  # quick mode judges no target
        assert "nan" not in str(row["ours"])
        assert "nan" not in str(row["baseline"])


def test_polling_rows_cover_calls_and_lag(quick_rows: dict[str, list[dict[str, object]]]) -> None:
    names = [str(row["scenario"]) for row in quick_rows["polling_jobs"]]
    assert sum("history calls per job" in n for n in names) == 2
    assert sum("detection lag" in n for n in names) == 1


def test_results_table_renders_every_row(quick_rows: dict[str, list[dict[str, object]]]) -> None:
    from benchmarks.__main__ import render
    from benchmarks.harness import Row

    rows = [Row(**fields) for name in SCENARIOS for fields in quick_rows[name]]  # type: ignore[arg-type]
    text = render(rows, dict.fromkeys(SCENARIOS, 1.0), "python -m benchmarks", "")
    for row in rows:
        assert f"| {row.scenario} | {row.ours} | {row.baseline} |" in text
    assert "Every target holds." in text  # no target is judged in quick mode
