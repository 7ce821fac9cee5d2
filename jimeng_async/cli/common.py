"""What every command shares: the token check, the session, local input checks, waiting."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import drafts
from ..auth import split_token
from ..config import DEFAULT_REGIONS, Settings
from ..errors import InvalidInputError, JimengError
from ..inputs import ImageRequest, VideoRequest
from ..models import Kind, history_records
from ..pool import TOKENS_ENV
from ..results import Result
from ..session import JimengSession
from ..tasks import GenerationTask
from ..transport import HISTORY
from .display import JobBoard, describe

TOKEN_PREFIXES = tuple(p.token_prefix for p in DEFAULT_REGIONS.values() if p.token_prefix)
_PREFIX = re.compile(r"^([A-Za-z]{2,3})-")


@dataclass
class RunState:
    """What the command has set going, so that Ctrl-C can say what runs on and how to resume."""

    submitted: list[tuple[str, Kind | None]] = field(default_factory=list)
    #: For commands that resume as a whole (batch): the command line to run again.
    rerun: str | None = None


def checked_token(args: argparse.Namespace) -> str:
    """--token or $JIMENG_TOKEN, refused when missing or when its region prefix is unknown."""
    token: str | None = args.token or os.environ.get("JIMENG_TOKEN")
    if not token or not token.strip():
        raise InvalidInputError(
            "--token", "is missing: give --token or set JIMENG_TOKEN (the sessionid cookie)"
        )
    return _known_prefix(token.strip(), "--token")


def checked_tokens(args: argparse.Namespace) -> list[str]:
    """The tokens of a pool: every --token, else $JIMENG_TOKENS (comma separated), else
    $JIMENG_TOKEN; each refused by name when its region prefix is unknown, or given twice."""
    given: list[str] = [t for t in (args.token or []) if t.strip()]
    source = "--token"
    if not given:
        given = [t for t in os.environ.get(TOKENS_ENV, "").split(",") if t.strip()]
        source = TOKENS_ENV
    if not given and os.environ.get("JIMENG_TOKEN", "").strip():
        given, source = [os.environ["JIMENG_TOKEN"]], "JIMENG_TOKEN"
    if not given:
        raise InvalidInputError(
            "--token",
            f"is missing: give --token (once per account) or set {TOKENS_ENV} "
            "(comma separated) or JIMENG_TOKEN",
        )
    tokens = [_known_prefix(t.strip(), source) for t in given]
    if len(set(tokens)) != len(tokens):
        raise InvalidInputError(source, "gives a token twice (one per account)")
    return tokens


def _known_prefix(token: str, source: str) -> str:
    match = _PREFIX.match(token)
    if match and f"{match.group(1).lower()}-" not in TOKEN_PREFIXES:
        allowed = ", ".join(TOKEN_PREFIXES) + " or none (cn)"
        raise InvalidInputError(
            source, f"has an unknown region prefix {match.group(1)!r}-", allowed=allowed
        )
    return token


def settings_of(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with --timeout as the generation limit when given."""
    timeout = getattr(args, "timeout", None)
    return Settings(generation_timeout=timeout) if timeout is not None else Settings()


def open_session(args: argparse.Namespace) -> JimengSession:
    """A session for the checked token, settings from the environment and the options."""
    return JimengSession(checked_token(args), settings=settings_of(args))


def token_region(args: argparse.Namespace) -> str | None:
    """The region of the checked token, or None when there is no token yet."""
    try:
        return split_token(checked_token(args))[0]
    except InvalidInputError:
        return None


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave: None means "the model's own default", so it is left out."""
    return {name: value for name, value in options.items() if value is not None}


def check_image_options(prompt: str, *, region: str | None = None, **options: Any) -> None:
    """Refuse bad image options before any request (InvalidInputError with the allowed values);
    with `region`, a model that region does not offer too."""
    ImageRequest.build(prompt=prompt, region=region, **options)


def check_video_options(prompt: str, *, region: str | None = None, **options: Any) -> None:
    """Refuse bad video options (durations and resolutions per model) before any request."""
    VideoRequest.build(prompt=prompt, region=region, **options)


def check_files(*paths: str | None, field_name: str) -> None:
    """Input images given as paths must exist (URLs are fetched later)."""
    for path in paths:
        if path and "://" not in path and not Path(path).is_file():
            raise InvalidInputError(field_name, f"{path!r} is not a file")


async def infer_kind(session: JimengSession, history_id: str) -> Kind:
    """Whether a job is an image or a video job, from its record (`generate_type`, items)."""
    body: dict[str, Any] = {"history_ids": [history_id], "image_info": drafts.history_image_info()}
    records = history_records(await session.transport.call(HISTORY, body))
    raw = records.get(history_id)
    if not isinstance(raw, dict):
        raise InvalidInputError("history_id", f"{history_id!r} is not a job of this account")
    if raw.get("generate_type") == "gen_video":
        return "video"
    items = raw.get("item_list")
    if isinstance(items, list) and any(isinstance(i, dict) and i.get("video") for i in items):
        return "video"
    return "image"


async def wait_and_save(
    task: GenerationTask[Result], board: JobBoard, key: str, out: str | Path
) -> list[Path]:
    """Show the job's progress until it ends, then save its files; the board says the outcome."""
    board.rename(key, f"{task.kind} {task.history_id}")
    try:
        async for step in task.progress():
            board.update(key, describe(step))
        result = await task
        paths = await result.save(out)
    except JimengError as exc:
        board.finish(key, f"failed: {exc}", ok=False)
        raise
    board.finish(key, f"saved {len(paths)} file(s)", ok=True)
    return paths


def resume_command(history_id: str, kind: str | None) -> str:
    """The command that picks a job up again (the record tells the kind when it is unknown)."""
    return f"jimeng-async resume {history_id}" + (f" --kind {kind}" if kind else "")
