"""The one boundary where answers are decoded: bounded JSON and tolerant typed field readers.

Every body the service (web API or ImageX) sends goes through `load_json`, which bounds its size
and nesting depth before `json.loads` sees it (the depth is scanned without recursion, so a
hostile answer cannot raise RecursionError), and turns anything that is not JSON into a
`MalformedResponseError`. Fields are then read with the `opt_*` readers, which return None for a
value of the wrong type instead of raising TypeError, KeyError or OverflowError.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import MalformedResponseError

#: The largest JSON body the client decodes (history answers of big batches stay far below).
MAX_JSON_BYTES = 8 * 1024 * 1024
#: The deepest nesting the client decodes; the service's answers nest fewer than 12 levels.
MAX_JSON_DEPTH = 64
#: The largest integer a field may hold (sizes, counts, credits: far below 2**53).
MAX_FIELD_INT = 2**53

# Unrolled ("normal* (special normal*)*"): twice as fast as an alternation per character.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")
_OPENERS = frozenset(b"[{")
_DIGITS = re.compile(r"-?[0-9]{1,19}")


def json_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of `raw` (strings skipped), counting no further than `limit + 1`.

    Strings and everything but the brackets are dropped; then each pass removes the empty
    pairs, the leaves of the nesting tree, so the passes it takes are its height. Each pass is
    one regex substitution in C: a history answer of ten records takes 120 us, where a Python
    loop over its brackets took 310 (issue #15). Nothing recursive: it cannot overflow the
    stack. Unbalanced brackets count as openers on top (the decoder refuses them anyway).
    """
    shape = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    while shape and depth <= limit:
        shape, removed = _EMPTY_PAIR.subn(b"", shape)
        if not removed:  # unbalanced: what is left nests on top of what was removed
            return depth + _open_depth(shape, limit - depth)
        depth += 1
    return depth


def _open_depth(brackets: bytes, limit: int) -> int:
    """The deepest run of openers in unbalanced `brackets`, counting no further than `limit +
    1` (a Python loop, but only over what a valid answer never leaves)."""
    depth = deepest = 0
    for byte in brackets:
        depth = depth + 1 if byte in _OPENERS else max(0, depth - 1)
        deepest = max(deepest, depth)
        if deepest > limit:
            break
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: One decoder for every body: `json.loads(raw, parse_constant=...)` builds a new JSONDecoder
#: (and its scanner) per call, a measurable share of the client's CPU per web call (issue #15).
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def load_json(
    raw: bytes,
    *,
    context: Mapping[str, Any] | None = None,
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
) -> Any:
    """Decode a JSON body within the size and depth bounds, or raise MalformedResponseError."""
    if len(raw) > max_bytes:
        raise MalformedResponseError(
            f"the response is larger than {max_bytes} bytes", context=dict(context or {})
        )
    # Fewer brackets than the limit cannot nest deeper: most answers skip the scan.
    if raw.count(b"[") + raw.count(b"{") > max_depth and json_depth(raw, max_depth) > max_depth:
        raise MalformedResponseError(
            f"the response nests deeper than {max_depth} levels", context=dict(context or {})
        )
    try:
        # What json.loads does with bytes: the encoding (UTF-8, -16 or -32) from the first bytes.
        return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise MalformedResponseError(
            "the response is not JSON", context=dict(context or {})
        ) from None


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def first_obj(value: Any) -> dict[str, Any]:
    """The first element of a JSON array if it is an object, else an empty one."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def opt_str(value: Any) -> str | None:
    """A non-empty string, or a number given where a string id is expected; else None.

    None, objects and arrays are never turned into text (a null Uri is not the string "None").
    """
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def opt_float(value: Any) -> float | None:
    """A finite number (not a bool), or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str) and 0 < len(value) <= 32:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def opt_int(value: Any, *, low: int = -MAX_FIELD_INT, high: int = MAX_FIELD_INT) -> int | None:
    """A whole number within [low, high] (an int, an integral float or ASCII digits); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        number = int(value)
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if low <= number <= high else None


def opt_bool(value: Any) -> bool | None:
    """A JSON boolean, or 0 / 1; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None
