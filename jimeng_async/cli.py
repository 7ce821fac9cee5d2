"""The `jimeng-async` command: a demo on the embedded emulator, and the account's everyday calls.

jimeng-async demo                      # no token needed: runs against a local emulator
jimeng-async credits --token us-xxxx   # or JIMENG_TOKEN in the environment
jimeng-async image "a cat" --out out/
jimeng-async emulator --port 8790      # the emulator as a process, for your own tests
jimeng-async models --region us        # the models a region offers
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from . import __version__, registry
from .config import Settings
from .errors import JimengError
from .session import JimengSession
from .tasks import GenerationTask

Command = Callable[[argparse.Namespace], Awaitable[int]]


def _say(text: str) -> None:
    """Print a line; through rich (the `cli` extra) when it is installed."""
    try:
        from rich.console import Console
    except ImportError:
        print(text, flush=True)
    else:
        Console(highlight=True, soft_wrap=True).print(text, markup=False)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command's own options on top."""
    if args.timeout is not None:
        return Settings(generation_timeout=args.timeout)
    return Settings()


async def _demo(args: argparse.Namespace) -> int:
    """Every feature once, against the emulator started here: no token, no credits spent."""
    try:
        from .testing import Emulator
    except ImportError:
        _say("the demo needs the emulator extra: pip install 'jimeng-async[all]'")
        return 2
    out = Path(args.out)
    started = time.monotonic()
    async with Emulator(time_scale=args.time_scale, seed=args.seed) as emulator:
        token = emulator.add_account(region="cn", credits=0)
        _say(f"emulator on {emulator.url} (time scale {args.time_scale:g}); account created")
        async with JimengSession(token, settings=emulator.settings()) as session:
            info = await session.account_info()
            credits = await session.credits()
            _say(f"account {info.user_id} ({info.nickname}): {credits.total} credits")
            _say("  the balance is 0, so the first job receives the daily credits first")
            image = await session.generate_image("a lighthouse at dawn", ratio="16:9")
            paths = await image.save(out)
            _say(f"text to image: {len(image.images)} images -> {_names(paths)}")
            blend = await session.generate_image(
                "the same scene at night", images=[paths[0]], resolution="1k"
            )
            paths = await blend.save(out)
            _say(f"image to image (blend): {len(blend.images)} images -> {_names(paths)}")
            task = await session.submit_video("waves rolling in", first_frame=paths[0])
            async for step in task.progress():
                where = (
                    f", queue {step.queue.position}" if step.queue and step.queue.position else ""
                )
                _say(f"  video {task.history_id}: {step.status.name.lower()}{where}")
            video = await task
            paths = await video.save(out)
            _say(f"first frame to video: {_names(paths)}")
            credits = await session.credits(refresh=True)
            _say(f"credits left: {credits.total}")
            _say(json.dumps(session.metrics.snapshot()["tasks"]))
    _say(f"done in {time.monotonic() - started:.1f}s; files in {out}")
    return 0


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(p.name for p in paths)


def _session(args: argparse.Namespace) -> JimengSession:
    token = args.token or os.environ.get("JIMENG_TOKEN")
    if not token:
        raise SystemExit("give --token or set JIMENG_TOKEN (the sessionid cookie, us-... etc.)")
    return JimengSession(token, settings=settings_from_args(args))


async def _account(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        info = await session.account_info()
        credits = await session.credits()
    _print_json({"account": info.model_dump(), "credits": credits.model_dump()})
    return 0


async def _receive(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        receipt = await session.receive_credits()
    _print_json(receipt.model_dump())
    return 0


async def _image(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        task = await session.submit_image(
            args.prompt,
            model=args.model,
            ratio=args.ratio,
            resolution=args.resolution,
            images=args.images or None,
        )
        return await _finish(task, args.out)


async def _video(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        task = await session.submit_video(
            args.prompt,
            model=args.model,
            ratio=args.ratio,
            resolution=args.resolution,
            duration=args.duration,
            first_frame=args.first_frame,
            end_frame=args.end_frame,
        )
        return await _finish(task, args.out)


async def _resume(args: argparse.Namespace) -> int:
    async with _session(args) as session:
        return await _finish(session.resume(args.history_id, kind=args.kind), args.out)


async def _finish(task: GenerationTask, out: str) -> int:
    """Wait for a job (saying how to resume it if this process stops) and save its files."""
    _say(
        f"waiting for {task.history_id}; resume: jimeng-async resume {task.history_id} "
        f"--kind {task.kind}"
    )
    result = await task
    paths = await result.save(out)
    _say("\n".join(str(p) for p in paths))
    return 0


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _emulator(args: argparse.Namespace) -> int:
    from .testing.__main__ import main as emulator_main

    return emulator_main(args.rest)


def _models(args: argparse.Namespace) -> int:
    """List the models offered in a region (every region when none is given)."""
    try:
        found = registry.models(args.region, include_withdrawn=args.all)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for model in found:
        regions = ",".join(sorted(model.regions))
        mark = " (withdrawn)" if model.withdrawn else ""
        print(
            f"{model.kind:5}  {model.alias:32} {model.id:56} {regions:16} {model.describe()}{mark}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jimeng-async", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"jimeng-async {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests (no secrets)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run every feature once on the embedded emulator")
    demo.add_argument("--out", default="jimeng-demo-out", help="where to save the files")
    demo.add_argument("--time-scale", type=float, default=0.02, help="emulator speed (1 = real)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(run=_demo)

    emulator = sub.add_parser(
        "emulator", help="run the emulator (options: jimeng-async emulator -h)"
    )
    emulator.add_argument("rest", nargs=argparse.REMAINDER)
    emulator.set_defaults(sync=_emulator)

    listing = sub.add_parser("models", help="list the image and video models of a region")
    listing.add_argument("--region", choices=sorted(registry.ALL_REGIONS), help="only this region")
    listing.add_argument("--all", action="store_true", help="include withdrawn models")
    listing.set_defaults(sync=_models)

    def with_token(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--token", help="refresh token (default: $JIMENG_TOKEN)")
        p.add_argument("--timeout", type=float, help="generation limit in seconds")
        return p

    account = with_token(sub.add_parser("account", help="account info and credits"))
    account.set_defaults(run=_account)
    receive = with_token(sub.add_parser("receive", help="receive today's credits"))
    receive.set_defaults(run=_receive)

    image = with_token(sub.add_parser("image", help="generate images"))
    image.add_argument("prompt")
    image.add_argument("--model", default=registry.DEFAULT_IMAGE_MODEL)
    image.add_argument("--ratio", default="1:1")
    image.add_argument("--resolution", help="1k, 2k or 4k (default: the model's own)")
    image.add_argument("--image", dest="images", action="append", help="blend input (repeat)")
    image.add_argument("--out", default=".")
    image.set_defaults(run=_image)

    video = with_token(sub.add_parser("video", help="generate a video"))
    video.add_argument("prompt")
    video.add_argument("--model", default=registry.DEFAULT_VIDEO_MODEL)
    video.add_argument("--ratio", default="16:9")
    video.add_argument("--resolution", help="720p or 1080p, for the models that take one")
    video.add_argument("--duration", type=int, help="seconds (default: the model's own)")
    video.add_argument("--first-frame")
    video.add_argument("--end-frame")
    video.add_argument("--out", default=".")
    video.set_defaults(run=_video)

    resume = with_token(sub.add_parser("resume", help="wait for a job submitted earlier"))
    resume.add_argument("history_id")
    resume.add_argument("--kind", choices=("image", "video"), default="image")
    resume.add_argument("--out", default=".")
    resume.set_defaults(run=_resume)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(message)s")
    if hasattr(args, "sync"):
        return int(args.sync(args))
    command: Command = args.run
    try:
        return anyio.run(command, args)
    except JimengError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
