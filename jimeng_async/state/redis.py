"""`RedisState`: the pool's shared state in Redis, for many worker processes and machines.

Keys live under one namespace (`jimeng:` by default):

- `<ns>acct:<key>`         hash: status, reason, credits, credits_at, exhausted_day
- `<ns>lease:<key>:<kind>` sorted set of lease ids scored by their expiry (server time, ms),
                           so a dead worker's slots come back by themselves
- `<ns>job:<job key>`      JSON of the job's registry entry (kept a week after its last change)
- `<ns>claim:<job key>`    the id of the worker running the job, with a time to live

Every check-and-change runs as one Lua script, so workers never race between reading and
writing. The clock is the Redis server's (`TIME`): workers on other machines need not agree.
Needs the `redis` extra (redis-py's asyncio client).
"""

from __future__ import annotations

import json
from typing import Any, cast

from redis.asyncio import Redis

from .base import AccountView, JobEntry, LeaseKind, PoolState

_NOW_MS = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

_ACQUIRE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""
)

_RENEW = (
    _NOW_MS
    + """
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""
)

# KEYS: account hash, job lease set, for each account in turn.
_ACCOUNTS = (
    _NOW_MS
    + """
local out = {}
for i = 1, #KEYS, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i + 1], '-inf', now)
  out[#out + 1] = redis.call('HGETALL', KEYS[i])
  out[#out + 1] = redis.call('ZCARD', KEYS[i + 1])
end
return out
"""
)

_RESERVE = """
local credits = redis.call('HGET', KEYS[1], 'credits')
if not credits or credits == '' or tonumber(credits) < tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'credits', tostring(tonumber(credits) - tonumber(ARGV[1])))
return 1
"""

_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return 1
"""

_RENEW_CLAIMS = """
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2]))
  end
end
return 1
"""

_DROP_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


#: Seconds a job's registry entry is kept after its last change (a week: time to resume).
JOB_TTL = 7 * 24 * 3600


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisState(PoolState):
    """Pool state in Redis at `url` (e.g. redis://127.0.0.1:6379/0); many processes share it."""

    def __init__(self, url: str, *, namespace: str = "jimeng:") -> None:
        self._url = url
        self._ns = namespace
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._closed = False

    def __repr__(self) -> str:
        # The URL may carry a password: show only where the data lives.
        host = self._url.split("@")[-1]
        return f"RedisState({host!r}, namespace={self._ns!r})"

    async def _eval(self, script: str, keys: list[str], args: list[Any]) -> Any:
        return await cast(Any, self._redis).eval(script, len(keys), *keys, *args)

    def _account(self, key: str) -> str:
        return f"{self._ns}acct:{key}"

    def _lease(self, key: str, kind: LeaseKind) -> str:
        return f"{self._ns}lease:{key}:{kind}"

    async def accounts(self, keys: list[str]) -> dict[str, AccountView]:
        flat: list[str] = []
        for key in keys:
            flat += [self._account(key), self._lease(key, "job")]
        answer = await self._eval(_ACCOUNTS, flat, [])
        views: dict[str, AccountView] = {}
        for number, key in enumerate(keys):
            pairs, load = answer[2 * number], answer[2 * number + 1]
            raw = dict(zip(pairs[::2], pairs[1::2], strict=True))
            views[key] = AccountView.from_fields(raw, load=int(load))
        return views

    async def update_account(self, key: str, **changes: Any) -> None:
        fields = AccountView(**changes).to_fields()
        await cast(Any, self._redis).hset(
            self._account(key), mapping={name: fields[name] for name in changes}
        )

    async def reserve_credits(self, key: str, cost: int) -> bool:
        return bool(await self._eval(_RESERVE, [self._account(key)], [cost]))

    async def acquire(self, key: str, kind: LeaseKind, lease: str, limit: int, ttl: float) -> bool:
        return bool(await self._eval(_ACQUIRE, [self._lease(key, kind)], [lease, limit, _ms(ttl)]))

    async def release(self, key: str, kind: LeaseKind, lease: str) -> None:
        await cast(Any, self._redis).zrem(self._lease(key, kind), lease)

    async def renew(self, key: str, kind: LeaseKind, lease: str, ttl: float) -> bool:
        return bool(await self._eval(_RENEW, [self._lease(key, kind)], [lease, _ms(ttl)]))

    async def get_job(self, job_key: str) -> JobEntry | None:
        raw = await cast(Any, self._redis).get(f"{self._ns}job:{job_key}")
        return None if raw is None else JobEntry.from_dict(json.loads(raw))

    async def put_job(self, job_key: str, entry: JobEntry) -> None:
        await cast(Any, self._redis).set(
            f"{self._ns}job:{job_key}", json.dumps(entry.to_dict()), ex=JOB_TTL
        )

    async def claim_job(self, job_key: str, owner: str, ttl: float) -> bool:
        key = f"{self._ns}claim:{job_key}"
        return bool(await self._eval(_CLAIM, [key], [owner, _ms(ttl)]))

    async def renew_claims(self, job_keys: list[str], owner: str, ttl: float) -> None:
        if job_keys:
            keys = [f"{self._ns}claim:{job_key}" for job_key in job_keys]
            await self._eval(_RENEW_CLAIMS, keys, [owner, _ms(ttl)])

    async def drop_claim(self, job_key: str, owner: str) -> None:
        await self._eval(_DROP_CLAIM, [f"{self._ns}claim:{job_key}"], [owner])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._redis.aclose()
