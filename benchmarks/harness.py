"""What every benchmark script shares: rows, the emulator process, CPU and memory readings.

A benchmark measures the client in this process against a server in another one, so that the
client's CPU, memory and event loop are its own. Figures are medians of repeats in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import statistics
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from jimeng_async.config import REGIONS, Settings

MAX_LINE = 64 * 1024 * 1024


@dataclass(frozen=True)
class Row:
    """One line of the results table; `holds` is None when no target applies (quick runs)."""

    scenario: str
    ours: str
    baseline: str
    ratio: str
    target: str
    holds: bool | None
    note: str = ""

    def cells(self) -> list[str]:
        held = "" if self.holds is None else ("yes" if self.holds else "**no**")
        return [self.scenario, self.ours, self.baseline, self.ratio, self.target, held, self.note]


HEADER = ["scenario", "ours", "baseline", "ratio", "target", "holds", "note"]


def print_rows(rows: Sequence[Row]) -> None:
    for row in rows:
        print(" | ".join(row.cells()), flush=True)


def script_main(prog: str, rows: Callable[[bool], Awaitable[list[Row]]]) -> None:
    """The command line of one scenario script: `--quick` (tiny sizes, no targets), `--json`."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, no targets judged")
    parser.add_argument("--json", action="store_true", help="rows as one JSON line at the end")
    args = parser.parse_args()
    result = anyio.run(rows, args.quick)
    print_rows(result)
    if args.json:
        print(json.dumps([dataclasses.asdict(row) for row in result]), flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """`median (min-max)` of repeats."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds() -> float:
    """User + system CPU time of this process (the client)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def machine() -> str:
    """CPU model, cores, Python and OS, for the results file."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ""
    with contextlib.suppress(OSError):
        load = ", load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores{load}; Python {platform.python_version()} "
        f"({platform.python_implementation()}); {platform.system()} {platform.release()}"
    )


class EmulatorProcess:
    """The emulator in a child process (`benchmarks.emulator_proc`), with its control channel."""

    module = "benchmarks.emulator_proc"

    def __init__(self, *, time_scale: float = 1.0, seed: int | None = 1, **config: Any) -> None:
        self.options = {"time_scale": time_scale, "seed": seed, "config": config}
        self.hello: dict[str, Any] = {}
        self._process: anyio.abc.Process | None = None
        self._lines: BufferedByteReceiveStream | None = None
        self._lock = anyio.Lock()

    async def __aenter__(self) -> EmulatorProcess:
        command = [sys.executable, "-m", self.module, json.dumps(self.options)]
        self._process = await anyio.open_process(command, stderr=None)
        assert self._process.stdout is not None
        self._lines = BufferedByteReceiveStream(self._process.stdout)
        with anyio.fail_after(30):
            self.hello = await self._read()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                assert process.stdin is not None
                await process.stdin.send(b'{"cmd": "quit"}\n')
                with anyio.fail_after(10):
                    await process.wait()
            except (Exception, anyio.get_cancelled_exc_class()):
                process.kill()
                await process.wait()
            await process.aclose()

    async def _read(self) -> dict[str, Any]:
        assert self._lines is not None
        line = await self._lines.receive_until(b"\n", MAX_LINE)
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command and return its answer (RuntimeError if the child refused it)."""
        assert self._process is not None
        assert self._process.stdin is not None
        async with self._lock:
            await self._process.stdin.send(json.dumps({"cmd": cmd, **args}).encode() + b"\n")
            with anyio.fail_after(120):
                answer = await self._read()
        if "error" in answer:
            raise RuntimeError(f"emulator refused {cmd}: {answer['error']}")
        return answer

    @property
    def url(self) -> str:
        return str(self.hello["url"])

    @property
    def time_scale(self) -> float:
        return float(self.hello["time_scale"])

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.hello["config"])

    def settings(self, **overrides: Any) -> Settings:
        """Client settings pointing at this emulator, polling scaled as the emulator is."""
        urls = {"base_url": self.url, "commerce_url": self.url, "imagex_url": self.url}
        values: dict[str, Any] = {"regions": {r: dict(urls) for r in REGIONS}}
        values.update(self.hello["poll"])
        values.update(overrides)
        return Settings(**values)

    async def add_account(self, credits: int) -> str:
        return str((await self.command("add_account", credits=credits))["token"])

    async def stats(self) -> dict[str, Any]:
        return await self.command("stats")


class MinimalServer(EmulatorProcess):
    """`benchmarks.minimal_server` in a child process: one fixed answer to any request."""

    module = "benchmarks.minimal_server"


def settings_for(url: str, **overrides: Any) -> Settings:
    """Client settings with every region's URLs at `url` (a minimal server)."""
    urls = {"base_url": url, "commerce_url": url, "imagex_url": url}
    return Settings(regions={r: dict(urls) for r in REGIONS}, **overrides)
