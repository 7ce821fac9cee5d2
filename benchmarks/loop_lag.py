"""Event-loop lag while 10,000 jobs are pending, start-up included.

A monitor task sleeps 5 ms at a time and records how late it wakes up; it starts before the
jobs do, so the stall of starting 10,000 waiters counts. Ours: the jobs (made in the emulator,
processing for 1-2.5 s real) are resumed on one session and awaited with `jm.as_completed`
(which starts their waiters a slice at a time) until all are done.
Baseline: a capped per-job poller, each job asking for its own id every second through the
same session (so at most 5 calls in flight), watched for as long as ours took (at least 5 s).
Floor (in the note): 10,000 bare tasks started the same way, each waiting on one shared Event,
watched as long: what starting and keeping that many tasks costs the loop before any library
code runs (task creation, and the full garbage collections their objects set off).

    python -m benchmarks.loop_lag [--quick]
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

import jimeng_async as jm
from jimeng_async.transport import HISTORY

from .harness import EmulatorProcess, Row, median, percentile, script_main, spread

TICK = 0.005
TIME_SCALE = 0.25
QUICK_SCALE = 0.05
DONE = {10, 50, 30}
#: No queue phase (the emulator's queue position is O(records) per answer) and no
#: duplicate look-back (O(records) per submit): the emulator process must keep up.
MANY_JOBS: dict[str, Any] = {
    "image_timeline": {"queue": [0, 0], "processing": [4, 10], "post": [0, 0], "finalise": [0, 0]},
    "duplicate_window": 0.0,
}


async def monitored(work: Callable[[], Awaitable[None]], window: float | None) -> list[float]:
    """Run `work` with a lag monitor; stop at its end or after `window` seconds."""
    lags: list[float] = []
    stop = anyio.Event()

    async def monitor() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await anyio.sleep(TICK)
            lags.append(max(0.0, time.perf_counter() - before - TICK))

    async with anyio.create_task_group() as group:
        group.start_soon(monitor)
        await anyio.sleep(0.05)  # the monitor is ticking before the jobs start
        with anyio.move_on_after(window if window is not None else 600):
            await work()
        stop.set()
    return lags


async def run(
    jobs: int, pattern: str, window: float | None, scale: float
) -> tuple[list[float], float]:
    async with EmulatorProcess(time_scale=scale, **MANY_JOBS) as emu:
        token = await emu.add_account(jobs + 10)
        ids = (await emu.command("make_jobs", token=token, n=jobs))["ids"]
        settings = emu.settings()
        async with jm.JimengSession(token, settings=settings) as s:
            await s.credits()  # connections warm

            async def ours() -> None:
                # Like the patterns below, nothing holds a job's result once it is read.
                tasks = (s.resume(hid, kind="image") for hid in ids)
                async for task in jm.as_completed(tasks):
                    await task

            async def poll_one(hid: str) -> None:
                await anyio.sleep(settings.poll_first_delay_image)
                while True:
                    data = await s.transport.call(HISTORY, {"history_ids": [hid]})
                    record = data.get(hid)
                    if isinstance(record, dict) and record.get("status") in DONE:
                        return
                    await anyio.sleep(1.0 * scale)

            async def floor() -> None:
                released = anyio.Event()
                async with anyio.create_task_group() as group:
                    for _ in ids:
                        group.start_soon(released.wait)
                    await anyio.sleep(window or 0.0)
                    released.set()

            async def capped() -> None:
                async with anyio.create_task_group() as group:
                    for hid in ids:
                        group.start_soon(poll_one, hid)

            started = time.perf_counter()
            work = {"ours": ours, "capped": capped, "floor": floor}[pattern]
            lags = await monitored(work, window if pattern != "floor" else None)
            return lags, time.perf_counter() - started


async def rows(quick: bool = False) -> list[Row]:
    jobs, repeats = (300, 1) if quick else (10_000, 3)
    scale = QUICK_SCALE if quick else TIME_SCALE
    ours = [await run(jobs, "ours", None, scale) for _ in range(repeats)]
    window = max(1.0 if quick else 5.0, median([seconds for _, seconds in ours]))
    base = [await run(jobs, "capped", window, scale) for _ in range(1 if quick else 2)]
    ours_max = [max(lags) * 1000 for lags, _ in ours]
    ours_p99 = [percentile(lags, 0.99) * 1000 for lags, _ in ours]
    base_max = [max(lags) * 1000 for lags, _ in base]
    floor = [await run(jobs, "floor", window, scale) for _ in range(1 if quick else 2)]
    floor_max = [max(lags) * 1000 for lags, _ in floor]
    return [
        Row(
            f"event-loop lag, {jobs} pending jobs, start-up included: max ms",
            spread(ours_max, "{:.0f}"),
            f"{spread(base_max, '{:.0f}')} (capped per-job poller)",
            f"{median(ours_max) / median(base_max):.2f}",
            "max <= 50 ms",
            None if quick else median(ours_max) <= 50,
            f"ours p99 {spread(ours_p99, '{:.1f}')} ms; all done in "
            f"{median([s for _, s in ours]):.1f} s; floor (bare waiting tasks) max "
            f"{spread(floor_max, '{:.0f}')} ms",
        )
    ]


def main() -> None:
    script_main("benchmarks.loop_lag", rows)


if __name__ == "__main__":
    main()
