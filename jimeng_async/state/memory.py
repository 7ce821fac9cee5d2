"""`MemoryState`: the pool's shared state inside one process (the default)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from .base import AccountView, JobEntry, LeaseKind, PoolState


class MemoryState(PoolState):
    """Dictionaries on the event loop: every method is atomic because none awaits inside."""

    def __init__(self) -> None:
        self._accounts: dict[str, AccountView] = {}
        self._leases: dict[tuple[str, LeaseKind], dict[str, float]] = {}
        self._jobs: dict[str, JobEntry] = {}
        self._claims: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"MemoryState(accounts={len(self._accounts)}, jobs={len(self._jobs)})"

    def _live(self, key: str, kind: LeaseKind) -> dict[str, float]:
        now = time.monotonic()
        leases = self._leases.setdefault((key, kind), {})
        for lease in [lease for lease, expiry in leases.items() if expiry <= now]:
            del leases[lease]
        return leases

    async def accounts(self, keys: list[str]) -> dict[str, AccountView]:
        return {
            key: replace(self._accounts.get(key) or AccountView(), load=len(self._live(key, "job")))
            for key in keys
        }

    async def update_account(self, key: str, **changes: Any) -> None:
        self._accounts[key] = replace(self._accounts.get(key) or AccountView(), **changes)

    async def reserve_credits(self, key: str, cost: int) -> bool:
        view = self._accounts.get(key)
        if view is None or view.credits is None or view.credits < cost:
            return False
        view.credits -= cost
        return True

    async def acquire(self, key: str, kind: LeaseKind, lease: str, limit: int, ttl: float) -> bool:
        leases = self._live(key, kind)
        if len(leases) >= limit:
            return False
        leases[lease] = time.monotonic() + ttl
        return True

    async def release(self, key: str, kind: LeaseKind, lease: str) -> None:
        self._live(key, kind).pop(lease, None)

    async def renew(self, key: str, kind: LeaseKind, lease: str, ttl: float) -> bool:
        leases = self._live(key, kind)
        if lease not in leases:
            return False
        leases[lease] = time.monotonic() + ttl
        return True

    async def get_job(self, job_key: str) -> JobEntry | None:
        entry = self._jobs.get(job_key)
        return None if entry is None else replace(entry)

    async def put_job(self, job_key: str, entry: JobEntry) -> None:
        self._jobs[job_key] = replace(entry)

    async def forget_job(self, job_key: str) -> None:
        # Finished jobs leave memory, so a batch of any length stays flat; a journal keeps them.
        self._jobs.pop(job_key, None)

    async def claim_job(self, job_key: str, owner: str, ttl: float) -> bool:
        held = self._claims.get(job_key)
        if held is not None and held[0] != owner and held[1] > time.monotonic():
            return False
        self._claims[job_key] = (owner, time.monotonic() + ttl)
        return True

    async def renew_claims(self, job_keys: list[str], owner: str, ttl: float) -> None:
        until = time.monotonic() + ttl
        for job_key in job_keys:
            if self._claims.get(job_key, ("", 0.0))[0] == owner:
                self._claims[job_key] = (owner, until)

    async def drop_claim(self, job_key: str, owner: str) -> None:
        if self._claims.get(job_key, ("", 0.0))[0] == owner:
            del self._claims[job_key]

    async def aclose(self) -> None:
        return
