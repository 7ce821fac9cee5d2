"""When the poller asks for a job, on a virtual clock (trio's MockClock with autojump: time
jumps whenever every task waits), so the schedule is exact and no test waits in real time.

The figures are the documented ones: an unchanged job is asked again after min interval x 1.5
per unchanged answer (a video starts at 3 x min), failures double the gap, a forecast or a
Retry-After is honoured, everything on the grid of min interval and capped at max interval.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from jimeng_async import (
    JimengError,
    JobNotFoundError,
    PollingError,
    RateLimitError,
    ServerError,
    Settings,
    UnknownStatusError,
)
from jimeng_async.polling import Poller, Watch

pytestmark = pytest.mark.anyio

SETTINGS = Settings(
    poll_first_delay_image=0.0,
    poll_first_delay_video=0.0,
    poll_min_interval=1.0,
    poll_max_interval=10.0,
    poll_batch_size=10,
    job_not_found_grace=60.0,
    unknown_status_grace=300.0,
)

Answer = Callable[[int, list[str]], Mapping[str, Any]]


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "trio", {"clock": MockClock(autojump_threshold=0)}


class Service:
    """get_history_by_ids answered by `answer(call number, ids)`; each call's time and ids kept."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: list[tuple[float, list[str]]] = []
        self.target = math.inf
        self.enough = anyio.Event()

    async def fetch(self, ids: list[str]) -> Mapping[str, Any]:
        self.calls.append((anyio.current_time(), list(ids)))
        if len(self.calls) >= self.target:
            self.enough.set()
        return self.answer(len(self.calls), ids)

    def times(self, history_id: str) -> list[float]:
        """When `history_id` was asked for, relative to the first call."""
        start = self.calls[0][0]
        return [round(t - start, 6) for t, ids in self.calls if history_id in ids]


def running(_n: int, ids: list[str]) -> Mapping[str, Any]:
    return {i: {"status": 20} for i in ids}


async def drive(
    service: Service, ids: dict[str, str | None], *, settings: Settings = SETTINGS, calls: int
) -> dict[str, Watch]:
    """Wait on every job (the waiters take turns driving) until `calls` requests were sent."""
    poller = Poller(service.fetch, settings)
    watches = {i: poller.watch(i, kind) for i, kind in ids.items()}  # type: ignore[arg-type]

    async def wait(watch: Watch) -> None:
        while not watch.finished:
            await poller.wait(watch, watch.stamp, math.inf)
        if all(w.finished for w in watches.values()):
            service.enough.set()

    service.target = calls

    with anyio.fail_after(100_000):  # virtual seconds: a guard against a hang
        async with anyio.create_task_group() as group:
            for watch in watches.values():
                group.start_soon(wait, watch)
            await service.enough.wait()
            group.cancel_scope.cancel()
    return watches


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 6) for a, b in itertools.pairwise(times)]


async def test_an_unchanged_image_job_is_asked_at_growing_gaps_up_to_the_cap() -> None:
    service = Service(running)
    await drive(service, {"a": "image"}, calls=10)
    assert gaps(service.times("a")) == [1, 2, 3, 4, 6, 8, 10, 10, 10]


async def test_an_unchanged_video_job_starts_at_three_min_intervals() -> None:
    service = Service(running)
    await drive(service, {"v": "video"}, calls=7)
    assert gaps(service.times("v")) == [3, 5, 7, 10, 10, 10]


async def test_a_change_of_status_restarts_the_gaps() -> None:
    statuses = {1: 20, 2: 20, 3: 20, 4: 42}
    service = Service(lambda n, ids: {"a": {"status": statuses.get(n, 42)}})
    await drive(service, {"a": "image"}, calls=7)
    assert gaps(service.times("a")) == [1, 2, 3, 1, 2, 3]


async def test_failures_double_the_gap_up_to_the_cap() -> None:
    def down(_n: int, _ids: list[str]) -> Mapping[str, Any]:
        raise ServerError("boom")

    service = Service(down)
    await drive(service, {"a": "image"}, calls=6)
    assert gaps(service.times("a")) == [2, 4, 8, 10, 10]


async def test_a_success_resets_the_failure_count() -> None:
    def flaky(n: int, ids: list[str]) -> Mapping[str, Any]:
        if n in (1, 2, 4):
            raise ServerError("boom")
        return running(n, ids)

    service = Service(flaky)
    await drive(service, {"a": "image"}, calls=6)
    # fail, fail (2, 4), answer (1: a new status), fail again from 2, the same answer (1.5)
    assert gaps(service.times("a")) == [2, 4, 1, 2, 2]


async def test_a_retry_after_longer_than_the_back_off_is_honoured() -> None:
    def limited(n: int, ids: list[str]) -> Mapping[str, Any]:
        if n == 1:
            raise RateLimitError("slow down", retry_after=7.5)
        if n == 2:
            raise RateLimitError("slow down", retry_after=0.5)  # shorter: the back-off wins
        if n == 3:
            raise RateLimitError("slow down", retry_after=None)
        return running(n, ids)

    service = Service(limited)
    await drive(service, {"a": "image"}, calls=4)
    assert gaps(service.times("a")) == [8, 4, 8]


@pytest.mark.parametrize(
    ("forecast", "gap"),
    [
        # Asked just after the forecast end (+0.05 s), on a grid of 3/4 of the min interval.
        ({"forecast_queue_cost": 4.2}, 4.5),
        ({"forecast_generate_cost": 7}, 7.5),
        ({"forecast_queue_cost": 3, "forecast_generate_cost": 4}, 7.5),
        ({"forecast_queue_cost": 0.2}, 0.75),  # never sooner than one grid step
        ({"forecast_queue_cost": 1000}, 60.75),  # trusted for at most 6 x max interval
        ({"forecast_queue_cost": 0, "forecast_generate_cost": 0}, 1),  # no forecast: back-off
    ],
)
async def test_a_forecast_sets_the_next_ask(forecast: dict[str, float], gap: float) -> None:
    service = Service(lambda n, ids: {"a": {"status": 20, "forecast_cost_time": forecast}})
    await drive(service, {"a": "image"}, calls=2)
    assert gaps(service.times("a"))[0] == gap


async def test_only_due_jobs_are_asked_in_full_batches() -> None:
    def answer(_n: int, ids: list[str]) -> Mapping[str, Any]:
        slow = {"status": 20, "forecast_cost_time": {"forecast_queue_cost": 40}}
        return {i: (slow if i == "slow" else {"status": 20}) for i in ids}

    service = Service(answer)
    settings = SETTINGS.replace(poll_batch_size=2)
    await drive(service, {"a": "image", "b": "image", "slow": "image"}, settings=settings, calls=8)
    sizes = [len(ids) for _t, ids in service.calls]
    assert max(sizes) <= 2
    # a and b are due together every time; slow, due only after 40 s, never rides along.
    assert service.times("slow") == [0]
    assert gaps(service.times("a")) == gaps(service.times("b")) == [1, 2, 3, 4, 6, 8]


async def test_a_lone_due_job_takes_the_soonest_other_along() -> None:
    def answer(_n: int, ids: list[str]) -> Mapping[str, Any]:
        later = {"status": 20, "forecast_cost_time": {"forecast_queue_cost": 2}}
        return {i: (later if i == "b" else {"status": 20}) for i in ids}

    service = Service(answer)
    await drive(
        service, {"a": "image", "b": "image"}, settings=SETTINGS.replace(poll_batch_size=2), calls=2
    )
    assert service.calls[1][1] == ["a", "b"]  # b was not due yet (2 s), but fills a's batch


async def test_an_absent_job_is_asked_until_exactly_the_grace() -> None:
    service = Service(lambda n, ids: {})
    watches = await drive(
        service, {"ghost": None}, settings=SETTINGS.replace(job_not_found_grace=12.0), calls=100
    )
    times = service.times("ghost")
    assert times == [0, 2, 5, 9, 12]  # the back-off, then once at the grace
    error = watches["ghost"].error
    assert isinstance(error, JobNotFoundError)
    assert error.history_id == "ghost"
    assert "12s" in str(error)


async def test_absence_counts_from_the_last_answer_that_had_the_job() -> None:
    service = Service(lambda n, ids: {"a": {"status": 20}} if n <= 2 else {})
    watches = await drive(
        service, {"a": "image"}, settings=SETTINGS.replace(job_not_found_grace=5.0), calls=100
    )
    times = service.times("a")
    assert times[-1] - times[2] == 5  # absent from the third answer on: failed 5 s later
    assert isinstance(watches["a"].error, JobNotFoundError)


async def test_an_unknown_status_fails_exactly_at_its_grace() -> None:
    service = Service(lambda n, ids: {"a": {"status": 77}})
    settings = SETTINGS.replace(unknown_status_grace=6.0)
    watches = await drive(service, {"a": "image"}, settings=settings, calls=100)
    times = service.times("a")
    assert times == [0, 1, 3, 6]  # asked at the back-off; the answer at 6 s ends it
    error = watches["a"].error
    assert isinstance(error, UnknownStatusError)
    assert error.record_status == 77
    assert error.message == "job a has kept status 77, which this library does not know, for 6s"
    assert str(error).endswith(UnknownStatusError.hint)  # the next step: resume later, upgrade


async def test_a_polling_bug_is_typed_with_its_cause() -> None:
    def broken(_n: int, _ids: list[str]) -> Mapping[str, Any]:
        raise KeyError("surprise")

    service = Service(broken)
    watches = await drive(service, {"a": "image"}, calls=100)
    error = watches["a"].error
    assert isinstance(error, PollingError)
    assert error.message == "polling failed unexpectedly: KeyError: 'surprise'"
    assert str(error).endswith(PollingError.hint)
    assert isinstance(error.__cause__, KeyError)


@pytest.mark.parametrize(("kind", "first"), [("image", 2.0), ("video", 5.0), (None, 2.0)])
async def test_the_first_ask_waits_the_kinds_first_delay(kind: str | None, first: float) -> None:
    service = Service(running)
    settings = SETTINGS.replace(poll_first_delay_image=2.0, poll_first_delay_video=5.0)
    started = anyio.current_time()
    await drive(service, {"a": kind}, settings=settings, calls=1)
    assert service.calls[0][0] - started == first


async def test_the_counters_count_rounds_and_requests() -> None:
    service = Service(running)
    settings = SETTINGS.replace(poll_batch_size=2)
    poller = Poller(service.fetch, settings)
    watches = [poller.watch(i, "image") for i in "abc"]
    with anyio.fail_after(100_000):
        async with anyio.create_task_group() as group:
            service.target = 6

            async def wait() -> None:
                while True:
                    await poller.wait(watches[0], watches[0].stamp, math.inf)

            group.start_soon(wait)
            await service.enough.wait()
            group.cancel_scope.cancel()
    assert poller.requests == len(service.calls) == 6
    assert poller.rounds == 3  # three jobs in batches of two: two requests a round


class Exploding(Mapping[str, Any]):
    """A record whose every read raises a non-Jimeng error: reading it is a bug in polling."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("unreadable")

    def __iter__(self) -> Any:
        raise RuntimeError("unreadable")

    def __len__(self) -> int:
        return 1


async def test_a_record_that_cannot_be_read_fails_only_its_own_job() -> None:
    def answer(n: int, ids: list[str]) -> Mapping[str, Any]:
        return {"bad": Exploding(), "good": {"status": 50 if n >= 2 else 20, "item_list": []}}

    service = Service(answer)
    watches = await drive(service, {"bad": "image", "good": "image"}, calls=100)
    error = watches["bad"].error
    assert isinstance(error, PollingError)
    assert error.message == "reading the record failed unexpectedly: RuntimeError: unreadable"
    assert isinstance(error.__cause__, RuntimeError)
    assert watches["good"].error is None
    assert watches["good"].record is not None
    assert service.times("bad") == [0]  # failed for good: never asked again
    assert service.times("good") == [0, 1]


async def test_a_bug_while_driving_fails_the_drivers_job_only_and_the_role_moves_on() -> None:
    service = Service(running)
    poller = Poller(service.fetch, SETTINGS.replace(poll_first_delay_image=5.0))
    a, b = poller.watch("a", "image"), poller.watch("b", "image")
    calls = 0
    original = poller._round

    async def broken_once(now: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("driver bug")
        await original(now)

    poller._round = broken_once  # type: ignore[method-assign]
    service.target = 1
    with anyio.fail_after(100_000):
        async with anyio.create_task_group() as group:
            group.start_soon(finish_watch, poller, a)
            await anyio.wait_all_tasks_blocked()
            group.start_soon(finish_watch, poller, b)
            await service.enough.wait()
            group.cancel_scope.cancel()
    assert isinstance(a.error, PollingError)
    assert a.error.message == "polling failed unexpectedly: RuntimeError: driver bug"
    assert isinstance(a.error.__cause__, RuntimeError)
    assert b.error is None  # b took the role over and polled on
    assert poller.pending == 1
    assert service.calls[0][1] == ["b"]
    assert poller.hand_offs == 1


async def finish_watch(poller: Poller, watch: Watch) -> None:
    while not watch.finished and not poller.closed:
        await poller.wait(watch, watch.stamp, math.inf)


async def test_the_driver_role_goes_to_the_longest_waiter_one_at_a_time() -> None:
    service = Service(running)
    poller = Poller(service.fetch, SETTINGS.replace(poll_first_delay_image=1000.0))
    ids = ["a", "b", "c", "d"]
    watches = {i: poller.watch(i, "image") for i in ids}
    scopes: dict[str, anyio.CancelScope] = {}
    drivers: list[str | None] = []

    async def waiter(i: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[i] = scope
            await finish_watch(poller, watches[i])

    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            for i in ids:  # a first (it drives), then b, c, d join the queue in this order
                group.start_soon(waiter, i)
                await anyio.wait_all_tasks_blocked()
            drivers.append(poller.driving)
            for i in ids[:-1]:
                scopes[i].cancel()
                await anyio.wait_all_tasks_blocked()
                drivers.append(poller.driving)
                assert poller.hand_offs == len(drivers) - 1  # one waiter offered per change
            group.cancel_scope.cancel()
    assert drivers == ["a", "b", "c", "d"]
    assert service.calls == []  # nothing was due: handing over sends nothing


async def test_an_offer_to_a_waiter_that_left_goes_to_the_next_in_line() -> None:
    service = Service(running)
    poller = Poller(service.fetch, SETTINGS.replace(poll_first_delay_image=1000.0))
    ids = ["a", "b", "c"]
    watches = {i: poller.watch(i, "image") for i in ids}
    scopes: dict[str, anyio.CancelScope] = {}

    async def waiter(i: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[i] = scope
            try:
                await finish_watch(poller, watches[i])
            finally:
                poller.release(watches[i])

    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            for i in ids:
                group.start_soon(waiter, i)
                await anyio.wait_all_tasks_blocked()
            scopes["a"].cancel()  # b is offered the role...
            scopes["b"].cancel()  # ...and leaves before it takes it: c gets it
            await anyio.wait_all_tasks_blocked()
            assert poller.driving == "c"
            assert poller.pending == 1
            group.cancel_scope.cancel()
    assert 1 <= poller.hand_offs <= 2  # b may leave before or after it is offered the role


async def test_poking_the_drivers_job_wakes_it_at_once() -> None:
    service = Service(running)
    poller = Poller(service.fetch, SETTINGS.replace(poll_first_delay_image=1000.0))
    watch = poller.watch("a", "image")
    started = anyio.current_time()
    with anyio.fail_after(100_000):
        async with anyio.create_task_group() as group:
            group.start_soon(poller.wait, watch, watch.stamp, math.inf)
            await anyio.wait_all_tasks_blocked()
            assert poller.driving == "a"
            poller.poke("a")
            poller.poke("unknown")  # no such job: nothing happens
    assert anyio.current_time() == started  # returned without waiting for the 1000 s
    assert watch.stamp == 1
    assert poller.driving is None
    assert service.calls == []


async def test_a_waiters_deadline_wakes_a_sleeping_driver_exactly_then() -> None:
    service = Service(running)
    poller = Poller(service.fetch, SETTINGS.replace(poll_first_delay_image=1000.0))
    a, b = poller.watch("a", "image"), poller.watch("b", "image")
    returned: list[float] = []
    both = anyio.Event()

    async def until(watch: Watch, deadline: float) -> None:
        await poller.wait(watch, watch.stamp, deadline)
        returned.append(anyio.current_time())
        if len(returned) == 2:
            both.set()

    started = anyio.current_time()
    with anyio.fail_after(100_000):
        async with anyio.create_task_group() as group:
            group.start_soon(until, a, math.inf)
            await anyio.wait_all_tasks_blocked()
            group.start_soon(until, b, started + 7.0)  # sooner than anything the driver planned
            await anyio.wait_all_tasks_blocked()
            group.start_soon(until, b, started + 9.0)  # later: the sooner deadline stays
            await both.wait()
            group.cancel_scope.cancel()
    assert [t - started for t in returned] == [7.0, 7.0]
    assert b.stamp == 1
    assert a.stamp == 0
    assert service.calls == []


async def test_close_cancels_a_round_in_flight() -> None:
    stuck = anyio.Event()
    entered = anyio.Event()

    async def fetch(ids: list[str]) -> Mapping[str, Any]:
        entered.set()
        await stuck.wait()
        return {}

    poller = Poller(fetch, SETTINGS)
    watch = poller.watch("a", "image")
    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            group.start_soon(poller.wait, watch, watch.stamp, math.inf)
            await entered.wait()
            poller.close()
    assert poller.closed
    assert not watch.finished
    assert poller.driving is None
    assert poller.requests == 1


async def start_in_order(
    group: anyio.abc.TaskGroup, poller: Poller, watches: list[Watch]
) -> dict[int, anyio.CancelScope]:
    """Start one waiter per entry of `watches`, in this order (index -> its cancel scope)."""
    scopes: dict[int, anyio.CancelScope] = {}

    async def waiter(index: int, watch: Watch) -> None:
        with anyio.CancelScope() as scope:
            scopes[index] = scope
            await finish_watch(poller, watch)

    for index, watch in enumerate(watches):
        group.start_soon(waiter, index, watch)
        await anyio.wait_all_tasks_blocked()
    return scopes


def idle_poller() -> Poller:
    """A poller with nothing due for 1000 s: only the turn-taking happens."""
    return Poller(Service(running).fetch, SETTINGS.replace(poll_first_delay_image=1000.0))


async def test_a_job_still_awaited_by_a_second_waiter_can_take_the_role() -> None:
    poller = idle_poller()
    a, b = poller.watch("a", "image"), poller.watch("b", "image")
    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            scopes = await start_in_order(group, poller, [a, b, b])
            scopes[1].cancel()  # one of b's two waiters leaves; the other still waits
            await anyio.wait_all_tasks_blocked()
            scopes[0].cancel()
            await anyio.wait_all_tasks_blocked()
            assert poller.driving == "b"
            group.cancel_scope.cancel()


async def test_a_job_whose_waiters_all_left_is_skipped_even_while_it_is_pending() -> None:
    poller = idle_poller()
    a, b, c = (poller.watch(i, "image") for i in "abc")
    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            scopes = await start_in_order(group, poller, [a, b, c])
            scopes[1].cancel()  # b's waiter leaves without releasing: b is still pending
            await anyio.wait_all_tasks_blocked()
            scopes[0].cancel()
            await anyio.wait_all_tasks_blocked()
            assert poller.pending == 3
            assert poller.driving == "c"
            group.cancel_scope.cancel()


async def test_only_one_waiter_is_offered_the_role_at_a_time() -> None:
    poller = idle_poller()
    watches = [poller.watch(i, "image") for i in "abcd"]
    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            scopes = await start_in_order(group, poller, watches)
            scopes[0].cancel()  # the driver leaves: b is offered the role...
            scopes[3].cancel()  # ...and d leaving meanwhile offers it to nobody else
            await anyio.wait_all_tasks_blocked()
            assert poller.driving == "b"
            assert poller.hand_offs == 1
            group.cancel_scope.cancel()


async def test_a_waiter_that_lost_the_race_for_the_role_queues_again_at_the_back() -> None:
    poller = idle_poller()
    watches = [poller.watch(i, "image") for i in "abcd"]
    drivers: list[str | None] = []
    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            scopes = await start_in_order(group, poller, watches)
            scopes[0].cancel()
            await anyio.wait_all_tasks_blocked()
            drivers.append(poller.driving)  # b
            # b's job changes: b stops driving (c is offered the role) and, waiting on,
            # drives again at once; c finds the role taken and queues again, behind d.
            poller.poke("b")
            await anyio.wait_all_tasks_blocked()
            drivers.append(poller.driving)
            scopes[1].cancel()
            await anyio.wait_all_tasks_blocked()
            drivers.append(poller.driving)
            scopes[3].cancel()
            await anyio.wait_all_tasks_blocked()
            drivers.append(poller.driving)
            group.cancel_scope.cancel()
    assert drivers == ["b", "b", "d", "c"]


async def test_closing_offers_the_role_to_nobody_and_may_come_twice() -> None:
    poller = idle_poller()
    poller.close()  # before anyone ever drove
    watches = [poller.watch(i, "image") for i in "abc"]
    with anyio.fail_after(100):
        await finish_watch(poller, watches[0])  # returns at once: closed
    poller = Poller(Service(running).fetch, SETTINGS)
    watches = [poller.watch(i, "image") for i in "abc"]
    with anyio.fail_after(100):
        async with anyio.create_task_group() as group:
            await start_in_order(group, poller, watches)
            poller.close()
    assert poller.hand_offs == 0
    assert poller.driving is None
    poller.close()  # a second close, after the driver ended, is harmless


async def test_absence_counts_from_the_watch_not_from_the_first_ask() -> None:
    service = Service(lambda n, ids: {})
    settings = SETTINGS.replace(poll_first_delay_image=5.0, job_not_found_grace=12.0)
    started = anyio.current_time()
    watches = await drive(service, {"ghost": "image"}, settings=settings, calls=100)
    assert isinstance(watches["ghost"].error, JobNotFoundError)
    assert service.calls[-1][0] - started == 12.0  # 12 s after the watch began, not after 5 s


async def test_the_first_ask_sits_on_a_quarter_grid() -> None:
    service = Service(running)
    started = anyio.current_time()
    assert started == math.floor(started)  # MockClock starts on a whole second
    await drive(
        service, {"a": "image"}, settings=SETTINGS.replace(poll_first_delay_image=0.3), calls=1
    )
    assert service.calls[0][0] - started == 0.5


async def test_the_back_offs_stop_growing_after_ten_steps() -> None:
    service = Service(running)
    settings = SETTINGS.replace(poll_max_interval=10_000.0)
    await drive(service, {"a": "image"}, settings=settings, calls=14)
    assert gaps(service.times("a"))[-3:] == [58, 58, 58]  # ceil(1.5 ** 10)

    def down(_n: int, _ids: list[str]) -> Mapping[str, Any]:
        raise ServerError("boom")

    service = Service(down)
    await drive(service, {"a": "image"}, settings=settings, calls=13)
    assert gaps(service.times("a"))[-2:] == [1024, 1024]  # 2 ** 10


async def test_a_video_starts_at_three_min_intervals_whatever_the_interval() -> None:
    service = Service(running)
    settings = SETTINGS.replace(poll_min_interval=2.0, poll_max_interval=100.0)
    await drive(service, {"v": "video"}, settings=settings, calls=3)
    assert gaps(service.times("v")) == [6, 10]  # 3 x 2, then 6 x 1.5 = 9 on the grid of 2


async def test_a_record_that_is_not_an_object_is_a_protocol_error_not_a_bug() -> None:
    service = Service(lambda n, ids: {"a": "garbage"})
    watches = await drive(service, {"a": "image"}, calls=100)
    error = watches["a"].error
    assert isinstance(error, JimengError)
    assert not isinstance(error, PollingError)


async def test_an_absent_job_is_asked_at_the_grace_even_when_less_than_a_step_remains() -> None:
    service = Service(lambda n, ids: {})
    settings = SETTINGS.replace(poll_min_interval=0.25, job_not_found_grace=2.25)
    started = anyio.current_time()
    watches = await drive(service, {"ghost": None}, settings=settings, calls=100)
    assert isinstance(watches["ghost"].error, JobNotFoundError)
    assert service.calls[-1][0] - started == 2.25
    assert all(b > a for a, b in itertools.pairwise(service.times("ghost")))


async def test_a_tiny_forecast_still_waits_three_quarters_of_the_interval() -> None:
    answer = {"status": 20, "forecast_cost_time": {"forecast_queue_cost": 0.1}}
    service = Service(lambda n, ids: {"a": answer})
    settings = SETTINGS.replace(poll_first_delay_image=0.25)
    await drive(service, {"a": "image"}, settings=settings, calls=2)
    # asked at 0.25 (the first-ask grid); then not before 0.25 + 0.75, on the 0.75 grid: 1.5
    assert [t for t, _ids in service.calls] == [0.25, 1.5]


async def test_a_new_item_wakes_the_waiters_even_when_the_status_stays() -> None:
    item = {"image": {"large_images": [{"image_url": "https://c/a", "width": 1, "height": 1}]}}
    lists: dict[int, list[Any]] = {1: [], 2: [], 3: [item]}
    service = Service(lambda n, ids: {"a": {"status": 20, "item_list": lists.get(n, [])}})
    poller = Poller(service.fetch, SETTINGS)
    assert poller.closed is False
    watch = poller.watch("a", "image")
    stamps: list[int] = []
    with anyio.fail_after(100_000):
        for _ in range(2):
            await poller.wait(watch, watch.stamp, math.inf)
            stamps.append(watch.stamp)
    assert stamps == [1, 2]
    assert len(service.calls) == 3  # the same answer (call 2) woke nobody; the new item did
    assert watch.items == 1
