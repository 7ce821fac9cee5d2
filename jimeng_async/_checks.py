"""Type and value checks of plain arguments, raising `InvalidInputError` before any I/O.

Small and shared: `task.wait(timeout=)`, `result.save(directory)`, `receive_credits(time_zone=)`
and the session's constructor use them, so a wrong type never escapes as TypeError.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from .errors import InvalidInputError

_TIME_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")


def check_timeout(timeout: Any, *, field: str = "timeout") -> float | None:
    """None, or a finite number of seconds >= 0."""
    allowed = "None or a finite number of seconds >= 0"
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidInputError(field, f"is a {type(timeout).__name__}", allowed=allowed)
    if not math.isfinite(timeout) or timeout < 0:
        raise InvalidInputError(field, f"is {timeout!r}", allowed=allowed)
    return float(timeout)


def check_directory(directory: Any, *, field: str = "directory") -> Path:
    """A directory path given as str or os.PathLike (it may not exist yet)."""
    allowed = "a directory path (str or os.PathLike)"
    if not isinstance(directory, str | os.PathLike) or isinstance(directory, bytes):
        raise InvalidInputError(field, f"is a {type(directory).__name__}", allowed=allowed)
    try:
        path = Path(directory)
    except TypeError:
        raise InvalidInputError(field, "is not a text path", allowed=allowed) from None
    if not str(directory) or "\x00" in str(path):
        raise InvalidInputError(field, "is empty or holds a NUL character", allowed=allowed)
    return path


def check_time_zone(time_zone: Any, *, field: str = "time_zone") -> str | None:
    """None, or an IANA time zone name such as "Asia/Shanghai"."""
    allowed = 'None or an IANA time zone name such as "Asia/Shanghai"'
    if time_zone is None:
        return None
    if not isinstance(time_zone, str) or not _TIME_ZONE.fullmatch(time_zone):
        shown = type(time_zone).__name__ if not isinstance(time_zone, str) else "not a zone name"
        raise InvalidInputError(field, f"is {shown}", allowed=allowed)
    return time_zone


def check_instance(
    value: Any, expected: type | tuple[type, ...], *, field: str, allowed: str
) -> Any:
    """`value` if it is an instance of `expected`, else InvalidInputError naming `field`."""
    if value is not None and not isinstance(value, expected):
        raise InvalidInputError(field, f"is a {type(value).__name__}", allowed=allowed)
    return value
