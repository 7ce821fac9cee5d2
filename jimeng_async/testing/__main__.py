"""Run the emulator as a process: `python -m jimeng_async.testing --account cn:TOKEN:500`.

Prints its URL, the accounts and the environment variables that point a client at it, then
serves until Ctrl-C (or SIGTERM). Without the `emulator` extra it prints the install line and
exits 2. Every `EmulatorConfig` field can be set with `--set FIELD=VALUE` and every
`FaultConfig` field with `--fault FIELD=VALUE` (VALUE is JSON, or else a plain string).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ..config import REGIONS
from .extra import MISSING_MESSAGE, emulator_available

DEFAULT_CREDITS = 100
EXIT_USAGE = 2


@dataclass(frozen=True)
class AccountSpec:
    region: str
    token: str | None
    credits: int


def parse_account(text: str) -> AccountSpec:
    """`REGION[:TOKEN[:CREDITS]]`; an empty or missing TOKEN means a random one."""
    parts = text.split(":")
    if len(parts) > 3 or parts[0] not in REGIONS:
        raise argparse.ArgumentTypeError(
            f"expected REGION[:TOKEN[:CREDITS]] with REGION in {', '.join(REGIONS)}"
        )
    token = parts[1] if len(parts) > 1 and parts[1] else None
    try:
        credits = int(parts[2]) if len(parts) > 2 and parts[2] else DEFAULT_CREDITS
    except ValueError:
        raise argparse.ArgumentTypeError("CREDITS must be an integer") from None
    if credits < 0:
        raise argparse.ArgumentTypeError("CREDITS must be >= 0")
    return AccountSpec(parts[0], token, credits)


def parse_assignment(text: str) -> tuple[str, Any]:
    """`FIELD=VALUE` with VALUE read as JSON when it parses (numbers, lists), else as text."""
    field, sep, raw = text.partition("=")
    if not sep or not field:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return field.strip(), value


def add_emulator_options(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by this module and `jimeng-async emulator`."""
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8790, help="port (0 picks a free one)")
    parser.add_argument(
        "--account",
        action="append",
        type=parse_account,
        default=[],
        metavar="REGION[:TOKEN[:CREDITS]]",
        help=(
            "create an account (repeatable); without TOKEN a random one is printed; "
            f"without any, one cn account with {DEFAULT_CREDITS} credits"
        ),
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=DEFAULT_TIME_SCALE,
        help=(
            "multiply every service delay by this (default %(default)g: an image in about "
            "a second, a video in seconds; 1 is the real service's pace)"
        ),
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    parser.add_argument(
        "--set",
        dest="config",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="FIELD=VALUE",
        help="an EmulatorConfig field, e.g. --set image_cost=2 (repeatable)",
    )
    parser.add_argument(
        "--fault",
        dest="faults",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="FIELD=VALUE",
        help="a FaultConfig field, e.g. --fault error_rate=0.1 (repeatable)",
    )


#: Quick enough for a demo or a manual try, slow enough to watch a job's statuses go by.
DEFAULT_TIME_SCALE = 0.05


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jimeng_async.testing",
        description="Run the local Jimeng / Dreamina emulator until Ctrl-C.",
    )
    add_emulator_options(parser)
    return parser


def _shown(token: str, given: bool) -> str:
    """A token the user chose is shown by its tail only; a generated one in full (it is new)."""
    return f"***{token[-4:]}" if given else token


async def _wait_for_stop() -> None:
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
    except NotImplementedError:  # no signal receivers on this platform: Ctrl-C interrupts
        await anyio.sleep_forever()


async def serve(args: argparse.Namespace) -> None:
    """Start the emulator from parsed options, print how to use it, serve until a signal."""
    from .config import EmulatorConfig
    from .faults import FaultConfig
    from .server import Emulator

    config = EmulatorConfig(**dict(args.config))
    faults = FaultConfig(**dict(args.faults)) if args.faults else None
    async with Emulator(
        time_scale=args.time_scale,
        seed=args.seed,
        host=args.host,
        port=args.port,
        config=config,
        faults=faults,
    ) as emulator:
        print(f"Jimeng emulator running at {emulator.url} (time scale {args.time_scale:g})")
        specs = args.account or [AccountSpec("cn", None, DEFAULT_CREDITS)]
        tokens = []
        for spec in specs:
            token = emulator.add_account(spec.region, credits=spec.credits, token=spec.token)
            tokens.append((token, spec.token is not None))
            print(
                f"account {spec.region} {_shown(token, spec.token is not None)} "
                f"credits={spec.credits}"
            )
        print("Point a client at it with:")
        for name, value in emulator.environment().items():
            print(f"export {name}={value}")
        first, given = tokens[0]
        if given:  # the caller knows it; it is not repeated in full
            print(f"export JIMENG_TOKEN=...  # the token you gave, {_shown(first, given)}")
        else:
            print(f"export JIMENG_TOKEN={first}")
        print("Press Ctrl-C to stop.", flush=True)
        await _wait_for_stop()
    print("Emulator stopped.", flush=True)


def run(args: argparse.Namespace) -> int:
    """Serve with parsed options; 2 if the extra is missing or an option is refused."""
    if not emulator_available():
        print(f"error: {MISSING_MESSAGE}", file=sys.stderr)
        return EXIT_USAGE
    try:
        anyio.run(serve, args)
    except KeyboardInterrupt:
        pass
    except ValueError as error:  # pydantic's ValidationError included: a refused option
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
