"""What the command shows: results on stdout (text or `--json`), progress and news on stderr.

On a terminal with the `cli` extra (rich), waits show a live table, one line per job with its
status, queue position and elapsed time; elsewhere (pipes, CI, no rich) each change is one line.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TextIO

from ..tasks import Progress


def print_json(value: Any, stream: TextIO | None = None) -> None:
    """One JSON document on stdout (or `stream`), non-ASCII kept."""
    target = stream or sys.stdout
    print(json.dumps(value, ensure_ascii=False, default=str), file=target, flush=True)


def say(text: str) -> None:
    """A human line on stderr: news, hints, errors; never mixed into stdout's results."""
    print(text, file=sys.stderr, flush=True)


def describe(progress: Progress) -> str:
    """`queued (position 3 of 9)`, `generating`, ...: a status as people read it."""
    name = progress.status.name.lower().replace("_", " ")
    queue = progress.queue
    if queue is not None and queue.position:
        where = f"position {queue.position}" + (f" of {queue.length}" if queue.length else "")
        return f"queued ({where})"
    if name == "processing":
        return "generating"
    return name


@dataclass
class _Job:
    label: str
    started: float = field(default_factory=time.monotonic)
    state: str = "submitting"
    finished: float | None = None

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


class JobBoard:
    """Progress of one job or a batch on stderr, from submit to the last file saved."""

    def __init__(self, *, total: int | None = None, live: bool | None = None) -> None:
        self._jobs: dict[str, _Job] = {}
        self._total = total
        self._done = 0
        self._failed = 0
        self._live_wanted = sys.stderr.isatty() if live is None else live
        self._live: Any = None

    def __enter__(self) -> JobBoard:
        if self._live_wanted:
            try:
                from rich.console import Console
                from rich.live import Live
            except ImportError:  # the `cli` extra is not installed: plain lines
                return self
            self._live = Live(
                get_renderable=self._table,
                console=Console(stderr=True),
                refresh_per_second=4,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def add(self, key: str, label: str, state: str = "submitting") -> None:
        """A job appears (before its submit, so the wait for the submit shows too)."""
        self._jobs[key] = _Job(label, state=state)
        self._line(key)

    def rename(self, key: str, label: str) -> None:
        """The job got its history id: show that from now on."""
        self._jobs[key].label = label

    def update(self, key: str, state: str) -> None:
        """A new status of a running job."""
        job = self._jobs[key]
        if job.state != state:
            job.state = state
            self._line(key)

    def finish(self, key: str, state: str, *, ok: bool) -> None:
        """The job is over: it succeeded (files saved) or failed (`state` says why)."""
        job = self._jobs[key]
        job.state, job.finished = state, time.monotonic()
        self._done += 1
        self._failed += 0 if ok else 1
        self._line(key)

    def _overall(self) -> str:
        running = sum(1 for job in self._jobs.values() if job.finished is None)
        total = self._total if self._total is not None else len(self._jobs)
        return f"{self._done}/{total} done, {self._failed} failed, {running} running"

    def _line(self, key: str) -> None:
        if self._live is not None:
            return  # the live table redraws itself
        job = self._jobs[key]
        prefix = f"[{self._overall()}] " if self._total is not None else ""
        say(f"{prefix}{job.label}: {job.state} ({job.elapsed():.0f}s)")

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, show_header=False, pad_edge=False)
        if self._total is not None:
            table.title = self._overall()
        for job in self._jobs.values():
            table.add_row(job.label, job.state, f"{job.elapsed():.0f}s")
        return table
