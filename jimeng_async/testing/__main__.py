"""Run the emulator as a process: `python -m jimeng_async.testing --account cn:TOKEN:500`.

Prints its URL, the accounts and the environment variables that point a client at it, then
serves until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from ..auth import mask_token
from ..config import REGIONS
from .server import Emulator

DEFAULT_CREDITS = 100


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jimeng_async.testing",
        description="Run the local Jimeng / Dreamina emulator until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8790, help="port (0 picks a free one)")
    parser.add_argument(
        "--account",
        action="append",
        type=parse_account,
        default=[],
        metavar="REGION[:TOKEN[:CREDITS]]",
        help="create an account (repeatable); without TOKEN a random one is printed",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply every service delay by this (e.g. 0.01)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    return parser


async def _wait_for_stop() -> None:
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
    except NotImplementedError:  # no signal receivers on this platform: Ctrl-C interrupts
        await anyio.sleep_forever()


async def serve(args: argparse.Namespace) -> None:
    async with Emulator(
        time_scale=args.time_scale, seed=args.seed, host=args.host, port=args.port
    ) as emulator:
        print(f"Jimeng emulator running at {emulator.url} (time scale {args.time_scale:g})")
        for spec in args.account:
            token = emulator.add_account(spec.region, credits=spec.credits, token=spec.token)
            shown = token if spec.token is None else mask_token(token)
            print(f"account {spec.region} {shown} credits={spec.credits}")
        print("Point a client at it with:")
        for name, value in emulator.environment().items():
            print(f"export {name}={value}")
        print("Press Ctrl-C to stop.", flush=True)
        await _wait_for_stop()
    print("Emulator stopped.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        anyio.run(serve, args)
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
