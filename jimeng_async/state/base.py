"""The shared-state contract of a `JimengPool` and the records it holds (see `state`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AccountStatus = Literal["active", "out", "exhausted"]
JobStatus = Literal["placed", "submitted", "done", "failed"]
LeaseKind = Literal["query", "upload", "job"]


@dataclass
class AccountView:
    """The shared facts about one account; `credits` is None until first read."""

    status: AccountStatus = "active"
    reason: str = ""
    credits: int | None = None
    credits_at: float = 0.0
    exhausted_day: str = ""
    load: int = 0

    def to_fields(self) -> dict[str, str]:
        """Flat string fields (a Redis hash); `load` is derived, never stored."""
        return {
            "status": self.status,
            "reason": self.reason,
            "credits": "" if self.credits is None else str(self.credits),
            "credits_at": repr(self.credits_at),
            "exhausted_day": self.exhausted_day,
        }

    @classmethod
    def from_fields(cls, raw: dict[str, str], load: int = 0) -> AccountView:
        status = raw.get("status", "active")
        credits = raw.get("credits", "")
        return cls(
            status=status if status in ("active", "out", "exhausted") else "active",  # type: ignore[arg-type]
            reason=raw.get("reason", ""),
            credits=int(credits) if credits.lstrip("-").isdigit() else None,
            credits_at=float(raw.get("credits_at") or 0.0),
            exhausted_day=raw.get("exhausted_day", ""),
            load=load,
        )


@dataclass
class JobEntry:
    """One batch job in the registry: where it went, under which submit id, and how it ended."""

    index: int
    kind: str
    submit_id: str
    account: str
    status: JobStatus = "placed"
    history_id: str = ""
    moves: int = 0
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobEntry:
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**known)


class PoolState(ABC):
    """The operations a pool needs from its shared state; every one is atomic."""

    @abstractmethod
    async def accounts(self, keys: list[str]) -> dict[str, AccountView]:
        """The views of `keys` (a fresh view for an unknown key), each with its current load."""

    @abstractmethod
    async def update_account(self, key: str, **changes: Any) -> None:
        """Set some fields of an account's view (status, reason, credits, ...)."""

    @abstractmethod
    async def reserve_credits(self, key: str, cost: int) -> bool:
        """Take `cost` from the known balance if it covers it (True), or leave it (False)."""

    @abstractmethod
    async def acquire(self, key: str, kind: LeaseKind, lease: str, limit: int, ttl: float) -> bool:
        """Take one of `limit` slots of `kind` for `ttl` seconds unless all are taken."""

    @abstractmethod
    async def release(self, key: str, kind: LeaseKind, lease: str) -> None:
        """Give a slot back (nothing happens if it already expired)."""

    @abstractmethod
    async def renew(self, key: str, kind: LeaseKind, lease: str, ttl: float) -> bool:
        """Extend a lease that is still held; False if it expired meanwhile."""

    @abstractmethod
    async def get_job(self, job_key: str) -> JobEntry | None:
        """The registry entry of a job, if any worker ever placed it."""

    @abstractmethod
    async def put_job(self, job_key: str, entry: JobEntry) -> None:
        """Record (or replace) a job's registry entry."""

    async def forget_job(self, job_key: str) -> None:  # noqa: B027 (optional, no-op by default)
        """Drop a finished job that no other process can ask about (a registry in memory)."""

    @abstractmethod
    async def claim_job(self, job_key: str, owner: str, ttl: float) -> bool:
        """Become the one worker running a job, unless a live claim of another worker holds it."""

    @abstractmethod
    async def renew_claims(self, job_keys: list[str], owner: str, ttl: float) -> None:
        """Extend this worker's claims (a live worker keeps its jobs)."""

    @abstractmethod
    async def drop_claim(self, job_key: str, owner: str) -> None:
        """Give a claim up (the job finished, or this worker stops)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections. Idempotent."""
