"""`as_completed`: many tasks awaited as they finish, their waiters started in slices."""

from __future__ import annotations

from contextlib import aclosing

import anyio
import anyio.lowlevel
import pytest

import jimeng_async as jm
from jimeng_async import waiting
from jimeng_async.testing import Emulator

pytestmark = pytest.mark.anyio

FAILED = 30


async def test_tasks_come_as_they_finish_each_once_with_its_outcome(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.freeze_clock()  # every job waits in the queue until the test lets it go
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"job {i}") for i in range(4)]
        failing = tasks[2]
        jimeng_emulator.set_record_status(failing.history_id, FAILED)
        seen: list[jm.GenerationTask[jm.ImageResult]] = []
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
