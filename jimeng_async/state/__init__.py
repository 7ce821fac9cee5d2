"""Where a `JimengPool` keeps what its workers must agree on: one view, one or many processes.

- per-account credits and states (in rotation, out with a reason, out of credits for the day);
- per-account in-flight leases, so the limits of 3 uploads and 5 queries hold across processes
  and a dead worker's slots come back when its leases expire;
- a job registry (batch job key -> submit id, owner account, history id, status) so that any
  worker can resume any job without submitting it again.

`MemoryState` (the default) serves one process; `RedisState` (extra `redis`) many.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .base import AccountStatus, AccountView, JobEntry, JobStatus, LeaseKind, PoolState
from .memory import MemoryState

if TYPE_CHECKING:
    from .redis import RedisState

REDIS_URL_ENV = "JIMENG_REDIS_URL"


def state_from_environment(url: str | None = None) -> PoolState:
    """`RedisState(url)` when a URL is given or `JIMENG_REDIS_URL` is set, else `MemoryState()`."""
    source = "url" if url else REDIS_URL_ENV
    url = url or os.environ.get(REDIS_URL_ENV) or None
    if url is None:
        return MemoryState()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        scheme = url.split(":", 1)[0]
        raise ConfigurationError(
            f"{source} must be a redis://, rediss:// or unix:// URL, got scheme {scheme!r}"
        )
    from .redis import RedisState

    return RedisState(url)


def __getattr__(name: str) -> Any:
    if name == "RedisState":  # imported on use: redis-py is an optional extra
        from .redis import RedisState

        return RedisState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REDIS_URL_ENV",
    "AccountStatus",
    "AccountView",
    "JobEntry",
    "JobStatus",
    "LeaseKind",
    "MemoryState",
    "PoolState",
    "RedisState",
    "state_from_environment",
]
