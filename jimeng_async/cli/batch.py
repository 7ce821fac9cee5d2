"""`jimeng-async batch`: many prompts, bounded concurrency, a journal that makes it resumable.

Input: one prompt per line, or a JSON object per line with `prompt` and options (`kind`,
`model`, `ratio`, `resolution`, `duration`, `seed`, `negative_prompt`). Blank lines and lines
starting with `#` are skipped; lines keep their numbers, which identify the jobs.

The journal (JSONL, appended and flushed before and after each submit) makes a second run of
the same command resume instead of paying twice: a line with a history id is resumed by it; a
line whose submit was under way is sent again with the same `submit_id` (derived from the
batch id and the line number), which the service de-duplicates; a finished line is left alone.
The report (JSONL, one object per input line, in input order) is rewritten at the end of every
run, interrupted or not.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from ..errors import InvalidInputError, JimengError
from ..models import Kind
from ..session import JimengSession
from . import exits
from .common import (
    RunState,
    check_image_options,
    check_video_options,
    open_session,
    token_region,
)
from .common import wait_and_save as _wait_and_save
from .display import JobBoard, print_json, say

JOURNAL_VERSION = 1
_OPTION_KEYS = frozenset({"model", "ratio", "resolution", "duration", "seed", "negative_prompt"})
_KINDS: tuple[Kind, ...] = ("image", "video")


@dataclass
class Line:
    """One job of the batch: its input and what the journal knows of it."""

    number: int
    prompt: str
    kind: Kind
    options: dict[str, Any]
    submit_id: str = ""
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


class Journal:
    """The append-only JSONL record of a batch run; read back to resume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batch_id = ""

    def load(self, lines: list[Line]) -> int:
        """Apply earlier runs' events to `lines`; returns how many events were read."""
        by_number = {line.number: line for line in lines}
        events = 0
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):
                self._append("\n")  # end a line torn by a crash, so new events start clean
            for raw in text.splitlines():
                try:
                    event = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line cut short when the process died: its job is redone
                events += 1
                self._apply(event, by_number)
        if not self.batch_id:
            self.batch_id = str(uuid.uuid4())
            self.write({"event": "batch", "v": JOURNAL_VERSION, "batch_id": self.batch_id})
        for line in lines:
            if not line.submit_id:
                line.submit_id = str(uuid.uuid5(uuid.UUID(self.batch_id), str(line.number)))
        return events

    def _apply(self, event: dict[str, Any], by_number: dict[int, Line]) -> None:
        if event.get("event") == "batch":
            self.batch_id = str(event.get("batch_id", ""))
            return
        line = by_number.get(event.get("line", -1))
        if line is None:
            return
        kind = event.get("event")
        if kind == "submitting":
            line.submit_id, line.status = str(event["submit_id"]), "submitting"
        elif kind == "submitted":
            line.history_id, line.status = str(event["history_id"]), "running"
        elif kind == "finished":
            line.status = str(event["status"])
            line.files = list(event.get("files", []))
            line.error, line.exit_code = event.get("error"), event.get("exit_code")

    def write(self, event: dict[str, Any]) -> None:
        """Append one event and push it to disk before the step it records goes on."""
        self._append(json.dumps(event, ensure_ascii=False) + "\n")

    def _append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def write_report(path: Path, lines: list[Line]) -> None:
    """One JSON object per input line, in input order."""
    text = "".join(json.dumps(line.report(), ensure_ascii=False) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")


async def _run_line(
    line: Line,
    session: JimengSession,
    journal: Journal,
    board: JobBoard,
    args: argparse.Namespace,
    state: RunState,
) -> None:
    key = str(line.number)
    board.add(key, f"line {line.number}")
    try:
        if line.history_id is not None:
            task = session.resume(line.history_id, kind=line.kind, submit_id=line.submit_id)
        else:
            journal.write({"event": "submitting", "line": line.number, "submit_id": line.submit_id})
            submit = session.submit_image if line.kind == "image" else session.submit_video
            task = await submit(line.prompt, submit_id=line.submit_id, **line.options)
            line.history_id = task.history_id
            journal.write(
                {
                    "event": "submitted",
                    "line": line.number,
                    "submit_id": line.submit_id,
                    "history_id": task.history_id,
                    "kind": line.kind,
                }
            )
        line.status = "running"
        state.submitted.append((task.history_id, task.kind))
        paths = await _wait_and_save(task, board, key, args.out)
    except JimengError as exc:
        line.status, line.error, line.exit_code = "failed", str(exc), exits.exit_code_for(exc)
        if line.history_id is None:
            board.finish(key, f"failed: {exc}", ok=False)
    else:
        line.status, line.files = "succeeded", [str(p) for p in paths]
    journal.write(
        {
            "event": "finished",
            "line": line.number,
            "history_id": line.history_id,
            "status": line.status,
            "files": line.files,
            "error": line.error,
            "exit_code": line.exit_code,
        }
    )


def _final(line: Line) -> bool:
    """Succeeded, or failed after its job existed; a submit that failed is tried again."""
    return line.status == "succeeded" or (line.status == "failed" and line.history_id is not None)


async def batch(args: argparse.Namespace, state: RunState) -> int:
    """Run every line of the input with at most --concurrency jobs in flight."""
    source = Path(args.input)
    lines = read_input(source, default_kind=args.kind, region=token_region(args))
    report = Path(args.report) if args.report else source.with_suffix(".report.jsonl")
    journal = Journal(Path(args.journal) if args.journal else Path(f"{report}.journal"))
    resumed = journal.load(lines)
    state.rerun = args.rerun
    todo = [line for line in lines if not _final(line)]
    if resumed:
        say(f"resuming batch {journal.batch_id}: {len(lines) - len(todo)} of {len(lines)} done")
    limiter = anyio.CapacityLimiter(args.concurrency)

    async def one(line: Line) -> None:
        async with limiter:
            await _run_line(line, session, journal, board, args, state)

    try:
        async with open_session(args) as session:
            with JobBoard(total=len(todo)) as board:
                async with anyio.create_task_group() as group:
                    for line in todo:
                        group.start_soon(one, line)
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
