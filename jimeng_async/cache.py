"""A small TTL cache with single flight: concurrent callers of one key share one load.

Failures are never cached: the callers that shared the failed load get its error, and the next
caller loads again. If the loading caller is cancelled, one of the waiters takes over.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")


class _Flight(Generic[T]):
    """One load under way, and how it ended.

    The Event is made by the first caller that waits: most loads (a `refresh=True` call with
    nobody else asking) have no waiter, and an Event per load cost CPU on every web call
    (issue #15). A waiter can only find the flight while it is registered, and the loader
    unregisters it and sets any Event in one step, so no waiter can miss the end.
    """

    __slots__ = ("abandoned", "done", "error", "value")

    def __init__(self) -> None:
        self.done: anyio.Event | None = None
        self.value: T | None = None
        self.error: BaseException | None = None
        self.abandoned = False

    async def wait(self) -> None:
        """Wait until the load has ended."""
        if self.done is None:
            self.done = anyio.Event()
        await self.done.wait()


class TTLCache(Generic[T]):
    """Values that stay fresh for `ttl` seconds, loaded at most once at a time per key."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._flights: dict[Hashable, _Flight[T]] = {}

    def peek(self, key: Hashable) -> T | None:
        """The fresh cached value, or None."""
        entry = self._values.get(key)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def invalidate(self, key: Hashable | None = None) -> None:
        """Forget one key, or everything."""
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    async def get(
        self,
        key: Hashable,
        load: Callable[[], Awaitable[T]],
        *,
        refresh: bool = False,
        on_hit: Callable[[], None] | None = None,
    ) -> T:
        """The cached value of `key`, or the result of `load()` shared with concurrent callers.

        `refresh=True` skips the cached value and any load already under way, and stores the
        fresh result.
        """
        while True:
            if not refresh:
                cached = self.peek(key)
                if cached is not None:
                    if on_hit is not None:
                        on_hit()
                    return cached
                flight = self._flights.get(key)
                if flight is not None:
                    await flight.wait()
                    if flight.abandoned:
                        continue  # the loader was cancelled: try again, maybe as the loader
                    if flight.error is not None:
                        raise flight.error
                    if flight.value is not None:
                        return flight.value
                    continue  # a load that gave nothing to share: load again
            return await self._load(key, load)

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        flight: _Flight[T] = _Flight()
        self._flights[key] = flight
        try:
            value = await load()
        except Exception as exc:
            flight.error = exc
            raise
        except BaseException:
            flight.abandoned = True
            raise
        else:
            flight.value = value
            self._values[key] = (self._clock() + self.ttl, value)
            return value
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
            if flight.done is not None:
                flight.done.set()
