"""The everyday commands: account, receive, image, video, resume, models and the demo."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import registry
from ..results import Result
from ..tasks import GenerationTask
from .common import (
    RunState,
    check_files,
    check_image_options,
    check_video_options,
    given,
    infer_kind,
    open_session,
    token_region,
    wait_and_save,
)
from .display import JobBoard, describe, print_json, say


async def account(args: argparse.Namespace, state: RunState) -> int:
    """Who the token belongs to, and its credits."""
    async with open_session(args) as session:
        info = await session.account_info()
        credits = await session.credits()
    if args.json:
        print_json({"account": info.model_dump(), "credits": credits.model_dump()})
    else:
        print(f"account {info.user_id} ({info.nickname or 'no nickname'})")
        print(
            f"credits {credits.total} (gift {credits.gift}, purchase {credits.purchase}, "
            f"vip {credits.vip})"
        )
    return 0


async def receive(args: argparse.Namespace, state: RunState) -> int:
    """Receive today's credits."""
    async with open_session(args) as session:
        receipt = await session.receive_credits()
    if args.json:
        print_json(receipt.model_dump())
    else:
        print(f"received {receipt.received}; total now {receipt.total}")
    return 0


def _image_options(args: argparse.Namespace) -> dict[str, Any]:
    return given(model=args.model, ratio=args.ratio, resolution=args.resolution)


def _video_options(args: argparse.Namespace) -> dict[str, Any]:
    return given(
        model=args.model, ratio=args.ratio, resolution=args.resolution, duration=args.duration
    )


async def image(args: argparse.Namespace, state: RunState) -> int:
    """Generate images (a blend with --image) and save them."""
    options = _image_options(args)
    check_image_options(args.prompt, region=token_region(args), **options)
    check_files(*(args.images or []), field_name="--image")
    async with open_session(args) as session:
        with JobBoard() as board:
            board.add("job", "image job")
            task = await session.submit_image(args.prompt, images=args.images or None, **options)
            _announce(task, state)
            paths = await wait_and_save(task, board, "job", args.out)
    _report(args, task, paths)
    return 0


async def video(args: argparse.Namespace, state: RunState) -> int:
    """Generate a video (from text, or from --first-frame / --end-frame) and save it."""
    options = _video_options(args)
    check_video_options(args.prompt, region=token_region(args), **options)
    check_files(args.first_frame, args.end_frame, field_name="--first-frame/--end-frame")
    async with open_session(args) as session:
        with JobBoard() as board:
            board.add("job", "video job")
            task = await session.submit_video(
                args.prompt, first_frame=args.first_frame, end_frame=args.end_frame, **options
            )
            _announce(task, state)
            paths = await wait_and_save(task, board, "job", args.out)
    _report(args, task, paths)
    return 0


async def resume(args: argparse.Namespace, state: RunState) -> int:
    """Wait for a job submitted earlier (by this or another process) and save its files."""
    async with open_session(args) as session:
        kind = args.kind or await infer_kind(session, args.history_id)
        task = session.resume(args.history_id, kind=kind)
        state.submitted.append((task.history_id, task.kind))
        with JobBoard() as board:
            board.add("job", f"{kind} {task.history_id}")
            paths = await wait_and_save(task, board, "job", args.out)
    _report(args, task, paths)
    return 0


def _announce(task: GenerationTask[Result], state: RunState) -> None:
    """From here on the job runs (and is charged) whatever happens to this process."""
    state.submitted.append((task.history_id, task.kind))


def _report(args: argparse.Namespace, task: GenerationTask[Result], paths: Sequence[Path]) -> None:
    if args.json:
        print_json(
            {
                "history_id": task.history_id,
                "submit_id": task.submit_id,
                "kind": task.kind,
                "status": "succeeded",
                "files": [str(p) for p in paths],
            }
        )
    else:
        for path in paths:
            print(path)


def model_table(region: str | None, *, include_withdrawn: bool) -> list[dict[str, Any]]:
    """The registry's models (offered in `region` when given), as `models --json` prints them."""
    rows: list[dict[str, Any]] = []
    for model in registry.models(region, include_withdrawn=include_withdrawn):
        row: dict[str, Any] = {
            "kind": model.kind,
            "alias": model.alias,
            "id": model.id,
            "regions": sorted(model.regions),
            "default": model.alias in (registry.DEFAULT_IMAGE_MODEL, registry.DEFAULT_VIDEO_MODEL),
            "withdrawn": model.withdrawn,
        }
        if isinstance(model, registry.ImageModel):
            row["ratios"] = list(model.ratios)
            row["resolutions"] = list(model.resolutions)
        else:
            row["ratios"] = list(registry.VIDEO_RATIOS)
            row["durations"] = list(model.durations)
            row["resolutions"] = list(registry.VIDEO_RESOLUTIONS) if model.sends_resolution else []
        row["summary"] = model.describe()
        rows.append(row)
    return rows


async def models(args: argparse.Namespace, state: RunState) -> int:
    """List the models (of a region), what sizes and durations each takes, and the defaults."""
    rows = model_table(args.region, include_withdrawn=args.all)
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        marks = (" (default)" if row["default"] else "") + (
            " (withdrawn)" if row["withdrawn"] else ""
        )
        regions = ",".join(row["regions"])
        print(
            f"{row['kind']:5}  {row['alias']:32} {row['id']:56} {regions:16} {row['summary']}"
            f"{marks}"
        )
    print(f"image ratios: {', '.join(registry.IMAGE_RATIOS)}", file=sys.stderr)
    print(f"video ratios: {', '.join(registry.VIDEO_RATIOS)}", file=sys.stderr)
    return 0


async def demo(args: argparse.Namespace, state: RunState) -> int:
    """Every feature once, against an emulator started here: no token, no credits spent."""
    from ..session import JimengSession
    from ..testing import Emulator

    out = Path(args.out)
    started = time.monotonic()
    files: list[str] = []
    async with Emulator(time_scale=args.time_scale, seed=args.seed) as emulator:
        token = emulator.add_account(region="cn", credits=0)
        say(f"emulator on {emulator.url} (time scale {args.time_scale:g}); account created")
        say(
            "every file below comes from this local emulator (generated placeholders), "
            "not from the real service"
        )
        async with JimengSession(token, settings=emulator.settings()) as session:
            info = await session.account_info()
            credits = await session.credits()
            say(f"account {info.user_id} ({info.nickname}): {credits.total} credits")
            say("  the balance is 0, so the first job receives the daily credits first")
            image_result = await session.generate_image("a lighthouse at dawn", ratio="16:9")
            paths = await image_result.save(out)
            files += map(str, paths)
            say(f"text to image: {len(image_result.images)} images -> {_names(paths)}")
            blend = await session.generate_image(
                "the same scene at night", images=[paths[0]], resolution="1k"
            )
            paths = await blend.save(out)
            files += map(str, paths)
            say(f"image to image (blend): {len(blend.images)} images -> {_names(paths)}")
            task = await session.submit_video("waves rolling in", first_frame=paths[0])
            async for step in task.progress():
                say(f"  video {task.history_id}: {describe(step)}")
            video_result = await task
            paths = await video_result.save(out)
            files += map(str, paths)
            say(f"first frame to video: {_names(paths)}")
            credits = await session.credits(refresh=True)
            say(f"credits left: {credits.total}")
            tasks = session.metrics.snapshot()["tasks"]
    say(f"done in {time.monotonic() - started:.1f}s; emulator files in {out}")
    if args.json:
        print_json({"files": files, "tasks": tasks, "credits_left": credits.total})
    else:
        for name in files:
            print(name)
    return 0


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(p.name for p in paths)
