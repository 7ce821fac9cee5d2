"""Memory per pending job with 10,000 jobs pending, against the floor of a bare waiting task.

Each figure comes from a fresh interpreter (`--child`), so one measurement's heap never
pads another's. Ours: 10,000 jobs made in the emulator (queued for hours), resumed and
awaited on one session, a task each, measured once every job has been polled and its record
parsed (the note adds the same jobs awaited by one `jm.as_completed`). The
floor: 10,000 tasks each awaiting one shared `anyio.Event`, the least a waiter can cost.

    python -m benchmarks.memory_pending [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tracemalloc
from typing import Any

import anyio

import jimeng_async as jm

from .harness import EmulatorProcess, Row, median, rss_bytes, script_main, spread

#: Jobs that stay processing for the whole measurement (service seconds). Not queued: the
#: emulator's queue position costs it O(records) per answer, which would slow the run down.
PENDING = {"queue": [0, 0], "processing": [1e5, 1e5], "post": [1, 1], "finalise": [1, 1]}
#: Emulator options for many jobs: no duplicate-submit look-back (O(records) per submit).
MANY_JOBS: dict[str, Any] = {"image_timeline": PENDING, "duplicate_window": 0.0}


def _before() -> tuple[int, int, int]:
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
    return rss_bytes(), len(gc.get_objects()), traced


def _per_job(before: tuple[int, int, int], jobs: int) -> dict[str, float]:
    after = _before()
    return {
        "rss": (after[0] - before[0]) / jobs,
        "gc_objects": (after[1] - before[1]) / jobs,
        "traced": (after[2] - before[2]) / jobs,
    }


async def _drain(tasks: list[jm.GenerationTask[jm.ImageResult]]) -> None:
    async for _ in jm.as_completed(tasks):
        pass


async def measure_ours(jobs: int, grouped: bool = False) -> dict[str, float]:
    """Each job awaited by a task of its own, or (`grouped`) all by one `as_completed`."""
    async with EmulatorProcess(time_scale=0.1, **MANY_JOBS) as emu:
        token = await emu.add_account(jobs + 10)
        ids = (await emu.command("make_jobs", token=token, n=jobs))["ids"]
        async with jm.JimengSession(token, settings=emu.settings()) as s:
            await s.credits()  # connections and imports warm before the first reading
            before = _before()
            tasks = [s.resume(i, kind="image") for i in ids]
            async with anyio.create_task_group() as group:
                if grouped:
                    group.start_soon(_drain, tasks)
                else:
                    for task in tasks:
                        group.start_soon(task.wait)
                with anyio.fail_after(300):
                    # every job polled once: the emulator is another process, so ask it
                    while (await emu.stats())["history_ids"] < jobs:  # noqa: ASYNC110
                        await anyio.sleep(0.05)
                figures = _per_job(before, jobs)
                group.cancel_scope.cancel()
    return figures


async def measure_floor(jobs: int) -> dict[str, float]:
    event = anyio.Event()
    started = 0
    all_started = anyio.Event()

    async def waiter() -> None:
        nonlocal started
        started += 1
        if started == jobs:
            all_started.set()
        await event.wait()

    before = _before()
    async with anyio.create_task_group() as group:
        for _ in range(jobs):
            group.start_soon(waiter)
        await all_started.wait()
        figures = _per_job(before, jobs)
        event.set()
    return figures


def child(kind: str, jobs: int, traced: bool) -> dict[str, float]:
    """One measurement in a fresh interpreter; returns its figures per job."""
    command = [sys.executable, "-m", "benchmarks.memory_pending", "--child", kind]
    command += ["--jobs", str(jobs)] + (["--traced"] if traced else [])
    out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, timeout=600)  # noqa: S603 (own argv)
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


async def rows(quick: bool = False) -> list[Row]:
    jobs, repeats = (200, 1) if quick else (10_000, 3)
    ours = [await anyio.to_thread.run_sync(child, "ours", jobs, False) for _ in range(repeats)]
    floor = [await anyio.to_thread.run_sync(child, "floor", jobs, False) for _ in range(repeats)]
    grouped = [await anyio.to_thread.run_sync(child, "grouped", jobs, False)]
    traced = await anyio.to_thread.run_sync(child, "ours", jobs, True)
    floor_traced = await anyio.to_thread.run_sync(child, "floor", jobs, True)
    kb = [o["rss"] / 1024 for o in ours]
    floor_kb = [f["rss"] / 1024 for f in floor]
    above = median(kb) - median(floor_kb)
    return [
        Row(
            f"memory per pending job, KB RSS ({jobs} pending)",
            spread(kb, "{:.1f}"),
            f"{spread(floor_kb, '{:.1f}')} (bare task waiting on an Event)",
            f"{median(kb) / median(floor_kb):.1f}x floor",
            "<= floor + 2 KB",
            None if quick else above <= 2.0,
            f"{above:.1f} KB above the floor; traced {traced['traced'] / 1024:.1f} KB "
            f"(floor {floor_traced['traced'] / 1024:.1f}); GC-tracked objects "
            f"{median([o['gc_objects'] for o in ours]):.0f} per job "
            f"(floor {median([f['gc_objects'] for f in floor]):.0f}); awaited by one "
            f"as_completed instead of a task each: {grouped[0]['rss'] / 1024:.1f} KB, "
            f"{grouped[0]['gc_objects']:.0f} objects",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory_pending")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["ours", "grouped", "floor"])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--traced", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.child is None:
        script_main("benchmarks.memory_pending", rows)
        return
    if args.traced:
        tracemalloc.start()
    if args.child == "floor":
        print(json.dumps(anyio.run(measure_floor, args.jobs)))
    else:
        print(json.dumps(anyio.run(measure_ours, args.jobs, args.child == "grouped")))


if __name__ == "__main__":
    main()
