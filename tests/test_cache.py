"""TTL cache with single flight."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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


async def test_concurrent_callers_share_one_failure() -> None:
    cache: TTLCache[int] = TTLCache(10)
    gate = anyio.Event()
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await gate.wait()
        raise RuntimeError("shared boom")

    errors: list[str] = []

    async def get() -> None:
        try:
            await cache.get("k", load)
        except RuntimeError as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(get)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert loads == 1
    assert errors == ["shared boom"] * 5
    assert cache.peek("k") is None


async def test_keys_are_cached_apart_and_invalidated_alone_or_all() -> None:
    clock = Clock()
    cache: TTLCache[str] = TTLCache(5, clock=clock)
    loads: list[str] = []

    def loader(value: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            loads.append(value)
            return value

        return load

    assert await cache.get("a", loader("A")) == "A"
    assert await cache.get("b", loader("B")) == "B"
    assert (cache.peek("a"), cache.peek("b"), cache.peek("c")) == ("A", "B", None)
    cache.invalidate("a")
    assert (cache.peek("a"), cache.peek("b")) == (None, "B")
    cache.invalidate()
    assert cache.peek("b") is None
    assert await cache.get("b", loader("B2")) == "B2"
    assert loads == ["A", "B", "B2"]
    clock.now = 4.999
    assert cache.peek("b") == "B2"
    clock.now = 5.0
    assert cache.peek("b") is None


async def test_refresh_loads_again_beside_a_load_under_way() -> None:
    cache: TTLCache[int] = TTLCache(10)
    first_gate, second_gate = anyio.Event(), anyio.Event()
    loads: list[str] = []

    async def first() -> int:
        loads.append("first")
        await first_gate.wait()
        raise RuntimeError("first failed")

    async def second() -> int:
        loads.append("second")
        await second_gate.wait()
        return 2

    async def third() -> int:
        loads.append("third")
        return 3

    got: dict[str, int] = {}

    async def run_first() -> None:
        with pytest.raises(RuntimeError):
            await cache.get("k", first)

    async def run(name: str, load: Callable[[], Awaitable[int]], refresh: bool) -> None:
        got[name] = await cache.get("k", load, refresh=refresh)

    async with anyio.create_task_group() as group:
        group.start_soon(run_first)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(run, "refreshed", second, True)  # does not wait for the first
        await anyio.wait_all_tasks_blocked()
        assert loads == ["first", "second"]
        first_gate.set()  # the first load fails; the second flight must stay joinable
        await anyio.wait_all_tasks_blocked()
        group.start_soon(run, "joined", third, False)
        await anyio.wait_all_tasks_blocked()
        second_gate.set()
    assert got == {"refreshed": 2, "joined": 2}
    assert loads == ["first", "second"]


async def test_a_load_that_gives_nothing_is_loaded_again_by_its_waiters() -> None:
    cache: TTLCache[int | None] = TTLCache(10)
    gate = anyio.Event()
    loads = 0

    async def load() -> int | None:
        nonlocal loads
        loads += 1
        if loads == 1:
            await gate.wait()
            return None
        return 9

    got: list[int | None] = []

    async def get() -> None:
        got.append(await cache.get("k", load))

    async with anyio.create_task_group() as group:
        group.start_soon(get)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(get)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert sorted(got, key=str) == [9, None]
    assert loads == 2


async def test_with_no_ttl_callers_still_share_the_load_under_way() -> None:
    cache: TTLCache[int] = TTLCache(0)
    gate = anyio.Event()
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await gate.wait()
        return 4

    got: list[int] = []

    async def get() -> None:
        got.append(await cache.get("k", load))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(get)
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert (got, loads) == ([4, 4, 4], 1)
    assert cache.peek("k") is None  # nothing stays
    assert await cache.get("k", load) == 4
    assert loads == 2


def test_invalidating_an_unknown_key_is_harmless() -> None:
    cache: TTLCache[int] = TTLCache(1)
    cache.invalidate("never loaded")
    cache.invalidate()
    assert cache.peek("never loaded") is None
