"""TTL cache with single flight."""

from __future__ import annotations

import anyio
import pytest

from jimeng_async.cache import TTLCache

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_share_one_load() -> None:
    cache: TTLCache[int] = TTLCache(10)
    calls = 0
    gate = anyio.Event()

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    results: list[int] = []

    async def get() -> None:
        results.append(await cache.get("k", load))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(get)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert calls == 1
    assert results == [7] * 20


async def test_ttl_expiry_and_refresh() -> None:
    clock = Clock()
    cache: TTLCache[int] = TTLCache(30, clock=clock)
    values = iter(range(100))

    async def load() -> int:
        return next(values)

    hits: list[int] = []
    assert await cache.get("k", load, on_hit=lambda: hits.append(1)) == 0
    clock.now = 29.9
    assert await cache.get("k", load, on_hit=lambda: hits.append(1)) == 0
    assert len(hits) == 1
    clock.now = 30.0
    assert await cache.get("k", load) == 1
    assert await cache.get("k", load, refresh=True) == 2
    cache.invalidate("k")
    assert await cache.get("k", load) == 3


async def test_failures_are_shared_but_not_cached() -> None:
    cache: TTLCache[int] = TTLCache(10)
    attempts = 0

    async def load() -> int:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("boom")
        return 5

    with pytest.raises(RuntimeError, match="boom"):
        await cache.get("k", load)
    assert await cache.get("k", load) == 5
    assert attempts == 2


async def test_cancelled_loader_hands_over_to_a_waiter() -> None:
    cache: TTLCache[int] = TTLCache(10)
    started = anyio.Event()
    loads = 0

    async def slow() -> int:
        nonlocal loads
        loads += 1
        started.set()
        await anyio.sleep(10)
        return 1

    async def quick() -> int:
        nonlocal loads
        loads += 1
        return 2

    got: list[int] = []
    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await cache.get("k", slow)

    async def follower() -> None:
        got.append(await cache.get("k", quick))

    async with anyio.create_task_group() as group:
        group.start_soon(leader)
        await started.wait()
        group.start_soon(follower)
        await anyio.wait_all_tasks_blocked()
        leader_scope.cancel()
    assert got == [2]
    assert loads == 2
