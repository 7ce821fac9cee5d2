"""A 1,000-job batch, 50 of them with an input image: makespan against its lower bound.

The bound is what the query limit and the service's latencies allow at best, for the jobs of
this very run: the queries the batch must make (one credit check, one upload token per input
image, one generate per job, one history answer per 10 jobs) pass 5 at a time at the mean
time the emulator took to serve a query in the run (its latency plus its own work, which no
client can shorten); the k-th job cannot be submitted before the credit check, the tokens and
k generates have passed, and is done its own duration later (as the emulator drew it); its
answer takes one more query. The bound is the later of "all queries passed" and "the last job
answered". (Until round 4 it used the configured mean latency and the mean job duration,
which left out the emulator's work and the longest of the last jobs; the note keeps that
figure too.) Ours: one session, every job submitted at once and awaited. Baseline
("naive"): each job its own flow (credits, upload, generate, then its own id polled every
second) on the same session.

    python -m benchmarks.batch [--quick]
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import anyio

import jimeng_async as jm
from jimeng_async.testing.media import png
from jimeng_async.transport import HISTORY

from .harness import EmulatorProcess, Row, median, script_main, spread

TIME_SCALE = 0.25
QUICK_SCALE = 0.05
DONE = {10, 50, 30}


def nominal_bound(emu: EmulatorProcess, jobs: int, images: int, max_queries: int) -> float:
    """The bound before round 4: configured mean latency, then one mean job duration."""
    config = emu.config
    latency = sum(config["web_latency"]) / 2 * emu.time_scale
    queries = 1 + images + jobs + math.ceil(jobs / 10)
    phases = config["image_timeline"]
    duration = sum(sum(phases[p]) / 2 for p in ("queue", "processing", "post", "finalise"))
    return float(queries * latency / max_queries + duration * emu.time_scale)


def bound(latency: float, durations: list[float], images: int, max_queries: int) -> float:
    """Seconds the batch needs at least: see the module's docstring."""
    jobs = len(durations)
    step = latency / max_queries
    all_queries = (1 + images + jobs + math.ceil(jobs / 10)) * step
    last_answer = max((1 + images + k + 1) * step + d for k, d in enumerate(durations))
    return max(all_queries, last_answer + latency)


async def run(
    emu: EmulatorProcess, inputs: list[Path], jobs: int, naive: bool
) -> tuple[float, float]:
    """Makespan of one batch on a fresh account and its bound, in seconds."""
    token = await emu.add_account(jobs + 10)
    await emu.command("reset_stats")
    settings = emu.settings()
    async with jm.JimengSession(token, settings=settings) as s:

        async def ours(i: int) -> None:
            images = [inputs[i]] if i < len(inputs) else None
            await (await s.submit_image(f"batch {i}", images=images))

        async def per_job(i: int) -> None:
            await s.credits(refresh=True)
            images = [await s.upload_image(inputs[i])] if i < len(inputs) else None
            task = await s.submit_image(f"batch {i}", images=images)
            while True:
                await anyio.sleep(1.0 * emu.time_scale)
                data = await s.transport.call(HISTORY, {"history_ids": [task.history_id]})
                record = data.get(task.history_id)
                if isinstance(record, dict) and record.get("status") in DONE:
                    return

        started = time.perf_counter()
        with anyio.fail_after(600):
            async with anyio.create_task_group() as group:
                for i in range(jobs):
                    group.start_soon(per_job if naive else ours, i)
        makespan = time.perf_counter() - started
    stats = await emu.stats()
    latency = stats["served_seconds"]["query"] / stats["served"]["query"]
    durations = (await emu.command("durations", token=token))["durations"]
    return makespan, bound(latency, durations, len(inputs), settings.max_queries)


async def rows(quick: bool = False) -> list[Row]:
    jobs, images, repeats = (40, 4, 1) if quick else (1000, 50, 3)
    with tempfile.TemporaryDirectory() as folder:
        inputs = []
        for i in range(images):
            path = Path(folder) / f"in{i}.png"
            path.write_bytes(png(64, 64, f"input {i}"))
            inputs.append(path)
        async with EmulatorProcess(time_scale=QUICK_SCALE if quick else TIME_SCALE) as emu:
            nominal = nominal_bound(emu, jobs, images, jm.Settings().max_queries)
            mine, base, bounds, old = [], [], [], []
            for _ in range(repeats):
                makespan, low = await run(emu, inputs, jobs, naive=False)
                mine.append(makespan / low)
                bounds.append(low)
                old.append(makespan / nominal)
                makespan, low = await run(emu, inputs, jobs, naive=True)
                base.append(makespan / low)
    return [
        Row(
            f"{jobs}-job batch ({images} with an input image): makespan / bound",
            spread(mine, "{:.2f}x"),
            f"{spread(base, '{:.2f}x')} (naive per-job flows)",
            f"{median(mine) / median(base):.2f}",
            "<= 1.25x bound",
            None if quick else median(mine) <= 1.25,
            f"bound {spread(bounds)} s at time scale {emu.time_scale}; against the pre-round-4 "
            f"bound ({nominal:.2f} s) {spread(old, '{:.2f}x')}",
        )
    ]


def main() -> None:
    script_main("benchmarks.batch", rows)


if __name__ == "__main__":
    main()
