"""Generation end to end against the emulator (time-scaled): drafts, tasks, the batched poller."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

import jimeng_async as jm
from jimeng_async.images import probe
from jimeng_async.testing import Emulator, EmulatorConfig, FaultConfig, Timeline
from jimeng_async.testing.media import png

pytestmark = pytest.mark.anyio


async def test_text_to_image_end_to_end(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("a red fox", ratio="16:9", resolution="1k")
        assert task.kind == "image"
        assert task.submit_id
        assert not task.done()
        result = await task
        assert isinstance(result, jm.ImageResult)
        assert task.done()
        assert task.status is jm.TaskStatus.COMPLETED
        assert len(result.images) == 4
        assert all((a.width, a.height) == (1664, 936) for a in result.images)
        paths = await result.save(tmp_path / "out")
        assert await task is result  # awaiting again gives the same result
    assert [p.name for p in paths] == [f"{task.history_id}-{i}.png" for i in range(4)]
    headers = [probe(p.read_bytes()) for p in paths]
    assert all(h.format == "png" for h in headers)
    assert len({p.read_bytes() for p in paths}) == 4  # four different pictures
    assert jimeng_emulator.stats.credits_charged == 1


async def test_blend_of_uploaded_and_referenced_images(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        ref = await s.upload_image(png(40, 30, "style"))
        result = await s.generate_image(
            "make it night", images=[png(50, 50, "content"), ref], sample_strength=0.7
        )
    assert len(result.images) == 4
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 2


async def test_blend_refuses_foreign_or_too_many_images(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InvalidInputError, match="images") as info:
            await s.submit_image("x", images=[b"a"] * 11)
        assert info.value.field == "images"
        with pytest.raises(jm.InvalidInputError, match="images"):
            await s.submit_image("x", images=[])
        foreign = jm.ImageRef(uri="tos-cn-i-x/not-mine", width=10, height=10)
        with pytest.raises(jm.InvalidRequestError) as refused:
            await s.submit_image("x", images=[foreign])
    assert refused.value.ret == "2002"
    assert jimeng_emulator.stats.credits_charged == 0


async def test_text_to_video_and_save(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        result = await s.generate_video(
            "waves at dusk", model="jimeng-video-3.0", duration=10, resolution="1080p"
        )
        paths = await result.save(tmp_path)
    assert isinstance(result, jm.VideoResult)
    assert result.video.duration == pytest.approx(10.0)
    assert result.video.cover_url
    data = paths[0].read_bytes()
    assert paths[0].suffix == ".mp4"
    assert data[4:8] == b"ftyp"


async def test_video_from_first_and_end_frames(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        both = await s.generate_video(
            "morph", first_frame=png(64, 36, "a"), end_frame=png(64, 36, "b"), ratio="16:9"
        )
        first_only = await s.generate_video("zoom", first_frame=png(36, 64, "c"), ratio="9:16")
    assert both.video.url
    assert first_only.video.url
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 3


async def test_hundred_concurrent_tasks_are_polled_in_batches(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tasks = [await s.submit_image(f"prompt {i}") for i in range(100)]
        results: list[jm.ImageResult] = []

        async def wait(task: jm.GenerationTask) -> None:
            result = await task
            assert isinstance(result, jm.ImageResult)
            results.append(result)

        async with anyio.create_task_group() as group:
            for task in tasks:
                group.start_soon(wait, task)
        snapshot = s.metrics.snapshot()["tasks"]
    assert len(results) == 100
    assert all(len(r.images) == 4 for r in results)
    sizes = jimeng_emulator.stats.history_batch_sizes
    asked = sum(sizes)  # what one request per task per poll would have cost
    assert max(sizes) <= 10
    assert len(sizes) * 5 <= asked, f"{len(sizes)} calls for {asked} task polls"
    assert snapshot["submitted"] == 100
    assert snapshot["completed"] == 100
    assert snapshot["completion_rate"] == 1.0


async def test_blocked_prompt_is_content_filtered(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("something blocked here")
        with pytest.raises(jm.ContentFilteredError) as info:
            await task
        assert task.status is jm.TaskStatus.FAILED
        assert s.metrics.snapshot()["tasks"]["failed"] == 1
    error = info.value
    assert isinstance(error, jm.GenerationFailedError)
    assert (error.fail_code, error.history_id) == ("2038", task.history_id)


async def test_failure_codes_surface() -> None:
    config = EmulatorConfig(failure_rate=1.0, fail_codes=("2039",))
    async with Emulator(time_scale=0.01, seed=5, config=config) as emu:
        token = emu.add_account(credits=10)
        async with jm.JimengSession(token, settings=emu.settings()) as s:
            task = await s.submit_image("fine prompt")
            with pytest.raises(jm.GenerationFailedError) as info:
                await task
    assert info.value.fail_code == "2039"
    assert not isinstance(info.value, jm.ContentFilteredError)


async def test_generation_limit_then_resume(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    short = jimeng_emulator.settings(generation_timeout=0.01)
    async with jm.JimengSession(jimeng_token, settings=short) as s:
        task = await s.submit_image("slow one")
        with pytest.raises(jm.GenerationTimeoutError) as info:
            await task
        assert task.status is jm.TaskStatus.TIMED_OUT
        assert s.metrics.snapshot()["tasks"]["timed_out"] == 1
        saved = task.to_dict()
    assert info.value.history_id == task.history_id
    # A new session (as after a restart) re-attaches by id and gets the whole result.
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        again = s.resume(**saved)
        result = await again
    assert isinstance(result, jm.ImageResult)
    assert len(result.images) == 4
    assert again.submit_id == task.submit_id
    assert jimeng_emulator.stats.credits_charged == 1


async def test_cancelling_one_waiter_leaves_the_others(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        shared = await s.submit_image("shared")
        other = await s.submit_image("other")
        outcomes: list[str] = []

        async def wait(task: jm.GenerationTask, label: str) -> None:
            await task
            outcomes.append(label)

        async with anyio.create_task_group() as group:
            with anyio.CancelScope() as doomed:
                doomed.cancel()
                await shared  # this waiter is cancelled at once
            group.start_soon(wait, shared, "shared")
            group.start_soon(wait, other, "other")
            async with anyio.create_task_group() as inner:
                inner.start_soon(wait, shared, "cancelled")
                await anyio.lowlevel.checkpoint()
                inner.cancel_scope.cancel()
    assert sorted(outcomes) == ["other", "shared"]


async def test_task_cancel_stops_waiting_only(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("cancel me")
        task.cancel()
        with pytest.raises(jm.TaskCancelledError):
            await task
        assert task.status is jm.TaskStatus.CANCELLED
        result = await s.resume(task.history_id, kind="image")  # the job went on
    assert len(result.images) == 4


async def test_progress_reports_status_changes() -> None:
    # A long queue and an early first poll: the job is seen while it waits in line.
    timeline = Timeline(queue=(30.0, 40.0), processing=(30, 40), post=(2, 5), finalise=(1, 2))
    config = EmulatorConfig(video_timeline=timeline)
    async with Emulator(time_scale=0.01, seed=9, config=config) as emu:
        token = emu.add_account(credits=10)
        settings = emu.settings(poll_first_delay_video=0.001)
        async with jm.JimengSession(token, settings=settings) as s:
            task = await s.submit_video("progress")
            seen = [p async for p in task.progress()]
    statuses = [p.status for p in seen]
    assert statuses[-1] is jm.TaskStatus.COMPLETED
    assert jm.TaskStatus.PROCESSING in statuses
    assert any(p.queue is not None for p in seen)
    order = [
        jm.TaskStatus.PENDING,
        jm.TaskStatus.PROCESSING,
        jm.TaskStatus.POST_PROCESSING,
        jm.TaskStatus.FINALISING,
        jm.TaskStatus.COMPLETED,
    ]
    positions = [order.index(st) for st in statuses]
    assert positions == sorted(positions)


async def test_submit_retried_under_faults_is_charged_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(drop_rate=0.5, seed=11, endpoints={"generate"})
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=10)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        tasks = [await s.submit_image(f"paid {i}") for i in range(10)]
        jimeng_emulator.faults = None
        for task in tasks:
            await task
    stats = jimeng_emulator.stats
    assert stats.faults_injected["drop"] > 0
    assert any(count > 1 for count in stats.submits.values())  # retried with its submit_id
    assert len(stats.submits) == 10
    assert stats.duplicate_submits == 0
    assert stats.credits_charged == 10


async def test_empty_balance_receives_daily_credits_first(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account(credits=0)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        await (await s.submit_image("on today's credits"))
    assert jimeng_emulator.stats.requests["credit_receive"] == 1
    assert jimeng_emulator.credits_of(token) == 99


async def test_insufficient_credits_submit_nothing(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account(credits=0)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        await s.receive_credits()
        jimeng_emulator.set_credits(token, 0)
        with pytest.raises(jm.InsufficientCreditsError):
            await s.submit_image("no money", seed=1)
    assert jimeng_emulator.stats.requests["generate"] == 0
    # The service's own check: one credit left, a video costs five.
    poor = jimeng_emulator.add_account(credits=1)
    async with jm.JimengSession(poor, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InsufficientCreditsError) as info:
            await s.submit_video("too dear")
    assert info.value.ret == "5000"
    assert jimeng_emulator.credits_of(poor) == 1
    assert jimeng_emulator.stats.credits_charged == 0


async def test_bad_input_is_refused_before_any_request(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        for call, field in [
            (s.submit_image("  "), "prompt"),
            (s.submit_image("x", ratio="5:4"), "ratio"),  # type: ignore[arg-type]
            (s.submit_image("x", resolution="8k"), "resolution"),  # type: ignore[arg-type]
            (s.submit_image("x", sample_strength=1.5), "sample_strength"),
            (s.submit_video("x", duration=7), "duration"),
            (s.submit_video("x", resolution="4k"), "resolution"),  # type: ignore[arg-type]
            (s.submit_video("x", ratio="3:2"), "ratio"),  # type: ignore[arg-type]
            (s.submit_image("x", model="jimeng-video-3.0"), "model"),
        ]:
            with pytest.raises(jm.InvalidInputError) as info:
                await call
            assert info.value.field == field
            assert isinstance(info.value, ValueError)
        with pytest.raises(jm.InvalidInputError, match="kind"):
            s.resume("1", kind="audio")  # type: ignore[call-overload]
    assert sum(jimeng_emulator.stats.requests.values()) == 0


async def test_failed_poll_rounds_do_not_fail_tasks(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=0)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        jimeng_emulator.faults = FaultConfig(error_rate=1.0, endpoints={"get_history_by_ids"})
        task = await s.submit_image("patience")
        with anyio.move_on_after(0.3):
            await task
        assert not task.done()
        assert jimeng_emulator.stats.faults_injected["error"] > 0
        jimeng_emulator.faults = None
        result = await task
    assert len(result.images) == 4


async def test_upload_from_a_url_the_emulator_serves(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        result = await s.generate_image("source picture")
        ref = await s.upload_image(result.images[0].url)
    assert ref.format == "png"
    assert ref.width > 0
    assert jimeng_emulator.imagex.committed_image(jimeng_token, ref.uri) is not None


async def test_a_closed_session_submits_nothing(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    s = jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings())
    await s.aclose()
    with pytest.raises(jm.SessionClosedError, match="closed"):
        await s.submit_image("x")
    with pytest.raises(jm.SessionClosedError):
        s.resume("123")
    assert jimeng_emulator.stats.requests["generate"] == 0


async def test_a_lost_submit_is_submitted_again_with_its_key_and_paid_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    # Every answer to the submit is lost: the job may exist, and the error says how to find it.
    jimeng_emulator.faults = FaultConfig(drop_rate=1.0, endpoints={"generate"})
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=1)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        with pytest.raises(jm.NetworkError) as info:
            await s.submit_image("answer lost")
        key = info.value.submit_id
        assert key is not None  # the lost submit names its idempotency key
        jimeng_emulator.faults = None
        task = await s.submit_image("answer lost", submit_id=key)
        assert task.submit_id == key
        assert len((await task).images) == 4
        with pytest.raises(jm.InvalidInputError, match="submit_id"):
            await s.submit_image("x", submit_id="")
    stats = jimeng_emulator.stats
    assert stats.submits[key] == 3
    assert len(jimeng_emulator.records) == 1
    assert stats.credits_charged == 1
    assert stats.duplicate_submits == 0


async def test_credits_spent_follow_the_balance(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        await s.generate_image("one")
        await s.generate_video("two")
        await s.credits(refresh=True)
        spent = s.metrics.snapshot()["tasks"]["credits_spent"]
    assert spent == jimeng_emulator.stats.credits_charged == 6


async def test_a_bad_blend_image_fails_as_itself_before_the_submit(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.UploadError, match="not a supported image"):
            await s.submit_image("x", images=[png(8, 8, "ok"), b"not an image"])
    assert jimeng_emulator.stats.requests["generate"] == 0


async def test_cancel_wakes_a_waiter_already_waiting(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_video("long video")
        errors: list[BaseException] = []

        async def waiter() -> None:
            try:
                await task
            except jm.TaskCancelledError as exc:
                errors.append(exc)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(waiter)
                await anyio.wait_all_tasks_blocked()
                task.cancel()
        assert task.status is jm.TaskStatus.CANCELLED
    assert len(errors) == 1
    assert jimeng_emulator.record_status(task.history_id) != 50  # it stopped waiting early


async def test_waiting_after_the_session_closed_fails_at_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    errors: list[jm.SessionClosedError] = []

    async def waiter(task: jm.GenerationTask) -> None:
        try:
            await task
        except jm.SessionClosedError as exc:
            errors.append(exc)

    settings = jimeng_emulator.settings()
    with anyio.fail_after(5):
        # The session closes (inner block) while the waiter, outside it, still waits.
        async with (
            anyio.create_task_group() as group,
            jm.JimengSession(jimeng_token, settings=settings) as s,
        ):
            task = await s.submit_video("outlives its session")
            group.start_soon(waiter, task)
            await anyio.wait_all_tasks_blocked()
        with pytest.raises(jm.SessionClosedError):
            await task
    assert len(errors) == 1
    assert errors[0].history_id == task.history_id
    assert not task.done()  # the job itself goes on: resume it elsewhere
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        result = await s.resume(task.history_id, kind="video")
    assert result.video.url
