"""The poller against a fake service: batching, sleeping, dropping, surviving failed rounds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from jimeng_async import ServerError, Settings, TaskStatus
from jimeng_async.polling import Poller

pytestmark = pytest.mark.anyio

FAST = Settings(
    poll_first_delay_image=0.0,
    poll_first_delay_video=0.0,
    poll_min_interval=0.002,
    poll_max_interval=0.02,
    poll_batch_size=3,
)


class FakeService:
    """Answers get_history_by_ids from a dict; records every call."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[list[str]] = []
        self.down = False

    async def fetch(self, ids: list[str]) -> Mapping[str, Any]:
        self.calls.append(list(ids))
        if self.down:
            raise ServerError("down")
        return {i: self.records[i] for i in ids if i in self.records}


async def _run_for(poller: Poller, seconds: float) -> None:
    with anyio.move_on_after(seconds):
        await poller.run()


async def test_sleeps_while_nothing_is_pending() -> None:
    service = FakeService()
    await _run_for(Poller(service.fetch, FAST), 0.05)
    assert service.calls == []


async def test_pending_ids_are_asked_in_batches_and_finished_ones_dropped() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    watches = [poller.watch(str(i), "image") for i in range(7)]
    for i in range(7):
        service.records[str(i)] = {"status": 20}
    await _run_for(poller, 0.05)
    assert service.calls, "it polled"
    assert max(len(c) for c in service.calls) <= 3
    assert set().union(*map(set, service.calls)) == {str(i) for i in range(7)}
    service.records["3"] = {"status": 50, "item_list": []}
    service.calls.clear()
    await _run_for(poller, 0.08)
    assert watches[3].record is not None
    assert watches[3].record.status is TaskStatus.COMPLETED
    seen_done = next(i for i, call in enumerate(service.calls) if "3" in call)
    later = service.calls[seen_done + 1 :]
    assert later, "the others are still polled"
    assert all("3" not in call for call in later)
    assert poller.pending == 6


async def test_absent_record_keeps_waiting_and_changes_wake_waiters() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    watch = poller.watch("x", "video")
    async with anyio.create_task_group() as group:
        group.start_soon(poller.run)
        await anyio.sleep(0.01)
        assert watch.record is None
        assert watch.version == 0
        changed = watch.changed
        service.records["x"] = {"status": 42}
        with anyio.fail_after(1):
            await changed.wait()
        assert watch.record is not None
        assert watch.record.status is TaskStatus.POST_PROCESSING
        group.cancel_scope.cancel()


async def test_a_failed_round_fails_nobody() -> None:
    service = FakeService()
    service.down = True
    poller = Poller(service.fetch, FAST.replace(poll_max_interval=0.005))
    watch = poller.watch("a", "image")
    await _run_for(poller, 0.08)
    assert len(service.calls) >= 2
    assert watch.error is None
    assert poller.pending == 1
    service.down = False
    service.records["a"] = {"status": 10, "item_list": []}
    await _run_for(poller, 0.08)
    assert watch.record is not None
    assert watch.record.status is TaskStatus.SUCCESS
    assert poller.pending == 0


async def test_a_malformed_record_ends_only_its_own_watch() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    bad, good = poller.watch("bad", "image"), poller.watch("good", "image")
    service.records.update({"bad": {"no": "status"}, "good": {"status": 20}})
    await _run_for(poller, 0.05)
    assert bad.error is not None
    assert "status" in str(bad.error)
    assert good.error is None
    assert poller.pending == 1


async def test_released_watches_cost_nothing() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    first = poller.watch("a", "image")
    again = poller.watch("a", "image")
    assert first is again  # two waiters, one watch
    poller.release(first)
    assert poller.pending == 1
    poller.release(again)
    assert poller.pending == 0
    await _run_for(poller, 0.02)
    assert service.calls == []


async def test_the_forecast_stretches_the_interval() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST.replace(poll_max_interval=5.0))
    queued = poller.watch("q", "video")
    service.records["q"] = {
        "status": 20,
        "queue_info": {"queue_idx": 4, "queue_length": 9},
        "forecast_cost_time": {"forecast_queue_cost": 40, "forecast_generate_cost": 0},
    }
    await _run_for(poller, 0.02)
    assert len(service.calls) == 1  # the forecast says: not before 10 s
    assert queued.next_due - anyio.current_time() > 4.0
