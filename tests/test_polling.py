"""The waiter-driven poller against a fake service: batching, turn-taking, error routing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from jimeng_async import (
    AuthError,
    InvalidRequestError,
    JobNotFoundError,
    PollingError,
    ServerError,
    Settings,
    TaskStatus,
    UnknownStatusError,
)
from jimeng_async.polling import Poller, Watch, record_kind

pytestmark = pytest.mark.anyio

FAST = Settings(
    poll_first_delay_image=0.0,
    poll_first_delay_video=0.0,
    poll_min_interval=0.002,
    poll_max_interval=0.02,
    poll_batch_size=3,
)
SAFETY = 10  # seconds: only a guard against a hang, never what a test measures


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """A virtual clock: due times sit on a grid of fractions of a millisecond, and on the wall
    clock jobs made one after another could straddle a grid line (a flaky first round)."""
    return "trio", {"clock": MockClock(autojump_threshold=0)}


class FakeService:
    """Answers get_history_by_ids from a dict; records every call; can fail on demand."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[list[str]] = []
        self.error: BaseException | None = None
        self.called = anyio.Event()

    async def fetch(self, ids: list[str]) -> Mapping[str, Any]:
        self.calls.append(list(ids))
        self.called.set()
        if self.error is not None:
            raise self.error
        return {i: self.records[i] for i in ids if i in self.records}


async def finish(poller: Poller, watch: Watch) -> None:
    """What a task does: wait (driving when it is its turn) until the job ends or closes."""
    while not watch.finished and not poller.closed:
        await poller.wait(watch, watch.stamp, math.inf)


async def test_a_job_nobody_awaits_costs_nothing() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    poller.watch("a", "image")
    await anyio.sleep(0.02)  # time passes, nobody waits: nothing may be asked
    assert service.calls == []


async def test_pending_ids_are_asked_in_batches_and_finished_ones_dropped() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    watches = [poller.watch(str(i), "image") for i in range(7)]
    for i in range(7):
        service.records[str(i)] = {"status": 20}
    service.records["3"] = {"status": 50, "item_list": []}
    with anyio.fail_after(SAFETY):
        await finish(poller, watches[3])
    assert watches[3].record is not None
    assert watches[3].record.status is TaskStatus.COMPLETED
    assert max(len(c) for c in service.calls) <= 3
    assert set().union(*map(set, service.calls)) == {str(i) for i in range(7)}
    assert poller.pending == 6
    service.calls.clear()
    service.called = anyio.Event()
    async with anyio.create_task_group() as group:  # a waiter of another job drives the next round
        group.start_soon(poller.wait, watches[0], watches[0].stamp, math.inf)
        with anyio.fail_after(SAFETY):
            await service.called.wait()
        group.cancel_scope.cancel()
    assert service.calls, "the others are still polled"
    assert all("3" not in call for call in service.calls)


async def test_every_waiter_finishes_when_the_driver_is_cancelled() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    ids = [str(i) for i in range(5)]
    for i in ids:
        service.records[i] = {"status": 20}
    watches = {i: poller.watch(i, "image") for i in ids}
    done: list[str] = []
    scopes: list[anyio.CancelScope] = []

    async def waiter(i: str) -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            try:
                await finish(poller, watches[i])
                done.append(i)
            finally:
                poller.release(watches[i])

    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            group.start_soon(waiter, "0")  # the first waiter becomes the driver...
            await service.called.wait()
            assert poller.driving == "0"
            for i in ids[1:]:
                group.start_soon(waiter, i)
            await anyio.wait_all_tasks_blocked()
            scopes[0].cancel()  # ...and is cancelled while the others wait on it
            for i in ids:
                service.records[i] = {"status": 50, "item_list": []}
    assert sorted(done) == ids[1:]
    assert poller.hand_offs >= 1
    assert poller.pending == 0


async def test_a_failed_round_fails_nobody() -> None:
    service = FakeService()
    service.error = ServerError("down")
    poller = Poller(service.fetch, FAST.replace(poll_max_interval=0.005))
    watch = poller.watch("a", "image")
    with anyio.fail_after(SAFETY):
        while len(service.calls) < 3:
            await poller.wait(watch, watch.stamp, anyio.current_time() + 0.01)
    assert watch.error is None
    assert poller.pending == 1
    service.error = None
    service.records["a"] = {"status": 10, "item_list": []}
    with anyio.fail_after(SAFETY):
        await finish(poller, watch)
    assert watch.record is not None
    assert watch.record.status is TaskStatus.SUCCESS
    assert poller.pending == 0


async def test_an_expired_token_fails_every_waiter_in_one_round() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    watches = [poller.watch(str(i), "image") for i in range(7)]  # three batches
    for i in range(7):
        service.records[str(i)] = {"status": 20}
    service.error = AuthError("ret 1015: login expired")
    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            for watch in watches:
                group.start_soon(finish, poller, watch)
    assert all(isinstance(w.error, AuthError) for w in watches)
    assert poller.rounds == 1
    assert poller.pending == 0


async def test_a_refused_batch_fails_only_its_own_jobs() -> None:
    service = FakeService()
    calls = 0

    async def fetch(ids: list[str]) -> Mapping[str, Any]:
        nonlocal calls
        calls += 1
        if "bad" in ids:
            raise InvalidRequestError("ret 2002: bad id", ret="2002")
        return {i: {"status": 50, "item_list": []} for i in ids}

    poller = Poller(fetch, FAST.replace(poll_batch_size=1))
    bad, good = poller.watch("bad", "image"), poller.watch("good", "image")
    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            group.start_soon(finish, poller, bad)
            group.start_soon(finish, poller, good)
    assert isinstance(bad.error, InvalidRequestError)
    assert good.error is None
    assert good.record is not None
    assert good.record.status is TaskStatus.COMPLETED
    del service


async def test_a_polling_bug_reaches_its_waiters_typed() -> None:
    service = FakeService()
    service.error = KeyError("surprise")
    poller = Poller(service.fetch, FAST)
    watch = poller.watch("a", "image")
    with anyio.fail_after(SAFETY):
        await finish(poller, watch)
    assert isinstance(watch.error, PollingError)
    assert isinstance(watch.error.__cause__, KeyError)


async def test_an_unknown_id_is_not_found_after_the_grace() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST.replace(job_not_found_grace=0.05))
    watch = poller.watch("ghost", None)
    started = anyio.current_time()
    with anyio.fail_after(SAFETY):
        await finish(poller, watch)
    assert isinstance(watch.error, JobNotFoundError)
    assert watch.error.history_id == "ghost"
    assert anyio.current_time() - started >= 0.05  # it did wait out the grace
    # ...asking at a back-off, not in a busy loop: at most one call per min interval.
    assert len(service.calls) <= 0.05 / 0.002 + 2


async def test_a_malformed_record_ends_only_its_own_watch() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    bad, good = poller.watch("bad", "image"), poller.watch("good", "image")
    service.records.update({"bad": {"no": "status"}, "good": {"status": 20}})
    with anyio.fail_after(SAFETY):
        await finish(poller, bad)
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


async def test_the_forecast_stretches_the_interval() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST.replace(poll_max_interval=5.0))
    queued = poller.watch("q", "video")
    service.records["q"] = {
        "status": 20,
        "queue_info": {"queue_idx": 4, "queue_length": 9},
        "forecast_cost_time": {"forecast_queue_cost": 15, "forecast_generate_cost": 5},
    }
    with anyio.fail_after(SAFETY):
        await poller.wait(queued, queued.stamp, math.inf)
    assert len(service.calls) == 1
    assert queued.next_due - anyio.current_time() > 19.0  # the forecast says: not before 20 s


async def test_close_returns_every_waiter_at_once() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST.replace(poll_first_delay_image=100.0))
    watches = [poller.watch(str(i), "image") for i in range(3)]
    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            for watch in watches:
                group.start_soon(finish, poller, watch)
            await anyio.wait_all_tasks_blocked()
            poller.close()
    assert service.calls == []
    assert all(not w.finished for w in watches)


def test_record_kind_reads_the_record() -> None:
    assert record_kind({"generate_type": "gen_video"}) == "video"
    assert record_kind({"generate_type": "video"}) == "video"
    assert record_kind({"item_list": [{"video": {"play_url": "x"}}]}) == "video"
    assert record_kind({"item_list": [{"image": {"large_images": []}}]}) == "image"
    assert record_kind({"generate_type": "blend"}) == "image"
    assert record_kind({"status": 20}) is None


@pytest.mark.parametrize("code", [-1, -2, 77])
async def test_a_persisting_unknown_status_becomes_a_typed_error(code: int) -> None:
    service = FakeService()
    service.records["odd"] = {"status": code}
    poller = Poller(service.fetch, FAST.replace(unknown_status_grace=0.05))
    watch = poller.watch("odd", "image")
    started = anyio.current_time()
    with anyio.fail_after(SAFETY):
        await finish(poller, watch)
    assert isinstance(watch.error, UnknownStatusError)
    assert (watch.error.history_id, watch.error.record_status) == ("odd", code)
    assert str(code) in str(watch.error)
    assert str(watch.error).endswith(UnknownStatusError.hint)  # says to resume it later
    assert anyio.current_time() - started >= 0.05  # it counted as running for the grace
    assert poller.pending == 0


async def test_an_unknown_status_that_moves_on_is_only_a_phase() -> None:
    service = FakeService()
    service.records["odd"] = {"status": -1}
    poller = Poller(service.fetch, FAST.replace(unknown_status_grace=SAFETY * 10))
    watch = poller.watch("odd", "image")
    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            group.start_soon(finish, poller, watch)
            await service.called.wait()
            service.records["odd"] = {"status": 50, "item_list": []}
    assert watch.error is None
    assert watch.record is not None
    assert watch.record.status is TaskStatus.COMPLETED


async def test_the_unknown_status_grace_restarts_after_a_known_status() -> None:
    grace = 0.05
    known_at: list[float] = []
    answers = iter([-1, 20])  # unknown, then known once, then unknown for good

    async def fetch(ids: list[str]) -> Mapping[str, Any]:
        code = next(answers, 77)
        if code == 20:
            known_at.append(anyio.current_time())
        return {"odd": {"status": code}}

    poller = Poller(fetch, FAST.replace(unknown_status_grace=grace))
    watch = poller.watch("odd", "image")
    with anyio.fail_after(SAFETY):
        await finish(poller, watch)
    assert isinstance(watch.error, UnknownStatusError)
    assert watch.error.record_status == 77
    assert anyio.current_time() - known_at[0] >= grace  # the grace counted from the second -1


def test_record_kind_reads_the_first_item_that_says() -> None:
    assert record_kind({"item_list": [5, {"other": 1}, {"image": {}}]}) == "image"
    assert record_kind({"item_list": [{"video": {}}, {"image": {}}]}) == "video"
    assert record_kind({"item_list": [{"other": 1}]}) is None
    assert record_kind({"item_list": "x", "generate_type": "blend"}) == "image"
    assert record_kind({"generate_type": "gen_video"}) == "video"
    assert record_kind({"generate_type": "other"}) is None
