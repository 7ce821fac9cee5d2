"""Request headers of one account, built once per endpoint and second instead of per call.

Every header but Device-Time, Sign and the Cookie is fixed for a session and an endpoint, and
those three change only when the clock's second does. Building the full set per call cost
20-45 us of the client's CPU per web call (issue #15); here it is a dict copy while the second
lasts. The values are exactly `auth.build_headers`'s.
"""

from __future__ import annotations

import time

from .auth import build_headers
from .config import RegionProfile, Settings


class HeaderCache:
    """`build_headers` for one session id, memoised per (path, origin, referer) and second."""

    __slots__ = ("_built", "_profile", "_second", "_session_id", "_settings")

    def __init__(self, *, session_id: str, profile: RegionProfile, settings: Settings) -> None:
        self._session_id = session_id
        self._profile = profile
        self._settings = settings
        self._second = -1
        self._built: dict[tuple[str, bool, str], dict[str, str]] = {}

    def headers(self, path: str, *, commerce: bool, referer_path: str) -> dict[str, str]:
        """A fresh dict of the headers for one request now (the caller may add to it)."""
        now = int(time.time())
        if now != self._second:  # Device-Time, Sign and the Cookie move with the second
            self._second, self._built = now, {}
        key = (path, commerce, referer_path)
        built = self._built.get(key)
        if built is None:
            built = build_headers(
                session_id=self._session_id,
                profile=self._profile,
                path=path,
                settings=self._settings,
                commerce=commerce,
                referer_path=referer_path,
                now=now,
            )
            self._built[key] = built
        return dict(built)
