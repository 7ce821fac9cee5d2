"""A session lives like an HTTP client: no background task, optional `async with`, close from
any task in any order; waiters drive the polling in turns; polling errors reach their waiters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import jimeng_async as jm
from jimeng_async.testing import Emulator, EmulatorConfig
from jimeng_async.testing.media import png
from jimeng_async.transport import HISTORY

pytestmark = pytest.mark.anyio

SAFETY = 30  # seconds: only a guard against a hang, never what a test measures


async def _wait_all(tasks: Sequence[jm.GenerationTask]) -> list[jm.ImageResult | jm.VideoResult]:
    results: list[jm.ImageResult | jm.VideoResult] = []

    async def one(task: jm.GenerationTask) -> None:
        results.append(await task)

    async with anyio.create_task_group() as group:
        for task in tasks:
            group.start_soon(one, task)
    return results


async def test_without_async_with_jobs_and_account_work(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    s = jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings())
    try:
        tasks = [await s.submit_image(f"plain {i}") for i in range(3)]
        with anyio.fail_after(SAFETY):
            results = await _wait_all(tasks)
        assert (await s.credits(refresh=True)).total == 997
    finally:
        await s.aclose()
    assert all(len(r.assets()) == 4 for r in results)
    requests = dict(jimeng_emulator.stats.requests)
    for call in (s.account_info(), s.credits(), s.receive_credits(), s.upload_image(b"x")):
        with pytest.raises(jm.SessionClosedError):
            await call
    await s.aclose()  # any number of times
    assert dict(jimeng_emulator.stats.requests) == requests  # nothing was sent after close


async def test_sessions_closed_in_opening_order_with_jobs_in_flight(
    jimeng_emulator: Emulator,
) -> None:
    settings = jimeng_emulator.settings()
    first_token = jimeng_emulator.add_account(credits=10)
    second_token = jimeng_emulator.add_account(credits=10)
    first = await jm.JimengSession(first_token, settings=settings).__aenter__()
    second = await jm.JimengSession(second_token, settings=settings).__aenter__()
    in_flight = await first.submit_image("first's job")
    survivor = await second.submit_video("second's job")
    outcome: list[Any] = []

    async def wait_survivor() -> None:
        outcome.append(await survivor)

    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            group.start_soon(wait_survivor)
            await anyio.wait_all_tasks_blocked()
            await first.__aexit__(None, None, None)  # FIFO, not LIFO
            with pytest.raises(jm.SessionClosedError):
                await in_flight
        await second.__aexit__(None, None, None)
        # The task's cancel-scope stack is intact: an unrelated scope afterwards is not cancelled.
        with anyio.CancelScope() as later:
            await anyio.lowlevel.checkpoint()
    assert not later.cancel_called
    assert isinstance(outcome[0], jm.VideoResult)


async def test_opened_in_one_task_closed_in_another(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    holder: list[jm.JimengSession] = []

    async def startup() -> None:
        holder.append(
            await jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()).__aenter__()
        )

    async def shutdown() -> None:
        await holder[0].aclose()

    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            group.start_soon(startup)
        s = holder[0]
        task = await s.submit_image("across tasks")
        result = await task
        pending = await s.submit_video("still running at shutdown")
        errors: list[BaseException] = []

        async def waiter() -> None:
            try:
                await pending
            except jm.SessionClosedError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            polls = jimeng_emulator.stats.requests["get_history_by_ids"]
            async with anyio.create_task_group() as other:
                other.start_soon(shutdown)
    assert len(result.images) == 4
    assert len(errors) == 1
    assert jimeng_emulator.stats.requests["get_history_by_ids"] == polls  # waiter left at once
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as again:
        resumed = await again.resume(pending.history_id)  # the job stayed resumable
    assert isinstance(resumed, jm.VideoResult)


async def test_hundred_concurrent_jobs_cost_at_most_0_3_history_calls_each(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"prompt {i}") for i in range(100)]
        with anyio.fail_after(SAFETY):
            results = await _wait_all(tasks)
    assert len(results) == 100
    calls = jimeng_emulator.stats.requests["get_history_by_ids"]
    print(f"history calls per job: {calls / 100:.2f}")
    assert calls / 100 <= 0.3


@pytest.mark.parametrize("revoke", ["expire", "ban"])
async def test_a_dead_token_fails_every_waiter_within_one_round(
    jimeng_emulator: Emulator, revoke: str
) -> None:
    token = jimeng_emulator.add_account(credits=100)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"doomed {i}") for i in range(15)]  # two batches a round
        if revoke == "expire":
            jimeng_emulator.expire_account(token)
        else:
            jimeng_emulator.ban_account(token)
        errors: list[BaseException] = []

        async def one(task: jm.GenerationTask) -> None:
            try:
                await task
            except jm.APIError as exc:
                errors.append(exc)

        with anyio.fail_after(SAFETY):
            async with anyio.create_task_group() as group:
                for task in tasks:
                    group.start_soon(one, task)
    expected = jm.AuthError if revoke == "expire" else jm.PermissionDeniedError
    assert len(errors) == 15
    assert all(isinstance(e, expected) for e in errors)
    assert jimeng_emulator.stats.requests["get_history_by_ids"] <= 2  # one round, no retries


async def test_unknown_id_resumes_to_job_not_found_within_the_grace(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    settings = jimeng_emulator.settings()  # the grace is scaled like the polling: 0.6 s here
    grace = settings.job_not_found_grace
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        started = anyio.current_time()
        with anyio.fail_after(SAFETY), pytest.raises(jm.JobNotFoundError) as info:
            await s.resume("7999999999999")
        waited = anyio.current_time() - started
    assert info.value.history_id == "7999999999999"
    assert waited >= grace
    # Polled at the back-off, not for the 20-minute generation limit.
    assert (
        jimeng_emulator.stats.requests["get_history_by_ids"]
        <= grace / settings.poll_min_interval + 2
    )


async def test_a_status_the_library_does_not_know_fails_typed_after_its_grace(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    settings = jimeng_emulator.settings(unknown_status_grace=0.5)
    grace = settings.unknown_status_grace
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        task = await s.submit_image("a job the service puts in a new state")
        jimeng_emulator.set_record_status(task.history_id, -1)
        with anyio.fail_after(SAFETY), pytest.raises(jm.UnknownStatusError) as info:
            await task
        after_first_unknown = jimeng_emulator.stats.requests["get_history_by_ids"]
    assert (info.value.history_id, info.value.record_status) == (task.history_id, -1)
    assert task.status is jm.TaskStatus.FAILED
    # Polled at the back-off during the grace, not for the generation limit.
    assert after_first_unknown <= grace / settings.poll_min_interval + 2


async def test_resume_reads_the_kind_from_the_record(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    settings = jimeng_emulator.settings()
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        video = await s.submit_video("a video")
        image = await s.submit_image("an image")
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        again_video, again_image = s.resume(video.history_id), s.resume(image.history_id)
        assert again_video.kind is None
        with anyio.fail_after(SAFETY):
            video_result, image_result = await again_video, await again_image
        wrong = await s.resume(video.history_id, kind="image")  # the record wins over a hint
    assert isinstance(video_result, jm.VideoResult)
    assert isinstance(image_result, jm.ImageResult)
    assert isinstance(wrong, jm.VideoResult)
    assert again_video.kind == "video"
    assert again_image.to_dict()["kind"] == "image"


async def test_cancelling_the_driver_lets_every_other_waiter_finish(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        driver_task = await s.submit_video("the driver's job")
        others = [await s.submit_image(f"other {i}") for i in range(5)]
        finished: list[str] = []

        async def wait(task: jm.GenerationTask) -> None:
            await task
            finished.append(task.history_id)

        with anyio.fail_after(SAFETY):
            async with anyio.create_task_group() as group:
                driver_scope = anyio.CancelScope()
                group.start_soon(_in_scope, driver_scope, wait, driver_task)
                await anyio.wait_all_tasks_blocked()  # alone, so it drives
                assert s._poller.driving == driver_task.history_id
                for task in others:
                    group.start_soon(wait, task)
                await anyio.wait_all_tasks_blocked()
                driver_scope.cancel()
    assert sorted(finished) == sorted(t.history_id for t in others)
    assert s._poller.hand_offs >= 1


async def _in_scope(scope: anyio.CancelScope, fn: Any, *args: Any) -> None:
    with scope:
        await fn(*args)


async def test_a_polling_bug_reaches_the_waiters_typed(
    jimeng_emulator: Emulator, jimeng_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"bug {i}") for i in range(3)]
        real_call = s.transport.call

        async def broken(endpoint: Any, *args: Any, **kwargs: Any) -> Any:
            if endpoint is HISTORY:
                raise TypeError("a bug in the history path")
            return await real_call(endpoint, *args, **kwargs)

        monkeypatch.setattr(s.transport, "call", broken)
        errors: list[BaseException] = []

        async def one(task: jm.GenerationTask) -> None:
            try:
                await task
            except BaseException as exc:  # whatever arrives, it must arrive here, typed
                errors.append(exc)

        with anyio.fail_after(SAFETY):
            async with anyio.create_task_group() as group:
                for task in tasks:
                    group.start_soon(one, task)
    assert len(errors) == 3
    assert all(isinstance(e, jm.PollingError) for e in errors)
    assert all(isinstance(e.__cause__, TypeError) for e in errors)


async def test_progress_releases_the_driver_role_while_suspended(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        watched = await s.submit_video("watched step by step")
        awaited = await s.submit_image("awaited meanwhile")
        other_done = anyio.Event()
        steps: list[jm.Progress] = []

        async def follow() -> None:
            async for step in watched.progress():
                steps.append(step)
                if len(steps) == 2:  # hold this step until the other job finished
                    await other_done.wait()

        async def wait_other() -> None:
            await awaited
            other_done.set()

        with anyio.fail_after(SAFETY):
            async with anyio.create_task_group() as group:
                group.start_soon(follow)
                await anyio.wait_all_tasks_blocked()  # the follower drives now
                group.start_soon(wait_other)
    assert other_done.is_set()
    assert steps[-1].status is jm.TaskStatus.COMPLETED


async def test_a_download_streaming_longer_than_the_request_timeout_completes(
    tmp_path: Path,
) -> None:
    # 32-byte chunks every 20 ms: a ~550-byte file takes over 0.3 s, three request timeouts.
    config = EmulatorConfig(cdn_chunk_bytes=32, cdn_chunk_delay=0.02)
    async with Emulator(time_scale=0.01, seed=3, config=config) as emu:
        token = emu.add_account(credits=10)
        settings = emu.settings(request_timeout=0.1, stall_timeout=0.5, max_retries=0)
        async with jm.JimengSession(token, settings=settings) as s:
            result = await s.generate_image("slow link", resolution="1k")
            started = anyio.current_time()
            paths = await result.save(tmp_path)
            took = anyio.current_time() - started
    assert len(paths) == 4
    assert all(p.stat().st_size > 32 * 10 for p in paths)  # over 10 chunks, 9 pauses of 20 ms
    assert took > settings.request_timeout
    assert emu.stats.requests["cdn"] == 4  # no attempt was cut short and retried


def _padded_png(size: int) -> bytes:
    """A valid PNG followed by `size` bytes of padding (data after IEND is allowed)."""
    return png(64, 48, "slow upload") + bytes(size)


async def test_an_upload_streaming_longer_than_the_request_timeout_completes() -> None:
    # The upload host pauses 20 ms per body chunk (at most 64 KiB each): 2 MiB takes over
    # 0.6 s, six request timeouts, yet each chunk is progress, so nothing is cut short.
    config = EmulatorConfig(upload_chunk_delay=0.02)
    async with Emulator(time_scale=0.01, seed=4, config=config) as emu:
        token = emu.add_account(credits=10)
        settings = emu.settings(request_timeout=0.1, stall_timeout=5.0, max_retries=0)
        async with jm.JimengSession(token, settings=settings) as s:
            started = anyio.current_time()
            ref = await s.upload_image(_padded_png(2 * 1024 * 1024))
            took = anyio.current_time() - started
    assert (ref.width, ref.height) == (64, 48)
    assert took > settings.request_timeout
    assert emu.stats.requests["upload"] == 1  # no attempt was cut short and retried


async def test_an_upload_without_progress_ends_at_the_stall_bound() -> None:
    # 0.5 s per chunk against a 0.2 s stall bound: the host stops taking bytes for longer
    # than the client allows, and the attempt ends as a request time-out (no retries).
    config = EmulatorConfig(upload_chunk_delay=0.5)
    async with Emulator(time_scale=0.01, seed=5, config=config) as emu:
        token = emu.add_account(credits=10)
        settings = emu.settings(request_timeout=30.0, stall_timeout=0.2, max_retries=0)
        async with jm.JimengSession(token, settings=settings) as s:
            with pytest.raises(jm.RequestTimeoutError, match=r"no upload progress within 0\.2s"):
                await s.upload_image(_padded_png(8 * 1024 * 1024))
    assert emu.stats.requests["upload"] == 1
