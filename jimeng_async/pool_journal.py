"""The batch journal: one JSON line per event, so an interrupted batch resumes where it stopped.

Lines (appended and flushed as they happen; a torn last line from a crash is ignored):

    {"event": "batch", "batch_id": ..., "kind": "image"}
    {"event": "placed", "index": 3, "submit_id": ..., "account": "***abcd", "moves": 0, ...}
    {"event": "submitted", "index": 3, "submit_id": ..., "history_id": ..., "account": ..., ...}
    {"event": "finished", "index": 3, "outcome": "ok" | "error", "history_id": ..., "error": ...}

"placed" is written before the submit is sent: a rerun that finds it without "submitted" sends
the same submit id to the same account, which the service answers with the same job. Events
of other names (the CLI's "saved") are kept in the file and ignored here.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import anyio

from .errors import InvalidInputError
from .state import JobEntry

logger = logging.getLogger("jimeng_async")


class Journal:
    """An append-only JSONL file of one batch."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = anyio.Lock()

    def events(self) -> list[dict[str, Any]]:
        """Every event recorded so far, in order; a line torn by a crash is skipped (and ended,
        so that new events start on a line of their own)."""
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            self._append("\n")
        events: list[dict[str, Any]] = []
        for number, line in enumerate(text.splitlines(), 1):
            try:
                event = json.loads(line)
            except ValueError:
                logger.warning("journal %s: line %d is not JSON; skipped", self.path, number)
                continue
            if isinstance(event, dict):
                events.append(event)
        return events

    def read(self) -> tuple[str | None, dict[int, JobEntry]]:
        """The batch id and the latest entry of every job recorded so far."""
        batch_id: str | None = None
        entries: dict[int, JobEntry] = {}
        for event in self.events():
            if event.get("event") == "batch":
                batch_id = str(event.get("batch_id") or "") or None
                continue
            index = event.get("index")
            if isinstance(index, int):
                _apply(entries, index, event)
        return batch_id, entries

    async def write(self, event: dict[str, Any]) -> None:
        """Append one event and flush it to the file before returning."""
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
        async with self._lock:
            await anyio.to_thread.run_sync(self._append, line)

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)
            out.flush()


def _apply(entries: dict[int, JobEntry], index: int, event: dict[str, Any]) -> None:
    kind = event.get("event")
    entry = entries.get(index)
    if kind in ("placed", "submitted"):
        entries[index] = JobEntry(
            index=index,
            kind=str(event.get("kind", "image")),
            submit_id=str(event.get("submit_id", "")),
            account=str(event.get("account_key", "")),
            status="submitted" if kind == "submitted" else "placed",
            history_id=str(event.get("history_id") or ""),
            moves=int(event.get("moves") or 0),
        )
    elif kind == "finished" and entry is not None:
        entry.status = "done" if event.get("outcome") == "ok" else "failed"
        entry.history_id = str(event.get("history_id") or entry.history_id)
        entry.error = str(event.get("error") or "")


def check_journal(path: object) -> Journal | None:
    """A `Journal` for a path argument (None for none; a `Journal` as is, so its owner can
    add events of its own), refusing anything else by name."""
    if path is None or isinstance(path, Journal):
        return path
    if not isinstance(path, str | os.PathLike) or not str(path):
        raise InvalidInputError("journal", "must be a file path", allowed="str or os.PathLike")
    return Journal(path)
