"""Run every benchmark scenario and rewrite benchmarks/RESULTS.md: `python -m benchmarks`.

Each scenario script runs in its own interpreter (`python -m benchmarks.<name> --json`), and
each of those runs its server (the emulator or a minimal one) in a further process, so that
the client's CPU, memory and event loop are measured alone. The exit status is 1 when a target
is missed; the file is written either way. `--quick` runs every script with tiny sizes and
judges nothing (the test suite uses it to keep the scripts working); it writes no file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from .harness import HEADER, Row, machine

RESULTS = Path(__file__).with_name("RESULTS.md")

#: Scenario scripts, in table order, and what each measures.
SCENARIOS: dict[str, str] = {
    "polling_jobs": "history calls per job (100 and 1,000 image jobs) and p95 detection lag",
    "cpu_per_call": "client CPU per web call against bare httpx, on a minimal server",
    "memory_pending": "memory per pending job with 10,000 pending, against a bare waiting task",
    "loop_lag": "event-loop lag with 10,000 pending jobs, start-up included",
    "upload": "100 MB upload throughput against a bare httpx PUT, and its peak traced memory",
    "batch": "1,000-job batch makespan against the bound the limits and latencies imply",
}


def run_script(name: str, quick: bool) -> tuple[list[Row], float]:
    """Run one scenario script in a fresh interpreter; its rows and its wall time."""
    command = [sys.executable, "-m", f"benchmarks.{name}", "--json"]
    if quick:
        command.append("--quick")
    started = time.perf_counter()
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)  # noqa: S603
    elapsed = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    rows = [Row(**fields) for fields in json.loads(lines[-1])]
    return rows, elapsed


def render(rows: list[Row], timings: dict[str, float], command: str, note: str) -> str:
    table = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(row.cells()) + " |" for row in rows),
    ]
    missed = [row.scenario for row in rows if row.holds is False]
    verdict = (
        "Every target holds."
        if not missed
        else f"{len(missed)} of {len(rows)} targets missed: " + "; ".join(missed) + "."
    )
    scripts = [
        f"- `benchmarks/{name}.py` ({timings.get(name, 0.0):.0f} s): {what}"
        for name, what in SCENARIOS.items()
    ]
    parts = [
        "# Benchmark results",
        "",
        *([note, ""] if note else []),
        f"Measured with `{command}` on {time.strftime('%Y-%m-%d %H:%M %Z')}, in "
        f"{sum(timings.values()):.0f} s, on {machine()}.",
        "",
        "The client runs in the benchmark's process; the emulator (or, for CPU per call, a "
        "minimal server) runs in a child process, so every CPU, memory and event-loop figure is "
        "the client's own. Each figure is the median of repeats in one run, with (min-max); a "
        "ratio is ours / baseline, measured in the same run, so that load on the machine hits "
        "both alike. Job times are the emulator's, time-scaled; lags are in service seconds.",
        "",
        verdict,
        "",
        *table,
        "",
        "Scripts (each runs alone: `python -m benchmarks.<name>`, `--quick` for tiny sizes):",
        "",
        *scripts,
        "",
    ]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no targets, no file")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS), help="repeatable")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--note", default="", help="a paragraph for the top of RESULTS.md")
    parser.add_argument("--command", default="nox -s bench", help="the command to record")
    args = parser.parse_args()
    rows: list[Row] = []
    timings: dict[str, float] = {}
    for name in args.only or SCENARIOS:
        print(f"== {name}: {SCENARIOS[name]}", flush=True)
        found, timings[name] = run_script(name, args.quick)
        print(f"   ({timings[name]:.1f} s)", flush=True)
        rows += found
    if not (args.quick or args.no_write):
        RESULTS.write_text(render(rows, timings, args.command, args.note), encoding="utf-8")
        print(f"wrote {RESULTS}")
    return 1 if any(row.holds is False for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
