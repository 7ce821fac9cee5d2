"""Jobs awaited together (`WatchGroup`): who listens to a job, how a group takes, holds and hands
over the driver role, on a virtual clock (trio's MockClock with autojump), so nothing waits in
real time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from trio.testing import MockClock

from jimeng_async import Settings
from jimeng_async.polling import Poller, Watch, WatchGroup

pytestmark = pytest.mark.anyio

#: Nothing is due for 1000 s: a driver sleeps until something wakes it.
SETTINGS = Settings(
    poll_first_delay_image=1000.0,
    poll_min_interval=1.0,
    poll_max_interval=10.0,
    poll_batch_size=10,
)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "trio", {"clock": MockClock(autojump_threshold=0)}


class Service:
    def __init__(self) -> None:
        self.calls = 0

    async def fetch(self, ids: list[str]) -> Mapping[str, Any]:
        self.calls += 1
        return {i: {"status": 20} for i in ids}


def test_a_job_wakes_every_group_listening_until_it_stops() -> None:
    poller = Poller(Service().fetch, SETTINGS)
    watch = Watch("a", "image", 0.0, 0.0)
    one, two, three = WatchGroup(poller), WatchGroup(poller), WatchGroup(poller)
    for group in (one, two, three):
        watch.listen(group)
    assert (watch.listener, watch.more_listeners) == (one, [two, three])
    watch.wake()
    assert [g.take() for g in (one, two, three)] == [[watch], [watch], [watch]]

    watch.unlisten(one)
    assert (watch.listener, watch.more_listeners) == (two, [three])
    watch.wake()
    assert [g.take() for g in (one, two, three)] == [[], [watch], [watch]]

    watch.unlisten(three)
    assert (watch.listener, watch.more_listeners) == (two, None)
    watch.wake()
    assert [g.take() for g in (one, two, three)] == [[], [watch], []]

    watch.unlisten(two)
    assert (watch.listener, watch.more_listeners) == (None, None)
    watch.wake()
    assert [g.take() for g in (one, two, three)] == [[], [], []]


async def test_a_job_joined_twice_is_listened_to_until_its_last_part() -> None:
    poller = Poller(Service().fetch, SETTINGS)
    group = WatchGroup(poller)
    watch = poller.watch("a", "image")
    group.join(watch, math.inf)
    group.join(watch, math.inf)
    assert (watch.listener, watch.more_listeners, watch.waiting) == (group, None, 2)
    group.part(watch)
    watch.wake()
    assert group.take() == [watch]  # one wait on the job is left
    assert group.stand_in() is watch
    group.part(watch)
    assert (watch.listener, watch.waiting) == (None, 0)
    assert group.stand_in() is None


async def test_a_group_with_nothing_to_wait_for_or_already_woken_does_not_wait() -> None:
    poller = Poller(Service().fetch, SETTINGS)
    group = WatchGroup(poller)
    assert group.stand_in() is None
    assert poller.step_group(group) is None  # no member
    watch = poller.watch("a", "image")
    group.join(watch, math.inf)
    watch.wake()
    assert poller.step_group(group) is None  # a member woke: look at it first
    assert group.take() == [watch]
    poller.close()
    assert group.take() == [watch]  # closing wakes every job
    assert poller.step_group(group) is None  # closed: nothing more to wait for


async def test_a_group_drives_as_its_stand_in_and_a_member_moving_stops_it_at_once() -> None:
    service = Service()
    poller = Poller(service.fetch, SETTINGS)
    a, b = poller.watch("a", "image"), poller.watch("b", "image")
    group = WatchGroup(poller)
    group.join(a, math.inf)
    group.join(b, math.inf)
    started = anyio.current_time()
    with anyio.fail_after(100):  # virtual seconds: the first ask is due at 1000
        async with anyio.create_task_group() as tasks:
            step = poller.step_group(group)
            assert step is not None

            async def drive() -> None:
                assert step is not None
                await step

            tasks.start_soon(drive)
            await anyio.wait_all_tasks_blocked()
            assert poller.driving == "a"  # the first member stands in for the group
            assert group.driving
            poller.poke("b")  # not the stand-in: the group's notice wakes the driver
    assert anyio.current_time() == started
    assert poller.driving is None
    assert not group.driving
    assert group.take() == [b]
    assert service.calls == 0


async def test_a_group_queues_once_behind_a_driver_and_takes_the_role_when_it_leaves() -> None:
    poller = Poller(Service().fetch, SETTINGS)
    plain = poller.watch("p", "image")
    a, b = poller.watch("a", "image"), poller.watch("b", "image")
    group = WatchGroup(poller)
    group.join(a, math.inf)
    group.join(b, math.inf)
    woken: list[list[Watch]] = []
    plain_scope = anyio.CancelScope()

    async def plain_waiter() -> None:
        with plain_scope:
            await poller.wait(plain, plain.stamp, math.inf)

    async def group_waiter() -> None:
        while True:
            step = poller.step_group(group)
            if step is None:
                woken.append(group.take())
            else:
                await step

    with anyio.fail_after(100):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(plain_waiter)
            await anyio.wait_all_tasks_blocked()
            assert poller.driving == "p"
            tasks.start_soon(group_waiter)
            await anyio.wait_all_tasks_blocked()
            assert list(poller._fifo) == [a]  # the stand-in holds the group's place
            b.wake()  # a member moves: the group looks, and sleeps again in the same place
            await anyio.wait_all_tasks_blocked()
            assert woken == [[b]]
            assert list(poller._fifo) == [a]
            plain_scope.cancel()  # the plain waiter leaves: the role is offered to the group
            await anyio.wait_all_tasks_blocked()
            assert woken == [[b], [a]]  # the offer wakes the stand-in
            assert poller.driving == "a"
            assert poller.hand_offs == 1
            assert not poller._fifo
            tasks.cancel_scope.cancel()
    assert poller.driving is None
