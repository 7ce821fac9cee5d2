"""The `jimeng-async` command.

    jimeng-async demo                        # no token needed: runs on a local emulator
    jimeng-async models                      # the models, ratios, resolutions, durations
    jimeng-async account --token us-xxxx     # or JIMENG_TOKEN in the environment
    jimeng-async image "a cat" --out out/    # progress on stderr, file paths on stdout
    jimeng-async batch prompts.txt --out out/ --concurrency 4 --token A --token B
    jimeng-async emulator --port 0 --account cn:tok:500

Every command takes `--json` (one JSON document on stdout) and `-v` (request log on stderr),
anywhere on the line. The exit codes are listed in `--help` and in docs/cli.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence

import anyio

from .. import __version__, registry
from .._redact import enable_debug_logging
from ..errors import GenerationTimeoutError, JimengError
from ..testing.extra import MISSING_MESSAGE, emulator_available
from . import commands, exits
from .batch import batch
from .common import RunState, resume_command
from .display import print_json, say

__all__ = ["build_parser", "main"]

Command = Callable[[argparse.Namespace, RunState], Awaitable[int]]


def _common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes, before or after its name (SUPPRESS keeps either)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log requests to stderr (-vv: debug); never tokens or signatures",
    )
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="machine output: one JSON document on stdout",
    )
    return common


def _with_token(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--token", help="refresh token (default: $JIMENG_TOKEN)")
    parser.add_argument("--timeout", type=float, help="generation limit in seconds (default 1200)")
    return parser


def _image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=registry.DEFAULT_IMAGE_MODEL,
        help=f"default {registry.DEFAULT_IMAGE_MODEL}; the list: jimeng-async models",
    )
    parser.add_argument("--ratio", default="1:1", choices=registry.IMAGE_RATIOS)
    parser.add_argument(
        "--resolution", choices=registry.IMAGE_RESOLUTIONS, help="default: the model's own"
    )


def _video_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=registry.DEFAULT_VIDEO_MODEL,
        help=f"default {registry.DEFAULT_VIDEO_MODEL}; the list: jimeng-async models",
    )
    parser.add_argument("--ratio", default="16:9", choices=registry.VIDEO_RATIOS)
    parser.add_argument(
        "--resolution",
        choices=registry.VIDEO_RESOLUTIONS,
        help="only for the models that take one (jimeng-async models)",
    )
    parser.add_argument(
        "--duration", type=int, help="seconds, as the model takes (default: the model's own)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, exit codes in the epilog."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="jimeng-async",
        description="Jimeng / Dreamina image and video generation from the command line.",
        epilog=exits.help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"jimeng-async {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, run: Command) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            parents=[common],
            epilog=exits.help_text(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(run=run)
        return p

    demo = command("demo", "run every feature once on a local emulator", commands.demo)
    demo.add_argument("--out", default="jimeng-demo-out", help="where to save the files")
    demo.add_argument("--time-scale", type=float, default=0.02, help="emulator speed (1 = real)")
    demo.add_argument("--seed", type=int, default=7)

    listing = command(
        "models", "list the models, their sizes and durations, by region", commands.models
    )
    listing.add_argument("--region", choices=sorted(registry.ALL_REGIONS), help="only this one")
    listing.add_argument("--all", action="store_true", help="include withdrawn models")
    _with_token(command("account", "account info and credits", commands.account))
    _with_token(command("receive", "receive today's credits", commands.receive))

    image = _with_token(command("image", "generate images and save them", commands.image))
    image.add_argument("prompt")
    _image_options(image)
    image.add_argument("--image", dest="images", action="append", help="blend input (repeat)")
    image.add_argument("--out", default=".", help="directory for the files")

    video = _with_token(command("video", "generate a video and save it", commands.video))
    video.add_argument("prompt")
    _video_options(video)
    video.add_argument("--first-frame", help="image file or URL for the first frame")
    video.add_argument("--end-frame", help="image file or URL for the last frame")
    video.add_argument("--out", default=".", help="directory for the files")

    resume = _with_token(
        command("resume", "wait for a job submitted earlier and save it", commands.resume)
    )
    resume.add_argument("history_id")
    resume.add_argument(
        "--kind", choices=("image", "video"), help="default: read from the job's record"
    )
    resume.add_argument("--out", default=".", help="directory for the files")

    runs = command("batch", "run a file of prompts; run it again to resume", batch)
    runs.add_argument(
        "--token",
        action="append",
        help="refresh token, once per account (default: $JIMENG_TOKENS, comma separated, "
        "else $JIMENG_TOKEN)",
    )
    runs.add_argument("--timeout", type=float, help="generation limit in seconds (default 1200)")
    runs.add_argument("input", help="prompts, one per line, or JSONL with options")
    runs.add_argument("--kind", choices=("image", "video"), default="image")
    runs.add_argument("--concurrency", type=_positive, default=4, help="jobs in flight (4)")
    runs.add_argument("--out", default=".", help="directory for the files")
    runs.add_argument("--report", help="JSONL report (default: INPUT with .report.jsonl)")
    runs.add_argument("--journal", help="resume journal (default: REPORT.journal)")

    emulator = sub.add_parser(
        "emulator",
        help="run the emulator for your own tests (needs the emulator extra)",
        parents=[common],
    )
    from ..testing.__main__ import add_emulator_options

    add_emulator_options(emulator)
    emulator.set_defaults(run=None)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _interrupted(state: RunState) -> str:
    """What Ctrl-C leaves behind, and how to pick it up again."""
    if state.rerun is not None:
        return (
            f"interrupted: {len(state.submitted)} submitted job(s) go on running on the service "
            f"and are charged; run the same command again to resume them:\n  {state.rerun}"
        )
    if not state.submitted:
        return "interrupted before any job was submitted: nothing was charged"
    lines = [
        f"interrupted: job {history_id} ({kind or 'kind unknown'}) goes on running on the "
        f"service and is charged; resume it with:\n  {resume_command(history_id, kind)}"
        for history_id, kind in state.submitted
    ]
    return "\n".join(lines)


def _configure_logging(verbosity: int) -> None:
    """`-v` logs the library at INFO, `-vv` at DEBUG; never the root, httpx or httpcore loggers."""
    if verbosity:
        enable_debug_logging(logging.DEBUG if verbosity > 1 else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see `exits`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    args.json = getattr(args, "json", False)
    _configure_logging(getattr(args, "verbose", 0))
    if args.command == "emulator":
        from ..testing.__main__ import run as run_emulator

        return run_emulator(args)
    if args.command == "demo" and not emulator_available():
        say(f"error: {MISSING_MESSAGE}")
        return exits.USAGE
    args.rerun = "jimeng-async " + shlex.join(arguments)
    state = RunState()
    command: Command = args.run
    try:
        return anyio.run(command, args, state, backend="asyncio")
    except BrokenPipeError:  # stdout closed early (`| head`): not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (stays open until exit)
        return exits.OK
    except KeyboardInterrupt:
        say(_interrupted(state))
        return exits.INTERRUPTED
    except JimengError as exc:
        code = exits.exit_code_for(exc)
        say(f"error: {exc}")
        if isinstance(exc, GenerationTimeoutError):
            say(f"the job goes on: {resume_command(exc.history_id, exc.kind)}")
        if args.json:
            print_json(
                {
                    "error": {
                        "type": type(exc).__name__,
                        "code": exc.code,
                        "message": str(exc),
                        "exit_code": code,
                    }
                }
            )
        return code


if __name__ == "__main__":
    sys.exit(main())
