"""When the poller asks for a job: riders keep their planned poll, and while other calls wait
for a query slot only the jobs not yet answered are asked at once (issue #15).

On trio's virtual clock: the due times sit on grids of the poll interval, so every time below
is exact.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup
from trio.testing import MockClock

from jimeng_async import Settings
from jimeng_async.polling import Poller, Watch

pytestmark = pytest.mark.anyio

SETTINGS = Settings(
    poll_first_delay_image=0.0,
    poll_min_interval=1.0,
    poll_max_interval=10.0,
    poll_batch_size=3,
)
SAFETY = 1000  # virtual seconds: only a guard against a hang
QUEUED = {  # still queued: the answer forecasts the end 5 s from now
    "status": 20,
    "queue_info": {"queue_idx": 1, "queue_length": 3},
    "forecast_cost_time": {"forecast_queue_cost": 1.0, "forecast_generate_cost": 4.0},
}
RUNNING = {"status": 20}
DONE = {"status": 50, "item_list": []}


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "trio", {"clock": MockClock(autojump_threshold=0)}


class Service:
    """Answers from a dict; records when each call was made (relative to `start`) and for
    which ids."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[float, list[str]]] = []

    async def fetch(self, ids: list[str]) -> Mapping[str, Any]:
        self.calls.append((anyio.current_time() - self.start, list(ids)))
        return {i: self.records[i] for i in ids if i in self.records}

    def asked(self, history_id: str) -> list[float]:
        return [at for at, ids in self.calls if history_id in ids]


async def aligned_start() -> float:
    """Move the virtual clock onto a multiple of 3 s, where every grid (1, 0.75 and 0.25 of
    the interval) has a line, so that times relative to it are exact."""
    start = (math.floor(anyio.current_time() / 3) + 1) * 3.0
    await anyio.sleep_until(start)
    return start


async def wait_until_finished(poller: Poller, watch: Watch) -> None:
    while not watch.finished and not poller.closed:
        await poller.wait(watch, watch.stamp, math.inf)


async def at(service: Service, when: float) -> None:
    await anyio.sleep_until(service.start + when)


@dataclass
class Scene:
    """A poller with one job, answered at 0 as queued (its forecast ends at 5) and awaited;
    other calls wait for a query slot while `busy[0]` (never, until a test says so)."""

    service: Service
    poller: Poller
    job: Watch
    group: TaskGroup
    busy: list[bool]


@asynccontextmanager
async def one_queued_job(history_id: str) -> AsyncIterator[Scene]:
    service = Service(await aligned_start())
    busy = [False]
    poller = Poller(service.fetch, SETTINGS, contended=lambda: busy[0])
    service.records[history_id] = QUEUED
    job = poller.watch(history_id, "image")
    async with anyio.create_task_group() as group:
        group.start_soon(wait_until_finished, poller, job)
        yield Scene(service, poller, job, group, busy)
        group.cancel_scope.cancel()


async def test_a_job_that_rides_along_before_its_due_keeps_its_planned_poll() -> None:
    async with one_queued_job("a") as scene:
        service, poller, a = scene.service, scene.poller, scene.job
        await at(service, 1.0)
        assert service.asked("a") == [0.0]
        assert a.next_due == service.start + 5.25  # the forecast end plus margin, on its grid
        await at(service, 4.7)
        service.records["a"] = RUNNING
        service.records["b"] = RUNNING
        b = poller.watch("b", "image")  # first asked at 4.75, with `a` riding along
        scene.group.start_soon(wait_until_finished, poller, b)
        await at(service, 5.1)
        service.records["a"] = DONE
        with anyio.fail_after(SAFETY):
            await wait_until_finished(poller, a)
    # Put off to 4.75 + 0.75 (on the 0.75 grid: 6.0), it would be seen 0.9 s after its end.
    assert service.asked("a") == [0.0, 4.75, 5.25]


async def test_while_calls_wait_for_a_slot_an_answered_job_waits_up_to_the_max_interval() -> None:
    async with one_queued_job("a") as scene:
        service, a = scene.service, scene.job
        await at(service, 1.0)
        scene.busy[0] = True  # the first answer came before the flood of submits
        service.records["a"] = DONE  # done at 1: due at 5.25, put off until 10 s past that
        with anyio.fail_after(SAFETY):
            await wait_until_finished(scene.poller, a)
    assert service.asked("a") == [0.0, 15.25]
    assert a.put_off_since is None


async def test_an_answered_job_put_off_is_asked_once_the_slots_are_free() -> None:
    async with one_queued_job("a") as scene:
        service, a = scene.service, scene.job
        await at(service, 1.0)
        scene.busy[0] = True
        await at(service, 6.1)
        assert service.asked("a") == [0.0]
        assert a.put_off_since == service.start + 5.25
        service.records["a"] = DONE
        scene.busy[0] = False
        with anyio.fail_after(SAFETY):
            await wait_until_finished(scene.poller, a)
    assert service.asked("a") == [0.0, 6.25]  # the next round on the 0.25 grid


async def test_while_calls_wait_new_jobs_go_in_full_batches_the_spare_one_round_later() -> None:
    async with one_queued_job("old") as scene:
        service, poller = scene.service, scene.poller
        await at(service, 1.0)
        scene.busy[0] = True
        await at(service, 5.5)  # `old` is due since 5.25 and put off
        assert service.asked("old") == [0.0]
        ids = [f"n{i}" for i in range(4)]
        for history_id in ids:
            service.records[history_id] = RUNNING
            scene.group.start_soon(wait_until_finished, poller, poller.watch(history_id, "image"))
        await at(service, 6.1)
    # n0-n2 fill a batch at once; n3 alone would cost a call: it goes 0.25 s later, and the
    # answered job put off rides along with it (and the soonest due after it).
    assert service.calls[1:3] == [(5.5, ["n0", "n1", "n2"]), (5.75, ["n3", "old", "n0"])]


async def test_without_contention_a_lone_new_job_is_asked_at_once_with_riders() -> None:
    async with one_queued_job("old") as scene:
        service, poller = scene.service, scene.poller
        await at(service, 2.5)
        service.records["new"] = RUNNING
        scene.group.start_soon(wait_until_finished, poller, poller.watch("new", "image"))
        await at(service, 2.6)
    assert service.calls == [(0.0, ["old"]), (2.5, ["new", "old"])]
