"""`as_completed`: many tasks awaited as they finish, their waiters started in slices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import jimeng_async as jm
from jimeng_async import waiting
from jimeng_async.testing import Emulator

pytestmark = pytest.mark.anyio

FAILED = 30
Seen = list[jm.GenerationTask[jm.ImageResult]]


async def collect(
    tasks: Sequence[jm.GenerationTask[Any]], seen: list[Any], came: anyio.Event | None = None
) -> None:
    """Append each task to `seen` as `as_completed` yields it (and set `came` each time)."""
    async for task in jm.as_completed(tasks):
        seen.append(task)
        if came is not None:
            came.set()


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds (the waiters joined, a record came)."""
    while not condition():
        await anyio.lowlevel.checkpoint()


async def test_tasks_come_as_they_finish_each_once_with_its_outcome(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()  # every job waits in the queue until the test lets it go
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"job {i}") for i in range(4)]
        failing = tasks[2]
        jimeng_emulator.set_record_status(failing.history_id, FAILED)
        seen: Seen = []
        async for task in jm.as_completed(tasks):
            if not seen:
                assert task is failing  # the only job that can end while the clock stands
                with pytest.raises(jm.GenerationFailedError):
                    await task
                jimeng_emulator.thaw_clock()
            else:
                result = await task
                assert result.history_id == task.history_id
                assert len(result.images) >= 1
            assert task.done()
            seen.append(task)
    assert sorted(t.history_id for t in seen) == sorted(t.history_id for t in tasks)


async def test_leaving_early_stops_waiting_for_the_rest(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"job {i}") for i in range(3)]
        jimeng_emulator.set_record_status(tasks[0].history_id, FAILED)
        async with aclosing(jm.as_completed(tasks)) as finished:
            async for task in finished:
                assert task is tasks[0]
                break
        # No waiter is left behind: nothing of the session is being polled any more.
        assert s._poller.pending == 0
        assert not tasks[1].done()
        assert not tasks[2].done()
        # The jobs go on: awaiting a task again picks it up.
        jimeng_emulator.thaw_clock()
        assert (await tasks[1]).history_id == tasks[1].history_id


async def test_waiters_start_a_slice_at_a_time(
    jimeng_emulator: Emulator, jimeng_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two slices the loop runs other coroutines: a watcher sees the slices arrive."""
    monkeypatch.setattr(waiting, "START_SLICE", 2)
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [s.resume(str(9_000_000 + i), kind="image") for i in range(5)]
        watched: list[int] = []
        started = anyio.Event()

        async def watch_the_waiters() -> None:
            started.set()
            while s._poller.pending < len(tasks):
                watched.append(s._poller.pending)
                await anyio.lowlevel.checkpoint()
            finished.cancel_scope.cancel()

        async with anyio.create_task_group() as finished:
            finished.start_soon(watch_the_waiters)
            await started.wait()
            async for _ in jm.as_completed(tasks):
                pass  # not reached: the unknown ids stay absent while the clock stands
    assert {2, 4} <= set(watched)


async def test_anything_but_tasks_is_refused_before_any_wait(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = s.resume("123456", kind="image")
        with pytest.raises(jm.InvalidInputError) as caught:
            async for _ in jm.as_completed([task, "123457"]):  # type: ignore[list-item]
                pass
    assert caught.value.field == "tasks[1]"
    assert "GenerationTask" in str(caught.value)
    assert jimeng_emulator.stats.requests["get_history_by_ids"] == 0


async def test_a_refused_task_names_its_type_and_what_is_allowed(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = s.resume("123456", kind="image")
        with pytest.raises(jm.InvalidInputError) as caught:
            async for _ in jm.as_completed([task, 123457]):  # type: ignore[list-item]
                pass
    allowed = "the tasks that submit_image, submit_video or resume return"
    assert caught.value.args == (f"tasks[1]: is a int, not a GenerationTask (allowed: {allowed})",)
    assert caught.value.allowed == allowed


async def test_a_single_task_is_waited_for(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("alone")
        seen = [t async for t in jm.as_completed([task])]
        assert seen == [task]
        assert (await task).history_id == task.history_id
        assert s._poller.pending == 0


async def test_each_session_polls_its_own_tasks(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    """Tasks of two sessions: each session's poller waits for its own jobs, and only those."""
    jimeng_emulator.freeze_clock()
    settings = jimeng_emulator.settings()
    async with (
        jm.JimengSession(jimeng_token, settings=settings) as one,
        jm.JimengSession(jimeng_token, settings=settings) as two,
    ):
        tasks = [
            await one.submit_image("one a"),
            await two.submit_image("two a"),
            await one.submit_image("one b"),
            await two.submit_image("two b"),
        ]
        seen: Seen = []

        async with anyio.create_task_group() as group:
            group.start_soon(collect, tasks, seen)
            await until(lambda: one._poller.pending + two._poller.pending >= len(tasks))
            assert (one._poller.pending, two._poller.pending) == (2, 2)
            jimeng_emulator.thaw_clock()
        assert sorted(map(id, seen)) == sorted(map(id, tasks))
        assert (one._poller.pending, two._poller.pending) == (0, 0)


async def test_several_tasks_on_one_job_each_come_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    """The same job awaited through three tasks (and one of them twice): every entry comes."""
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        first = await s.submit_image("shared")
        other = await s.submit_image("other")
        again = s.resume(first.history_id, kind="image")
        third = s.resume(first.history_id, kind="image")
        tasks = [first, again, other, third, again]
        seen: Seen = []

        async with anyio.create_task_group() as group:
            group.start_soon(collect, tasks, seen)
            await until(lambda: s._poller.pending >= 2)  # jobs, not tasks: five joined at once
            assert seen == []
            jimeng_emulator.thaw_clock()
        assert sorted(map(id, seen)) == sorted(map(id, tasks))
        for task in (first, again, third):
            assert (await task).history_id == first.history_id
        assert s._poller.pending == 0


async def test_closing_the_session_ends_every_wait(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"job {i}") for i in range(3)]
        seen: Seen = []

        async with anyio.create_task_group() as group:
            group.start_soon(collect, tasks, seen)
            await until(lambda: s._poller.pending >= len(tasks))
            await s.aclose()
    assert sorted(map(id, seen)) == sorted(map(id, tasks))
    for task in seen:
        with pytest.raises(jm.SessionClosedError):
            await task


async def test_a_task_cancelled_while_waited_for_comes_at_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()  # nothing but the cancel can end a wait
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"job {i}") for i in range(2)]
        seen: Seen = []
        came = anyio.Event()

        async with anyio.create_task_group() as group:
            group.start_soon(collect, tasks, seen, came)
            # Until both jobs' first records came (and changed nothing the test awaits):
            # from then on only the cancel can wake the waiter.
            await until(
                lambda: (
                    s._poller.pending >= len(tasks)
                    and all(w.status is not None for w in s._poller._watches.values())
                )
            )
            await anyio.wait_all_tasks_blocked()  # the waiter looked at them and sleeps again
            tasks[1].cancel()
            await came.wait()
            group.cancel_scope.cancel()
        assert seen == [tasks[1]]
        with pytest.raises(jm.TaskCancelledError) as caught:
            await tasks[1]
        assert caught.value.history_id == tasks[1].history_id
        assert not tasks[0].done()


async def test_cancelling_one_of_two_tasks_on_a_job_leaves_the_other_waited_for(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        first = await s.submit_image("shared")
        second = s.resume(first.history_id, kind="image")
        seen: Seen = []
        came = anyio.Event()

        async with anyio.create_task_group() as group:
            group.start_soon(collect, [first, second], seen, came)
            await until(lambda: s._poller.pending >= 1)
            first.cancel()
            await came.wait()
            assert seen == [first]
            jimeng_emulator.thaw_clock()  # the job ends: the other task still hears of it
        assert seen == [first, second]
        assert (await second).history_id == first.history_id


async def test_a_task_already_done_comes_without_a_request(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("cancelled first")
        task.cancel()
        asked = jimeng_emulator.stats.requests["get_history_by_ids"]
        assert [t async for t in jm.as_completed([task])] == [task]
        assert jimeng_emulator.stats.requests["get_history_by_ids"] == asked
        assert s._poller.pending == 0


async def test_a_video_task_is_polled_as_a_video(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    """The waiter watches each job with its task's kind (a video's first ask comes later)."""
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        video = s.resume("9000001", kind="video")
        image = s.resume("9000002", kind="image")
        kinds: dict[str, str | None] = {}

        async with anyio.create_task_group() as group:
            both: list[jm.GenerationTask[Any]] = [video, image]
            group.start_soon(collect, both, list[Any]())
            await until(lambda: s._poller.pending >= 2)
            kinds = {i: w.kind for i, w in s._poller._watches.items()}
            group.cancel_scope.cancel()
    assert kinds == {"9000001": "video", "9000002": "image"}


async def test_leaving_early_releases_a_job_awaited_through_several_tasks(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        failing = await s.submit_image("fails")
        shared = await s.submit_image("shared")
        tasks = [failing, shared, s.resume(shared.history_id, kind="image"), shared]
        jimeng_emulator.set_record_status(failing.history_id, FAILED)
        async with aclosing(jm.as_completed(tasks)) as finished:
            async for task in finished:
                assert task is failing
                break
        assert s._poller.pending == 0  # every wait on the shared job was given back
        assert s._poller._watches == {}


async def test_tasks_resumed_without_a_kind_get_their_records_kind(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    settings = jimeng_emulator.settings()
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        video = await s.submit_video("a video")
        image = await s.submit_image("an image")
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        tasks = [s.resume(video.history_id), s.resume(image.history_id)]
        seen = [task async for task in jm.as_completed(tasks)]
        results = {task.history_id: await task for task in seen}
    assert [task.kind for task in tasks] == ["video", "image"]
    assert isinstance(results[video.history_id], jm.VideoResult)
    assert isinstance(results[image.history_id], jm.ImageResult)


async def test_a_job_never_found_comes_with_its_error(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = s.resume("7999999999999", kind="image")
        assert [t async for t in jm.as_completed([task])] == [task]
        assert task.status is jm.TaskStatus.FAILED
        with pytest.raises(jm.JobNotFoundError) as caught:
            await task
        with pytest.raises(jm.JobNotFoundError):  # awaited directly, the same error ends it
            await s.resume("7999999999998", kind="image")
    assert caught.value.history_id == "7999999999999"
