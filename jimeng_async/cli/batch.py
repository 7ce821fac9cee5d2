"""`jimeng-async batch`: many prompts over one or many accounts (a `JimengPool`), resumable.

Input: one prompt per line, or a JSON object per line with `prompt` and options (`kind`,
`model`, `ratio`, `resolution`, `duration`, `seed`, `negative_prompt`). Blank lines and lines
starting with `#` are skipped; lines keep their numbers, which the report shows.

The batch runs as one `JimengPool.map_jobs` over the lines in input order, with the pool's
journal (JSONL, docs/cli.md) plus one event of the CLI's own ("saved", the files of a job).
A second run of the same command resumes instead of paying twice: a job with a history id is
waited for by it, a job whose submit was under way is sent again with the same submit id to
the same account (the service de-duplicates it), files already saved are not fetched again.
The report (JSONL, one object per input line, in input order) is rewritten at the end of
every run, interrupted or not.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..auth import split_token
from ..errors import InvalidInputError, JimengError
from ..models import Kind
from ..pool import JimengPool, Outcome
from ..pool_journal import Journal
from ..tasks import GenerationTask
from . import exits
from .common import (
    RunState,
    check_image_options,
    check_video_options,
    checked_tokens,
    settings_of,
)
from .display import JobBoard, describe, print_json, say

_OPTION_KEYS = frozenset({"model", "ratio", "resolution", "duration", "seed", "negative_prompt"})
_KINDS: tuple[Kind, ...] = ("image", "video")


@dataclass
class Line:
    """One job of the batch: its input and what the journal knows of it."""

    number: int
    prompt: str
    kind: Kind
    options: dict[str, Any]
    submit_id: str | None = None
    history_id: str | None = None
    status: str = "not submitted"
    files: list[str] = field(default_factory=list)
    error: str | None = None
    exit_code: int | None = None

    def report(self) -> dict[str, Any]:
        return {
            "line": self.number,
            "prompt": self.prompt,
            "kind": self.kind,
            "status": self.status,
            "history_id": self.history_id,
            "submit_id": self.submit_id,
            "files": self.files,
            "error": self.error,
            "exit_code": self.exit_code,
        }


def parse_input(text: str, *, default_kind: Kind, region: str | None = None) -> list[Line]:
    """The batch's lines, each checked locally; InvalidInputError names the line and field."""
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"line {number}"
        if stripped.startswith("{"):
            try:
                entry = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(where, f"is not valid JSON ({exc.msg})") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
                raise InvalidInputError(where, "needs a string field 'prompt'")
            unknown = set(entry) - _OPTION_KEYS - {"prompt", "kind"}
            if unknown:
                raise InvalidInputError(
                    where,
                    f"unknown field(s) {', '.join(sorted(unknown))}",
                    allowed=", ".join(sorted(_OPTION_KEYS | {"prompt", "kind"})),
                )
            kind = entry.get("kind", default_kind)
            if kind not in _KINDS:
                raise InvalidInputError(f"{where}: kind", f"{kind!r}", allowed="image, video")
            options = {k: v for k, v in entry.items() if k in _OPTION_KEYS}
            prompt = entry["prompt"]
        else:
            kind, options, prompt = default_kind, {}, stripped
        check = check_image_options if kind == "image" else check_video_options
        try:
            check(prompt, region=region, **options)
        except InvalidInputError as exc:
            raise InvalidInputError(where, exc.message) from None
        lines.append(Line(number, prompt, kind, options))
    if not lines:
        raise InvalidInputError("input", "holds no prompts")
    return lines


def read_input(path: Path, *, default_kind: Kind, region: str | None) -> list[Line]:
    """The input file's lines, checked (a small file: read at once, before any request)."""
    if not path.is_file():
        raise InvalidInputError("input", f"{str(path)!r} is not a file")
    text = path.read_text(encoding="utf-8")
    return parse_input(text, default_kind=default_kind, region=region)


def _region(tokens: list[str]) -> str | None:
    """The accounts' region when they share one (lines are checked against its models)."""
    regions = {split_token(token)[0] for token in tokens}
    return regions.pop() if len(regions) == 1 else None


def _recall(journal: Journal, lines: list[Line]) -> str | None:
    """Apply the journal of earlier runs to `lines`; returns the batch id it holds, if any."""
    events = journal.events()
    if any(event.get("event") == "batch" and "v" in event for event in events):
        # The first CLI's own format: read as the pool's, its jobs would be submitted again.
        raise InvalidInputError(
            "--journal",
            f"{str(journal.path)!r} is in the earlier batch journal format; finish that batch "
            "with the version that started it, or delete the journal to start over",
        )
    batch_id, entries = journal.read()
    saved = {
        event["index"]: [str(f) for f in event.get("files") or []]
        for event in events
        if event.get("event") == "saved" and isinstance(event.get("index"), int)
    }
    for index, line in enumerate(lines):
        entry = entries.get(index)
        if entry is None:
            continue
        line.submit_id, line.history_id = entry.submit_id, entry.history_id or None
        line.status = {"placed": "submitting", "submitted": "running"}.get(entry.status, "")
        if entry.status == "done":
            files = saved.get(index, [])
            line.status = "succeeded"
            # Files saved by an earlier run are not fetched again, unless one has gone.
            line.files = files if all(Path(f).is_file() for f in files) else []
        elif entry.status == "failed":
            line.status, line.error = "failed", entry.error or None
    return batch_id


def _final(line: Line) -> bool:
    """Succeeded, or failed after its job existed (a submit that failed is tried again)."""
    return line.status == "succeeded" or (line.status == "failed" and line.history_id is not None)


class _Run:
    """One run of the batch: shows each job, saves its files, settles each line."""

    def __init__(
        self,
        lines: list[Line],
        journal: Journal,
        board: JobBoard,
        out: Path,
        state: RunState,
    ) -> None:
        self.lines = lines
        self.journal = journal
        self.board = board
        self.out = out
        self.state = state

    def inputs(self) -> list[dict[str, Any]]:
        return [{"kind": ln.kind, "prompt": ln.prompt, **ln.options} for ln in self.lines]

    async def on_task(self, index: int, task: GenerationTask) -> None:
        """A job is submitted (or resumed): show its progress, then save its files once."""
        line = self.lines[index]
        if not _final(line):  # a finished job, looked up again, keeps its status
            self.state.submitted.append((task.history_id, task.kind))
            line.status = "running"
        line.history_id, line.submit_id = task.history_id, task.submit_id
        key = str(line.number)
        self.board.add(key, f"line {line.number}: {line.kind} {task.history_id}", "submitted")
        try:
            async for step in task.progress():
                self.board.update(key, describe(step))
            result = await task
            if not line.files:
                paths = await result.save(self.out)
                line.files = [str(p) for p in paths]
                await self.journal.write(
                    {"event": "saved", "index": index, "line": line.number, "files": line.files}
                )
        except JimengError as exc:
            self.board.finish(key, f"failed: {exc}", ok=False)
            raise
        self.board.finish(key, f"saved {len(line.files)} file(s)", ok=True)

    def settle(self, outcome: Outcome) -> None:
        """The pool's outcome of a line: its final status in the report."""
        line = self.lines[outcome.index]
        line.submit_id = outcome.submit_id or line.submit_id
        line.history_id = outcome.history_id or line.history_id
        if outcome.error is None:
            line.status, line.error, line.exit_code = "succeeded", None, None
            return
        line.status, line.error = "failed", str(outcome.error)
        line.exit_code = exits.exit_code_for(outcome.error)
        if outcome.history_id is None:  # refused before any job existed: never shown yet
            key = str(line.number)
            self.board.add(key, f"line {line.number}: {line.kind}", "refused")
            self.board.finish(key, f"failed: {outcome.error}", ok=False)


def write_report(path: Path, lines: list[Line]) -> None:
    """One JSON object per input line, in input order."""
    text = "".join(json.dumps(line.report(), ensure_ascii=False) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")


async def batch(args: argparse.Namespace, state: RunState) -> int:
    """Run every line of the input on the pool of --token accounts, at most --concurrency
    jobs in flight."""
    source = Path(args.input)
    tokens = checked_tokens(args)
    lines = read_input(source, default_kind=args.kind, region=_region(tokens))
    report = Path(args.report) if args.report else source.with_suffix(".report.jsonl")
    journal = Journal(Path(args.journal) if args.journal else Path(f"{report}.journal"))
    batch_id = _recall(journal, lines)
    state.rerun = args.rerun
    if batch_id is not None:
        done = sum(1 for line in lines if _final(line))
        say(f"resuming batch {batch_id}: {done} of {len(lines)} done")
    try:
        async with JimengPool(tokens, settings=settings_of(args)) as pool:
            with JobBoard(total=len(lines)) as board:
                run = _Run(lines, journal, board, Path(args.out), state)
                # map_jobs is an async generator: closed here, not left to the collector.
                jobs: AsyncGenerator[Outcome, None] = pool.map_jobs(
                    run.inputs(), concurrency=args.concurrency, journal=journal, on_task=run.on_task
                )
                async with aclosing(jobs) as outcomes:
                    async for outcome in outcomes:
                        run.settle(outcome)
            for account in await pool.health():
                if account.state == "out":
                    say(f"account {account.token} left the rotation: {account.reason}")
    finally:
        write_report(report, lines)
    failed = [line for line in lines if line.status == "failed"]
    succeeded = len(lines) - len(failed)
    say(f"batch done: {succeeded} succeeded, {len(failed)} failed; report in {report}")
    if args.json:
        print_json({"report": str(report), "succeeded": succeeded, "failed": len(failed)})
    else:
        print(report)
    return failed[0].exit_code or exits.GENERATION_FAILED if failed else exits.OK
