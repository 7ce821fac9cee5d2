"""Request headers of one account, built once per endpoint and second instead of per call.

Every header but Device-Time, Sign and the Cookie is fixed for a session and an endpoint, and
those three change only when the clock's second does. Building the full set per call cost
20-45 us of the client's CPU per web call (issue #15); here it is a dict copy while the second
lasts, or, for a request that adds nothing of its own, one ready `httpx.Headers` shared by the
second's requests. The values are exactly `auth.build_headers`'s.
"""

from __future__ import annotations

import time

import httpx

from .auth import build_headers
from .config import RegionProfile, Settings


class HeaderCache:
    """`build_headers` for one session id, memoised per (path, origin, referer) and second."""

    __slots__ = ("_built", "_profile", "_second", "_session_id", "_settings", "_wire")

    def __init__(self, *, session_id: str, profile: RegionProfile, settings: Settings) -> None:
        self._session_id = session_id
        self._profile = profile
        self._settings = settings
        self._second = -1
        self._built: dict[tuple[str, bool, str], dict[str, str]] = {}
        self._wire: dict[tuple[str, bool, str, bool], httpx.Headers] = {}

    def headers(self, path: str, *, commerce: bool, referer_path: str) -> dict[str, str]:
        """A fresh dict of the headers for one request now (the caller may add to it)."""
        return dict(self._current(path, commerce, referer_path))

    def wire(
        self, path: str, *, commerce: bool, referer_path: str, json_body: bool
    ) -> httpx.Headers:
        """The same headers, plus `Content-Type: application/json` for a JSON body, as one
        `httpx.Headers` shared by the requests of this second: not to be changed.

        httpx copies the headers it is given into each request and never changes them, so a
        ready `httpx.Headers` spares it encoding every name and value per call (~9 us).
        """
        headers = self._current(path, commerce, referer_path)  # first: it may start a second
        key = (path, commerce, referer_path, json_body)
        ready = self._wire.get(key)
        if ready is None:
            if json_body:
                headers = {**headers, "Content-Type": "application/json"}
            ready = self._wire[key] = httpx.Headers(headers)
        return ready

    def _current(self, path: str, commerce: bool, referer_path: str) -> dict[str, str]:
        """The memoised headers of this second (shared: never handed out to be changed)."""
        now = int(time.time())
        if now != self._second:  # Device-Time, Sign and the Cookie move with the second
            self._second, self._built, self._wire = now, {}, {}
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
        return built
