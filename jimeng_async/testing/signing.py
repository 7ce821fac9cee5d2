"""The gateway's own reading of tokens, cookies, app versions and Sign (PROTOCOL.md §1, §2).

Written for the emulator alone: it must never share this code with the client, so that a
mistake in the client's Sign or Cookie is refused instead of agreeing with itself.
"""

from __future__ import annotations

import hashlib
import re

from .tables import REGIONS, RegionName

_VERSION = re.compile(r"^\d{1,4}(?:\.\d{1,4}){0,3}$")


def token_region(token: str) -> tuple[RegionName, str]:
    """(region, session id) of a refresh token: the prefix (any case) names the region."""
    stripped = token.strip()
    lowered = stripped.lower()
    for name, region in REGIONS.items():
        if region.token_prefix and lowered.startswith(region.token_prefix):
            return name, stripped[len(region.token_prefix) :]
    return "cn", stripped


def read_cookie(header: str) -> dict[str, str]:
    """The name=value pairs of a Cookie header (the first of a repeated name wins)."""
    jar: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in jar:
            jar[name] = value
    return jar


def expected_sign(path: str, platform: str, app_version: str, device_time: str) -> str:
    """md5 of "9e2c|<last 7 of path>|<Pf>|<Appvr>|<Device-Time>||11ac", lowercase hex."""
    raw = f"9e2c|{path[-7:]}|{platform}|{app_version}|{device_time}||11ac"
    return hashlib.md5(raw.encode()).hexdigest()


def parse_version(text: str) -> tuple[int, ...] | None:
    """A dotted numeric version as a tuple (compared numerically), or None if not one."""
    if not _VERSION.fullmatch(text):
        return None
    parts = [int(p) for p in text.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)
