"""History calls per job and detection lag, for 100 and for 1,000 image jobs.

Ours: one session submits every job and awaits it (the session's batched polling). Baselines,
with the same client for submits and for each history call, polling one id per call:
- "1 s": every second, the pattern of most other clients (PROTOCOL.md §6);
- "iptag": the first poll at once, then after 10 s, each wait growing 1.2-1.5x.
Detection lag is the time between the emulator finishing a job and the waiter seeing it, in
service seconds (real seconds / time scale).

    python -m benchmarks.polling_jobs [--quick]
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import anyio

import jimeng_async as jm
from jimeng_async.transport import HISTORY

from .harness import EmulatorProcess, Row, median, percentile, script_main, spread

DONE = {10, 50, 30}
TIME_SCALE = 0.25
QUICK_SCALE = 0.02


@dataclass
class Outcome:
    calls_per_job: float
    lags: list[float]  # service seconds, one per job
    seconds: float


def fixed_waits(every: float) -> Iterator[float]:
    while True:
        yield every


def iptag_waits(rng: random.Random) -> Iterator[float]:
    """First poll at once, then 10 s, growing 1.2-1.5x each time."""
    yield 0.0
    wait = 10.0
    while True:
        yield wait
        wait *= rng.uniform(1.2, 1.5)


async def _run(emu: EmulatorProcess, jobs: int, pattern: str) -> Outcome:
    """One repeat: submit `jobs` image jobs on a fresh account and wait for all of them."""
    token = await emu.add_account(jobs + 10)
    scale = emu.time_scale
    seen: dict[str, float] = {}
    rng = random.Random(7)
    async with jm.JimengSession(token, settings=emu.settings()) as s:
        await s.credits()  # the balance check is not what this measures
        await emu.command("reset_stats")
        started = time.perf_counter()

        async def ours(i: int) -> None:
            task = await s.submit_image(f"bench {i}")
            await task
            seen[task.history_id] = time.time()

        async def one_id(i: int) -> None:
            task = await s.submit_image(f"bench {i}")
            hid = task.history_id
            waits = fixed_waits(1.0) if pattern == "1 s" else iptag_waits(rng)
            for wait in waits:
                await anyio.sleep(wait * scale)
                data = await s.transport.call(HISTORY, {"history_ids": [hid]})
                record = data.get(hid)
                if isinstance(record, dict) and record.get("status") in DONE:
                    seen[hid] = time.time()
                    return

        worker = ours if pattern == "ours" else one_id
        with anyio.fail_after(600):
            async with anyio.create_task_group() as group:
                for i in range(jobs):
                    group.start_soon(worker, i)
        seconds = time.perf_counter() - started
    stats = await emu.stats()
    finish = (await emu.command("finish_times", ids=list(seen)))["finish"]
    lags = [max(0.0, seen[i] - finish[i]) / scale for i in seen]
    return Outcome(stats["history_calls"] / jobs, lags, seconds)


async def measure(jobs: int, pattern: str, repeats: int, scale: float) -> list[Outcome]:
    async with EmulatorProcess(time_scale=scale) as emu:
        return [await _run(emu, jobs, pattern) for _ in range(repeats)]


def _calls(outcomes: list[Outcome]) -> list[float]:
    return [o.calls_per_job for o in outcomes]


def _p95(outcomes: list[Outcome]) -> list[float]:
    return [percentile(o.lags, 0.95) for o in outcomes]


async def rows(quick: bool = False) -> list[Row]:
    """The 100-job rows (calls per job, p95 lag) and the 1,000-job row."""
    repeats = 1 if quick else 3
    scale = QUICK_SCALE if quick else TIME_SCALE
    small, large = (5, 20) if quick else (100, 1000)
    out: list[Row] = []
    ours = await measure(small, "ours", repeats, scale)
    base = await measure(small, "1 s", repeats, scale)
    iptag = await measure(small, "iptag", repeats, scale)
    ratio = median(_calls(ours)) / median(_calls(base))
    calls_ok = ratio <= 0.05 and median(_calls(ours)) <= 0.3
    out.append(
        Row(
            f"{small} image jobs: history calls per job",
            spread(_calls(ours)),
            f"{spread(_calls(base))} (1 s); {spread(_calls(iptag))} (iptag)",
            f"{ratio:.3f}",
            "<= 0.05, and <= 0.3 absolute",
            None if quick else calls_ok,
        )
    )
    lag_ratio = median(_p95(ours)) / median(_p95(base))
    out.append(
        Row(
            f"{small} image jobs: p95 detection lag (service s)",
            spread(_p95(ours)),
            f"{spread(_p95(base))} (1 s); {spread(_p95(iptag))} (iptag)",
            f"{lag_ratio:.2f}",
            "<= 1.0",
            None if quick else lag_ratio <= 1.0,
        )
    )
    big_ours = await measure(large, "ours", repeats, scale)
    big_base = await measure(large, "1 s", 1 if quick else 2, scale)
    big_ratio = median(_calls(big_ours)) / median(_calls(big_base))
    out.append(
        Row(
            f"{large} image jobs: history calls per job",
            spread(_calls(big_ours)),
            f"{spread(_calls(big_base))} (1 s; p50 lag "
            f"{median([median(o.lags) for o in big_base]):.1f} s)",
            f"{big_ratio:.2f}",
            "<= 0.3 absolute",
            None if quick else median(_calls(big_ours)) <= 0.3,
            f"ours p50 lag {median([median(o.lags) for o in big_ours]):.2f} s",
        )
    )
    return out


def main() -> None:
    script_main("benchmarks.polling_jobs", rows)


if __name__ == "__main__":
    main()
