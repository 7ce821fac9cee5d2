"""An account's query slots: a semaphore whose urgent callers are served first.

The service allows 5 queries in flight per account. History polls are urgent: one answers for
up to ten waiting jobs, and a poll stuck behind a flood of submits finds queued jobs already
running, without the forecast that a queued job's answer carries (issue #15). Within each
class the order is first come, first served.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

import anyio
import anyio.lowlevel


class QuerySlots:
    """`limit` slots; `async with slots` takes one, `async with slots.urgent()` jumps the queue."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._normal: deque[anyio.Event] = deque()
        self._urgent: deque[anyio.Event] = deque()

    @property
    def waiting(self) -> int:
        return len(self._normal) + len(self._urgent)

    async def acquire(self, *, urgent: bool = False) -> None:
        """Take a slot, waiting behind the urgent callers (and, unless `urgent`, the others)."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self._free > 0 and not self._urgent and (urgent or not self._normal):
            self._free -= 1
            return
        queue = self._urgent if urgent else self._normal
        turn = anyio.Event()
        queue.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():  # the slot was handed over just as this wait was cancelled
                self.release()
            else:
                queue.remove(turn)
            raise

    def release(self) -> None:
        """Hand the slot to the next urgent caller, else the next other caller, else free it."""
        queue = self._urgent or self._normal
        if queue:
            queue.popleft().set()
        else:
            self._free += 1

    def urgent(self) -> _Urgent:
        return _Urgent(self)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class _Urgent:
    __slots__ = ("_slots",)

    def __init__(self, slots: QuerySlots) -> None:
        self._slots = slots

    async def __aenter__(self) -> None:
        await self._slots.acquire(urgent=True)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._slots.release()
