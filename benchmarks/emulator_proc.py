"""The emulator as a child process of a benchmark, driven over stdin/stdout.

    python -m benchmarks.emulator_proc '{"time_scale": 0.25, "config": {...}}'

It prints one JSON line (its URL and the client settings it implies), then answers one JSON
command per stdin line with one JSON line: accounts, jobs made directly in its state (so that
10,000 pending jobs need no 10,000 generate calls), its stats and its own CPU time. The client
under test runs in the parent, so CPU and wall figures of the two are never mixed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import anyio

from jimeng_async.config import DEFAULT_REGIONS
from jimeng_async.testing import Emulator, EmulatorConfig
from jimeng_async.testing.drafts_check import JobSpec

IMAGE_MODEL = "high_aes_general_v40l"


def _not_a_disconnect(record: logging.LogRecord) -> bool:
    """Benchmarks stop their baselines mid-call on purpose: a client that hangs up is no error."""
    error = record.exc_info[1] if record.exc_info else None
    return type(error).__name__ != "ClientDisconnect"


def cpu_seconds() -> float:
    """User + system CPU of this process."""
    times = os.times()
    return times.user + times.system


class Control:
    """The commands the parent may send; each returns a JSON-able answer."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.commands: dict[str, Callable[[dict[str, Any]], Any]] = {
            "add_account": self.add_account,
            "make_jobs": self.make_jobs,
            "finish_times": self.finish_times,
            "durations": self.durations,
            "stats": self.stats,
            "reset_stats": self.reset_stats,
            "upload_slot": self.upload_slot,
        }

    def add_account(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"token": self.emu.add_account("cn", credits=int(args.get("credits", 100)))}

    def make_jobs(self, args: dict[str, Any]) -> dict[str, Any]:
        """`n` image jobs for `token`, created at this instant as if just submitted."""
        state = self.emu.state
        account = state.account(args["token"])
        ids = []
        for i in range(int(args["n"])):
            spec = JobSpec("image", "normal", IMAGE_MODEL, f"bench {i}", 2048, 2048, i)
            record, _ = state.submit(account, str(uuid.uuid4()), spec)
            ids.append(record.id)
        return {"ids": ids}

    def finish_times(self, args: dict[str, Any]) -> dict[str, Any]:
        """Unix time at which each record reached its terminal status."""
        records = self.emu.state.records
        return {
            "finish": {i: records[i].created_wall + records[i].phases.finish for i in args["ids"]}
        }

    def durations(self, args: dict[str, Any]) -> dict[str, Any]:
        """Seconds from submit to terminal status of each job of `token`, in submit order."""
        records = self.emu.state.records.values()
        return {"durations": [r.phases.finish for r in records if r.token == args["token"]]}

    def stats(self, args: dict[str, Any]) -> dict[str, Any]:
        s = self.emu.stats
        return {
            "history_calls": len(s.history_batch_sizes),
            "history_ids": sum(s.history_batch_sizes),
            "requests": dict(s.requests),
            "max_in_flight": {f"{k[1]}": v for k, v in s.max_in_flight.items()},
            "served_seconds": dict(s.served_seconds),
            "served": dict(s.served),
            "cpu": cpu_seconds(),
        }

    def reset_stats(self, args: dict[str, Any]) -> dict[str, Any]:
        self.emu.stats.clear()
        return {"cpu": cpu_seconds()}

    def upload_slot(self, args: dict[str, Any]) -> dict[str, Any]:
        """An upload address as ApplyImageUpload would grant it, for the bare-PUT baseline.

        Uses the ImageX emulator's session opener directly (benchmark-only internals), so the
        baseline's bytes go to the very endpoint, with the very checks, that ours go to.
        """
        grant = SimpleNamespace(account=args["token"], profile=DEFAULT_REGIONS["cn"])
        session = self.emu.imagex._open_session(grant, int(args["size"]))  # type: ignore[arg-type]
        return {"url": f"{self.emu.url}/upload/v1/{session.store_uri}", "auth": session.auth}


async def serve(options: dict[str, Any]) -> None:
    config = EmulatorConfig(**options.get("config", {}))
    scale = float(options.get("time_scale", 1.0))
    async with Emulator(time_scale=scale, seed=options.get("seed"), config=config) as emu:
        scaled = emu.settings()
        hello = {
            "url": emu.url,
            "pid": os.getpid(),
            "time_scale": scale,
            "config": json.loads(config.model_dump_json()),
            "poll": {
                name: getattr(scaled, name)
                for name in (
                    "poll_first_delay_image",
                    "poll_first_delay_video",
                    "poll_min_interval",
                    "poll_max_interval",
                )
            },
        }
        print(json.dumps(hello), flush=True)
        control = Control(emu)
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            if not line or not line.strip():
                return
            request = json.loads(line)
            if request.get("cmd") == "quit":
                return
            try:
                answer = control.commands[request["cmd"]](request)
            except Exception as exc:  # report, keep serving: the parent decides
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps(answer), flush=True)


def main() -> None:
    logging.getLogger("jimeng_async.testing").addFilter(_not_a_disconnect)
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    anyio.run(serve, options)


if __name__ == "__main__":
    main()
