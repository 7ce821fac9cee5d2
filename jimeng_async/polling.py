"""One poller per session: every pending job is asked for in batches of `get_history_by_ids`.

Each job has a `Watch`: its latest record and an event that fires when the record changes.
The poller's loop sleeps while nothing is pending; otherwise, at each tick, it sends the due
ids (filling each batch with the soonest-due others) through the session's query limit, so a
hundred jobs cost ten requests a tick, not a hundred. The interval adapts per job: a short
first delay by kind, then the service's forecast when it gives one, else a back-off while the
record does not change. A failed round does not fail the jobs: they keep their own deadlines.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from .config import Settings
from .errors import JimengError
from .models import HistoryRecord, Kind, history_records, parse_record

logger = logging.getLogger("jimeng_async")

Fetch = Callable[[list[str]], Awaitable[Mapping[str, Any]]]


class Watch:
    """The latest known state of one job, shared by every task object waiting on it."""

    def __init__(self, history_id: str, kind: Kind, due: float) -> None:
        self.history_id = history_id
        self.kind = kind
        self.record: HistoryRecord | None = None
        self.error: JimengError | None = None
        self.version = 0
        self.changed = anyio.Event()
        self.next_due = due
        self.unchanged_polls = 0
        self.users = 0

    @property
    def finished(self) -> bool:
        return self.error is not None or (self.record is not None and self.record.status.terminal)

    def publish(self, record: HistoryRecord | None, error: JimengError | None = None) -> bool:
        """Store a new state; wake the waiters if it differs. Returns whether it changed."""
        if error is None and record == self.record:
            return False
        self.record, self.error = record, error
        self.version += 1
        self.wake()
        return True

    def wake(self) -> None:
        """Wake every waiter so it looks at the state again."""
        previous, self.changed = self.changed, anyio.Event()
        previous.set()


class Poller:
    """Polls the pending jobs of one session together; `run()` is the session's background task."""

    def __init__(self, fetch: Fetch, settings: Settings) -> None:
        self._fetch = fetch
        self._settings = settings
        self._watches: dict[str, Watch] = {}
        self._wakeup = anyio.Event()
        self.closed = False
        self.rounds = 0
        self.requests = 0

    @property
    def pending(self) -> int:
        return len(self._watches)

    def watch(self, history_id: str, kind: Kind) -> Watch:
        """Start (or join) watching a job; pair every call with `release`."""
        watch = self._watches.get(history_id)
        if watch is None:
            first = (
                self._settings.poll_first_delay_image
                if kind == "image"
                else self._settings.poll_first_delay_video
            )
            watch = Watch(history_id, kind, anyio.current_time() + first)
            self._watches[history_id] = watch
            self._wakeup.set()
        watch.users += 1
        return watch

    def wake(self, history_id: str) -> None:
        """Wake the waiters of a job (a task was cancelled: its waiters must notice)."""
        watch = self._watches.get(history_id)
        if watch is not None:
            watch.wake()

    def close(self) -> None:
        """The session is closing: wake every waiter so it notices instead of waiting on."""
        self.closed = True
        for watch in list(self._watches.values()):
            watch.wake()

    def release(self, watch: Watch) -> None:
        """A waiter no longer needs this job; it stops costing anything once nobody does."""
        watch.users -= 1
        if watch.users <= 0 and self._watches.get(watch.history_id) is watch:
            del self._watches[watch.history_id]

    async def run(self) -> None:
        """Poll forever (until cancelled with the session)."""
        while True:
            if not self._watches:
                await self._sleep_until(math.inf)
                continue
            now = anyio.current_time()
            soonest = min(w.next_due for w in self._watches.values())
            if soonest > now:
                await self._sleep_until(soonest)
                continue
            await self._round(now)

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep until `deadline`, or until a new job is watched."""
        self._wakeup = anyio.Event()
        with anyio.move_on_after(deadline - anyio.current_time()):
            await self._wakeup.wait()

    def _batches(self, now: float) -> list[list[Watch]]:
        size = self._settings.poll_batch_size
        ordered = sorted(self._watches.values(), key=lambda w: w.next_due)
        due = sum(1 for w in ordered if w.next_due <= now)
        # Fill the last batch with jobs due soonest: they ride along for free.
        count = min(len(ordered), math.ceil(due / size) * size)
        chosen = ordered[:count]
        return [chosen[i : i + size] for i in range(0, len(chosen), size)]

    async def _round(self, now: float) -> None:
        self.rounds += 1
        async with anyio.create_task_group() as group:
            for batch in self._batches(now):
                group.start_soon(self._poll_batch, batch)

    async def _poll_batch(self, batch: list[Watch]) -> None:
        ids = [w.history_id for w in batch]
        self.requests += 1
        try:
            records = history_records(await self._fetch(ids))
        except Exception as exc:  # the poller outlives any one bad round: jobs keep waiting
            logger.warning("polling %d job(s) failed: %s; they keep waiting", len(ids), exc)
            for watch in batch:
                watch.next_due = anyio.current_time() + self._settings.poll_max_interval
            return
        for watch in batch:
            self._update(watch, records.get(watch.history_id))

    def _update(self, watch: Watch, raw: Any) -> None:
        record: HistoryRecord | None = None
        error: JimengError | None = None
        if raw is not None:  # absent right after a submit is normal: keep waiting
            try:
                record = parse_record(watch.history_id, raw, watch.kind)
            except JimengError as exc:
                error = exc
        changed = watch.publish(record, error) if (raw is not None) else False
        watch.unchanged_polls = 0 if changed else watch.unchanged_polls + 1
        watch.next_due = anyio.current_time() + self._interval(watch)
        if watch.finished and self._watches.get(watch.history_id) is watch:
            del self._watches[watch.history_id]

    def _interval(self, watch: Watch) -> float:
        """Seconds until this job is asked for again."""
        low, high = self._settings.poll_min_interval, self._settings.poll_max_interval
        queue = watch.record.queue if watch.record else None
        if queue and (queue.forecast_queue_seconds or queue.forecast_generate_seconds):
            forecast = (queue.forecast_queue_seconds or 0) + (queue.forecast_generate_seconds or 0)
            return min(high, max(low, forecast / 4))
        base = low if watch.kind == "image" else min(high, 3 * low)
        return min(high, base * 1.5 ** min(watch.unchanged_polls, 10))
