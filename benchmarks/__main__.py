"""Run every benchmark against the emulator and write benchmarks/RESULTS.md.

Each figure is measured here, on loopback, with the emulator time-scaled; they show what the
client costs (requests, memory, overhead), not what the real service's latency would be.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

import jimeng_async as jm
from jimeng_async.testing import Emulator, FaultConfig
from jimeng_async.testing.media import png

Row = tuple[str, str, str]
RESULTS = Path(__file__).with_name("RESULTS.md")


async def batched_polling(jobs: int) -> list[Row]:
    """`jobs` image jobs submitted and awaited at once on one session, as a batch script does."""
    async with Emulator(time_scale=0.05, seed=1) as emu:
        token = emu.add_account(credits=jobs + 10)
        async with jm.JimengSession(token, settings=emu.settings()) as s:
            started = time.perf_counter()

            async def one(i: int) -> None:
                await (await s.submit_image(f"bench {i}"))

            async with anyio.create_task_group() as group:
                for i in range(jobs):
                    group.start_soon(one, i)
            finished = time.perf_counter()
            tasks = s.metrics.snapshot()["tasks"]
        sizes = emu.stats.history_batch_sizes
    return [
        (f"{jobs} image jobs at once, one session", f"{finished - started:.2f} s", "all done"),
        ("completed", str(tasks["completed"]), f"of {jobs}"),
        ("get_history_by_ids calls", str(len(sizes)), f"for {sum(sizes)} job polls"),
        ("mean ids per history call", f"{sum(sizes) / len(sizes):.1f}", "service max 10"),
    ]


async def query_throughput(calls: int) -> list[Row]:
    """`calls` uncached credit queries at once through the 5-query limit."""
    async with Emulator(time_scale=0.01, seed=2) as emu:
        token = emu.add_account(credits=10)
        async with jm.JimengSession(token, settings=emu.settings()) as s:
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(calls):
                    group.start_soon(lambda: s.credits(refresh=True))
            elapsed = time.perf_counter() - started
            stats = s.metrics.snapshot()["endpoints"]["user_credit"]
        in_flight = emu.stats.max_in_flight[(token, "query")]
    return [
        (f"{calls} concurrent credit queries", f"{calls / elapsed:.0f} req/s", f"{elapsed:.2f} s"),
        ("query latency p95", f"{stats['latency_p95'] * 1000:.1f} ms", "loopback, emulator"),
        ("largest in flight (emulator)", str(in_flight), "limit 5"),
    ]


async def upload_memory(megabytes: int) -> list[Row]:
    """Peak traced memory of one large upload (client and emulator in this process)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.png"
        with path.open("wb") as out:
            out.write(png(32, 32, "large"))
            block = b"\x5a" * (1024 * 1024)
            for _ in range(megabytes):
                out.write(block)
        async with Emulator(time_scale=0.01, seed=3) as emu:
            token = emu.add_account(credits=10)
            async with jm.JimengSession(token, settings=emu.settings()) as s:
                tracemalloc.start()
                started = time.perf_counter()
                await s.upload_image(path)
                elapsed = time.perf_counter() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
    return [
        (f"{megabytes} MB upload: peak traced memory", f"{peak / 2**20:.2f} MiB", "target < 8"),
        (f"{megabytes} MB upload: throughput", f"{megabytes / elapsed:.0f} MB/s", "loopback"),
    ]


async def faulty_submits(jobs: int) -> list[Row]:
    """Submits with half their answers dropped: retried with their submit_id, paid once."""
    async with Emulator(time_scale=0.01, seed=4) as emu:
        token = emu.add_account(credits=jobs + 10)
        emu.faults = FaultConfig(drop_rate=0.5, seed=4, endpoints={"generate"})
        settings = emu.settings(retry_base_delay=0.001, max_retries=10)
        async with jm.JimengSession(token, settings=settings) as s:
            for i in range(jobs):
                await s.submit_image(f"paid {i}")
        stats = emu.stats
    return [
        (f"{jobs} submits, 50% answers dropped", str(stats.faults_injected["drop"]), "drops"),
        ("credits charged", str(stats.credits_charged), f"for {jobs} jobs"),
        ("duplicate paid jobs", str(stats.duplicate_submits), "must be 0"),
    ]


def _write(rows: list[Row], command: str) -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Measured with `{command}` on {platform.machine()}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}: client and emulator in one "
        "process on loopback, emulator time-scaled (0.05 for the jobs, 0.01 elsewhere). "
        "Wall times are the emulator's scaled job times plus the client's overhead.",
        "",
        "| what | figure | note |",
        "|---|---|---|",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
    ]
    RESULTS.write_text("\n".join(lines), encoding="utf-8")


async def run(jobs: int, calls: int, megabytes: int) -> list[Row]:
    suites: list[Callable[[], Awaitable[list[Row]]]] = [
        lambda: batched_polling(jobs),
        lambda: query_throughput(calls),
        lambda: upload_memory(megabytes),
        lambda: faulty_submits(50),
    ]
    rows: list[Row] = []
    for suite in suites:
        rows += await suite()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--megabytes", type=int, default=40)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows = anyio.run(run, args.jobs, args.calls, args.megabytes)
    width = max(len(r[0]) for r in rows)
    for what, figure, note in rows:
        print(f"{what:<{width}}  {figure:>12}  {note}")
    if not args.no_write:
        _write(rows, "nox -s bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
