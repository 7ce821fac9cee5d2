"""An account's query slots: a semaphore whose urgent callers are served first.

The service allows 5 queries in flight per account. History polls are urgent: one answers for
up to ten waiting jobs, and a poll stuck behind a flood of submits finds queued jobs already
running, without the forecast that a queued job's answer carries (issue #15); while ordinary
callers wait (`ordinary_waiting`), the poller sends only the polls that cannot wait. The other
callers are served in the order their jobs started (`job_order`): a blend's upload token,
content check and generate keep the place in line its submit took, instead of each queueing
behind every submit that started after it (in a batch of 1,000, the 50 blends were the last
jobs submitted, and the makespan waited for them). Calls outside a job, and calls of the same
job, come first come, first served.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

import anyio
import anyio.lowlevel

_tickets = itertools.count()
#: The place in line of the job whose queries the current task makes, if it makes a job's.
_job_ticket: ContextVar[int | None] = ContextVar("jimeng_async_job_ticket", default=None)


@contextmanager
def job_order() -> Iterator[None]:
    """The queries made inside (and in tasks started inside) keep this job's place in line.

    Nested, the outermost job's place holds.
    """
    if _job_ticket.get() is not None:
        yield
        return
    token = _job_ticket.set(next(_tickets))
    try:
        yield
    finally:
        _job_ticket.reset(token)


class _Turn:
    """A caller waiting for a slot, ordered by its job's ticket, then by arrival. A cancelled
    one stays in its queue, not `live`, and is skipped when it comes up."""

    __slots__ = ("event", "key", "live", "urgent")

    def __init__(self, ticket: int, arrival: int, urgent: bool) -> None:
        self.key = (ticket, arrival)
        self.event = anyio.Event()
        self.live = True
        self.urgent = urgent

    def __lt__(self, other: _Turn) -> bool:
        return self.key < other.key


class QuerySlots:
    """`limit` slots; `async with slots` takes one, `async with slots.urgent()` jumps the queue."""

    def __init__(self, limit: int) -> None:
        self._free = limit
        self._urgent: deque[_Turn] = deque()
        self._normal: list[_Turn] = []  # a heap: earliest job first
        self._live = {True: 0, False: 0}  # live turns in each queue, by urgency

    @property
    def waiting(self) -> int:
        return self._live[True] + self._live[False]

    @property
    def ordinary_waiting(self) -> int:
        """Callers waiting for a slot that are not urgent (submits and the like)."""
        return self._live[False]

    async def acquire(self, *, urgent: bool = False) -> None:
        """Take a slot, waiting behind the urgent callers (and, unless `urgent`, the callers
        of jobs that started earlier)."""
        await anyio.lowlevel.checkpoint_if_cancelled()
        if self._free > 0 and not self._live[True] and (urgent or not self._live[False]):
            self._free -= 1
            return
        ticket = _job_ticket.get()
        arrival = next(_tickets)
        turn = _Turn(arrival if ticket is None else ticket, arrival, urgent)
        if urgent:
            self._urgent.append(turn)
        else:
            heapq.heappush(self._normal, turn)
        self._live[urgent] += 1
        try:
            await turn.event.wait()
        except BaseException:
            if turn.event.is_set():  # the slot was handed over just as this wait was cancelled
                self.release()
            else:
                turn.live = False
                self._live[urgent] -= 1
            raise

    def release(self) -> None:
        """Hand the slot to the next urgent caller, else the earliest job's caller, else free
        it."""
        while self._urgent:
            if self._hand_over(self._urgent.popleft()):
                return
        while self._normal:
            if self._hand_over(heapq.heappop(self._normal)):
                return
        self._free += 1

    def _hand_over(self, turn: _Turn) -> bool:
        if not turn.live:
            return False
        self._live[turn.urgent] -= 1
        turn.event.set()
        return True

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
