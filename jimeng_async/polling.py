"""Batched `get_history_by_ids` for every pending job of a session, driven by its waiters.

There is no background task. The tasks that await jobs take turns: one waiter at a time is the
*driver* and sends the rounds for every pending job (up to `poll_batch_size` ids a call); every
other waiter sleeps on its job's one Event. When the driver's own job changes, or its task is
cancelled or fails, the role goes to the waiter that has waited longest (a FIFO, one woken at a
time). A job nobody awaits is not polled.

A job is first asked for on the next round after `poll_first_delay_*` (zero for images): while
it is queued the answer forecasts when it will be done, and the job is asked for again only
then (unless someone follows its `progress()`, who wants the steps between). Without a
forecast (or once it has passed) a back-off grows while the status stays the same. Due times
sit on a grid of `poll_min_interval` (a forecast's on a 3/4 one, so that the result is seen
sooner than one poll a `poll_min_interval` would see it) so that one round catches many jobs,
and the last batch of a round is filled with the soonest-due others.
While other calls wait for a query slot (a batch still submitting), only the jobs not yet
answered are asked for at once: their first answer carries the forecast, which a job loses
once it leaves the queue. A job already answered rides along in their batches or is put off
to a later round, for at most `poll_max_interval` past its due time, so that submits do not
queue behind polls whose answers can wait (issue #15).
A round is its own retry loop: a transient failure (network, 5xx, 429, busy) puts the batch's
jobs back with a back-off; an expired or banned token fails every waiter at once; a refused
request (ret 2002, HTTP 400) fails that batch's jobs; anything unexpected fails that batch's
jobs with `PollingError`.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import anyio

from .config import Settings
from .errors import (
    APIError,
    AuthError,
    JimengError,
    JobNotFoundError,
    PermissionDeniedError,
    PollingError,
    RateLimitError,
    UnknownStatusError,
)
from .models import (
    HistoryRecord,
    Kind,
    QueueInfo,
    TaskStatus,
    history_records,
    parse_record,
)

logger = logging.getLogger("jimeng_async")

Fetch = Callable[[list[str]], Awaitable[Mapping[str, Any]]]

_VIDEO_TYPES = frozenset({"gen_video", "video"})
_IMAGE_TYPES = frozenset({"generate", "normal", "blend"})
_FORECAST_CAP = 6  # trust a forecast for at most this many poll_max_interval
#: A forecast's due time sits on a grid this fraction of poll_min_interval: its result is seen
#: within 3/4 of the interval (one poll per interval sees it within the whole interval), at
#: the cost of a few more rounds than the plain grid.
_FORECAST_GRID = 0.75
#: A first poll sits on a grid this fraction of poll_min_interval, to find the job still
#: queued: only a queued job's answer carries the forecast.
_FIRST_GRID = 0.25
#: Ask a little after the forecast end, so that the answer is the finished record.
_FORECAST_MARGIN = 0.05


def record_kind(raw: Mapping[str, Any]) -> Kind | None:
    """Whether a raw record is a video or an image job, if it says (generate_type or items)."""
    generate_type = raw.get("generate_type")
    if generate_type in _VIDEO_TYPES:
        return "video"
    items = raw.get("item_list")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("video"), dict):
            return "video"
        if isinstance(item, dict) and isinstance(item.get("image"), dict):
            return "image"
    return "image" if generate_type in _IMAGE_TYPES else None


def _bug(what: str, exc: Exception) -> PollingError:
    error = PollingError(f"{what} failed unexpectedly: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


class Watch:
    """The latest known state of one pending job, shared by every waiter on it.

    `stamp` moves on every change a waiter must look at (a new record, an error, a cancel, a
    deadline); `changed` is the one Event its waiters sleep on, made only while one sleeps.
    (An Event shared by the jobs due in one round would save its ~0.7 KB, but a round of
    thousands of jobs in many batches would then wake all of them once per batch.)
    A pending job keeps only its `status`, `queue` and item count (`items`): the parsed
    `record` is kept once it is terminal, so that a pending job stays small (issue #15).
    """

    __slots__ = (
        "absent_since",
        "changed",
        "deadline",
        "error",
        "expected",
        "failures",
        "followers",
        "history_id",
        "items",
        "kind",
        "listener",
        "more_listeners",
        "next_due",
        "put_off_since",
        "queue",
        "queued",
        "record",
        "stamp",
        "status",
        "unchanged",
        "unknown_since",
        "users",
        "waiting",
    )

    def __init__(self, history_id: str, kind: Kind | None, due: float, now: float) -> None:
        self.history_id = history_id
        self.kind = kind
        self.status: TaskStatus | None = None  # None until a record has been seen
        self.queue: QueueInfo | None = None
        self.items = 0
        self.record: HistoryRecord | None = None  # the terminal record
        self.error: JimengError | None = None
        self.stamp = 0
        self.changed: anyio.Event | None = None
        self.next_due = due
        self.put_off_since: float | None = None  # due since then, put off while slots are busy
        self.deadline = math.inf
        self.expected = 0.0  # when the last forecast said the job would be done
        self.absent_since: float | None = now
        self.unchanged = 0
        self.unknown_since: float | None = None
        self.failures = 0
        self.users = 0
        self.followers = 0  # progress() iterators: they want the steps, not only the end
        self.waiting = 0
        self.queued = False
        # The groups of jobs awaited together that hold this job: almost always none or one,
        # so one slot for it rather than a list per job (issue #15), and a list for the rest.
        self.listener: WatchGroup | None = None
        self.more_listeners: list[WatchGroup] | None = None

    @property
    def finished(self) -> bool:
        return self.error is not None or self.record is not None

    def publish(self, record: HistoryRecord) -> bool:
        """Store a new record and wake the waiters if it differs; returns whether it changed."""
        items = len(record.items)
        if record.status.terminal:
            self.record = record
        elif (record.status, record.queue, items) == (self.status, self.queue, self.items):
            return False
        self.status, self.queue, self.items = record.status, record.queue, items
        self.poke()
        return True

    def fail(self, error: JimengError) -> None:
        """End the job's watch with `error` and wake its waiters."""
        self.error = error
        self.poke()

    def poke(self) -> None:
        """Make every waiter look at the job again (its task may be cancelled or late)."""
        self.stamp += 1
        self.wake()

    def wake(self) -> None:
        """Wake the waiters without a change (the driver role is offered to them)."""
        previous, self.changed = self.changed, None
        if previous is not None:
            previous.set()
        if self.listener is not None:
            self.listener.notice(self)
            for group in self.more_listeners or ():
                group.notice(self)

    def listen(self, group: WatchGroup) -> None:
        if self.listener is None:
            self.listener = group
        else:
            self.more_listeners = [*(self.more_listeners or ()), group]

    def unlisten(self, group: WatchGroup) -> None:
        others = [
            g for g in (self.listener, *(self.more_listeners or ())) if g not in (None, group)
        ]
        self.listener = others[0] if others else None
        self.more_listeners = others[1:] or None


class WatchGroup:
    """Many jobs of one poller awaited by one waiter, which wakes when any of them moves.

    Ten thousand jobs awaited one task each cost ten thousand tasks (some 30 objects each for
    the garbage collector to walk); as a group they cost one (issue #15). For the driver role
    the group stands in the FIFO as one of its jobs.
    """

    __slots__ = ("_event", "_members", "driving", "noticed", "poller")

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.noticed: list[Watch] = []  # woken since the group last looked
        self.driving = False
        self._event: anyio.Event | None = None
        self._members: dict[Watch, int] = {}  # how many of the group's waits are on each job

    def join(self, watch: Watch, deadline: float) -> None:
        """Wait on `watch` (from `Poller.watch`) until `deadline`, as one member of the group."""
        self.poller.enter(watch, deadline)
        count = self._members.get(watch, 0)
        if count == 0:
            watch.listen(self)
        self._members[watch] = count + 1

    def part(self, watch: Watch) -> None:
        """One member wait on `watch` ends (pair of `join`)."""
        count = self._members.pop(watch, 0) - 1
        if count > 0:
            self._members[watch] = count
        else:
            watch.unlisten(self)
        self.poller.leave(watch)

    def notice(self, watch: Watch) -> None:
        self.noticed.append(watch)
        if self._event is not None:
            self._event.set()
            self._event = None
        if self.driving:
            self.poller.nudge_driver()

    def take(self) -> list[Watch]:
        """The jobs woken since the last look (each once)."""
        noticed, self.noticed = self.noticed, []
        return list(dict.fromkeys(noticed))

    def quiet(self) -> bool:
        return not self.noticed

    def stand_in(self) -> Watch | None:
        """The member that holds the group's place in the driver FIFO."""
        return next(iter(self._members), None)

    def sleep(self) -> Awaitable[None]:
        if self._event is None:
            self._event = anyio.Event()
        return self._event.wait()


class Poller:
    """The pending jobs of one session and the turn-taking of their waiters."""

    def __init__(
        self, fetch: Fetch, settings: Settings, *, contended: Callable[[], bool] = lambda: False
    ) -> None:
        """`contended` tells whether other calls wait for a query slot just now."""
        self._fetch = fetch
        self._settings = settings
        self._contended = contended
        self._watches: dict[str, Watch] = {}
        self._fifo: deque[Watch] = deque()
        self._driver: Watch | None = None
        self._offered: Watch | None = None
        self._wakeup = anyio.Event()
        self._sleep_until = math.inf

        self._scope: anyio.CancelScope | None = None
        self.closed = False
        self.rounds = 0
        self.requests = 0
        self.hand_offs = 0

    @property
    def pending(self) -> int:
        return len(self._watches)

    @property
    def driving(self) -> str | None:
        """The history id whose waiter drives the rounds now, if any."""
        return self._driver.history_id if self._driver is not None else None

    # -- joining and leaving -----------------------------------------------------------------

    def watch(self, history_id: str, kind: Kind | None) -> Watch:
        """Start (or join) watching a job; pair every call with `release`."""
        watch = self._watches.get(history_id)
        if watch is None:
            s = self._settings
            first = s.poll_first_delay_video if kind == "video" else s.poll_first_delay_image
            now = anyio.current_time()
            watch = Watch(history_id, kind, self._align(now + first, _FIRST_GRID), now)
            self._watches[history_id] = watch
            self._nudge(watch.next_due)
        watch.users += 1
        return watch

    def release(self, watch: Watch) -> None:
        """A waiter no longer needs this job; it stops costing anything once nobody does."""
        watch.users -= 1
        if watch.users <= 0 and self._watches.get(watch.history_id) is watch:
            del self._watches[watch.history_id]
            self._hand_off()

    def poke(self, history_id: str) -> None:
        """A task of this job was cancelled: its waiters (and the driver, if one) must look."""
        watch = self._watches.get(history_id)
        if watch is not None:
            watch.poke()
            if watch is self._driver:
                self._wakeup.set()

    def close(self) -> None:
        """The session is closing: every waiter returns at once; a round in flight is cancelled."""
        self.closed = True
        for watch in list(self._watches.values()):
            watch.wake()
        self._wakeup.set()
        if self._scope is not None:
            self._scope.cancel()

    # -- waiting -------------------------------------------------------------------------------

    async def wait(self, watch: Watch, seen: int, deadline: float) -> None:
        """Return once `watch.stamp` is no longer `seen` or the session closed.

        While nobody else drives, this waiter drives the rounds. The caller checks `deadline`
        after each return; the driver pokes the job when it passes, so no timer is needed here.
        """
        self.enter(watch, deadline)
        try:
            while (step := self.step(watch, seen)) is not None:
                await step
        finally:
            self.leave(watch)

    # `wait` in three parts, for a caller that awaits the steps in its own frame (a task: one
    # coroutine frame less for each of thousands of waiting tasks).

    def enter(self, watch: Watch, deadline: float) -> None:
        """A waiter starts waiting on `watch`, until `deadline`; pair it with `leave`."""
        if deadline < watch.deadline:
            watch.deadline = deadline
            self._nudge(deadline)
        watch.waiting += 1

    def step(self, watch: Watch, seen: int) -> Awaitable[None] | None:
        """What the waiter awaits next (the rounds, or its Event); None once it may return."""
        if watch.stamp != seen or self.closed:
            return None
        if self._driver is None:
            return self._drive(watch, seen)
        if not watch.queued:
            watch.queued = True
            self._fifo.append(watch)
        if watch.changed is None:  # made only while someone sleeps on it
            watch.changed = anyio.Event()
        return watch.changed.wait()

    def step_group(self, group: WatchGroup) -> Awaitable[None] | None:
        """What a group waiter awaits next; None once one of its jobs woke or none is left."""
        stand_in = group.stand_in()
        if not group.quiet() or self.closed or stand_in is None:
            return None
        if self._driver is None:
            return self._drive_group(group, stand_in)
        if not stand_in.queued:
            stand_in.queued = True
            self._fifo.append(stand_in)
        return group.sleep()

    def leave(self, watch: Watch) -> None:
        watch.waiting -= 1
        self._hand_off()

    def nudge_driver(self) -> None:
        """Make the driver look again now (a group's job moved while the group drives)."""
        self._wakeup.set()

    def _hand_off(self) -> None:
        """If nobody drives and no live offer is pending, wake the longest-waiting waiter."""
        if self._driver is not None or self.closed:
            return
        offered = self._offered
        if offered is not None and offered.waiting > 0 and self._is_pending(offered):
            return
        self._offered = None
        while self._fifo:
            candidate = self._fifo.popleft()
            candidate.queued = False
            if candidate.waiting > 0 and self._is_pending(candidate):
                self._offered = candidate
                self.hand_offs += 1
                candidate.wake()
                return

    def _is_pending(self, watch: Watch) -> bool:
        return self._watches.get(watch.history_id) is watch

    def _nudge(self, when: float) -> None:
        """Wake a sleeping driver if something is now due before it planned to wake."""
        if when < self._sleep_until:
            self._wakeup.set()

    # -- driving -------------------------------------------------------------------------------

    async def _drive(self, watch: Watch, seen: int) -> None:
        """Run rounds for every pending job until this waiter's own job changes."""
        await self._drive_while(watch, lambda: watch.stamp == seen)

    async def _drive_group(self, group: WatchGroup, stand_in: Watch) -> None:
        """Run rounds for every pending job until one of the group's jobs wakes."""
        group.driving = True
        try:
            await self._drive_while(stand_in, group.quiet)
        finally:
            group.driving = False

    async def _drive_while(self, watch: Watch, quiet: Callable[[], bool]) -> None:
        self._driver, self._offered = watch, None
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                while quiet() and not self.closed:
                    now = anyio.current_time()
                    due = self._scan(now)
                    if not quiet():
                        break
                    if due <= now:
                        await self._round(now)
                    else:
                        await self._sleep(due)
        except Exception as exc:  # a bug in polling: typed, to the waiters of this job only
            logger.exception("polling failed while driving for %s", watch.history_id)
            self._fail([watch], _bug("polling", exc))
        finally:
            self._scope = None
            self._driver = None

    def _scan(self, now: float) -> float:
        """Poke jobs whose waiters' deadline passed; return when the driver must act next."""
        soonest = math.inf
        for watch in self._watches.values():
            if watch.deadline <= now:
                watch.deadline = math.inf
                watch.poke()
            soonest = min(soonest, watch.next_due, watch.deadline)
        return soonest

    async def _sleep(self, until: float) -> None:
        self._wakeup = anyio.Event()
        self._sleep_until = until
        try:
            with anyio.move_on_after(until - anyio.current_time()):
                await self._wakeup.wait()
        finally:
            self._sleep_until = math.inf

    def _align(self, when: float, fraction: float = 1.0) -> float:
        """Round a due time up to a grid of poll_min_interval (times `fraction`), so that jobs
        share rounds."""
        step = self._settings.poll_min_interval * fraction
        return math.ceil(when / step) * step

    def _batches(self, now: float) -> list[list[Watch]]:
        size = self._settings.poll_batch_size
        ordered = sorted(self._watches.values(), key=lambda w: w.next_due)
        due = sum(1 for w in ordered if w.next_due <= now)
        if self._contended():
            urgent: list[Watch] = []
            can_wait: list[Watch] = []
            for watch in ordered[:due]:
                (urgent if self._cannot_wait(watch, now) else can_wait).append(watch)
            spare = urgent[len(urgent) - len(urgent) % size :]
            if all(w.put_off_since is None for w in spare):  # asked for next round, not now
                self._put_off(spare, now)
                del urgent[len(urgent) - len(spare) :]
            fill = -len(urgent) % size
            chosen = urgent + (can_wait + ordered[due:])[:fill]
            self._put_off(can_wait[fill:], now)
        else:
            chosen = ordered[: math.ceil(due / size) * size]
        # Either way the last batch is filled with the jobs due soonest: they ride for free.
        return [chosen[i : i + size] for i in range(0, len(chosen), size)]

    def _cannot_wait(self, watch: Watch, now: float) -> bool:
        """Whether a due job is asked for even while other calls wait for a query slot."""
        if watch.status is None:  # not answered yet: only a queued job's answer forecasts
            return True
        since = watch.next_due if watch.put_off_since is None else watch.put_off_since
        return now - since >= self._settings.poll_max_interval

    def _put_off(self, watches: list[Watch], now: float) -> None:
        """Ask for these due jobs on a later round (see `_batches`)."""
        later = self._align(now + self._settings.poll_min_interval * _FIRST_GRID, _FIRST_GRID)
        for watch in watches:
            if watch.put_off_since is None:
                watch.put_off_since = watch.next_due
            watch.next_due = later

    async def _round(self, now: float) -> None:
        self.rounds += 1
        # As many workers as the query limit lets run, not a task per batch: a round of
        # 10,000 jobs starts 5 tasks, not 1,000 (each holding its request while it queues).
        batches = iter(self._batches(now))
        async with anyio.create_task_group() as group:
            for _ in range(self._settings.max_queries):
                group.start_soon(self._poll_batches, batches, group.cancel_scope)

    async def _poll_batches(
        self, batches: Iterator[list[Watch]], round_scope: anyio.CancelScope
    ) -> None:
        for batch in batches:  # shared by the round's workers: each batch is polled once
            await self._poll_batch(batch, round_scope)

    async def _poll_batch(self, batch: list[Watch], round_scope: anyio.CancelScope) -> None:
        ids = [w.history_id for w in batch]
        for watch in batch:
            watch.put_off_since = None
        self.requests += 1
        try:
            records = history_records(await self._fetch(ids))
        except (AuthError, PermissionDeniedError) as exc:
            # The token will not heal by waiting: every waiter of the session learns at once.
            self._fail(list(self._watches.values()), exc)
            round_scope.cancel()
            return
        except APIError as exc:
            if exc.retryable:
                logger.info("polling %d job(s) failed (%s); they keep waiting", len(ids), exc)
                self._back_off(batch, exc)
            else:
                self._fail(batch, exc)
            return
        except Exception as exc:
            logger.exception("polling %d job(s) failed unexpectedly", len(ids))
            self._fail(batch, _bug("polling", exc))
            return
        now = anyio.current_time()
        for watch in batch:
            try:
                self._update(watch, records.get(watch.history_id), now)
            except Exception as exc:
                logger.exception("reading the record of %s failed", watch.history_id)
                self._fail([watch], _bug("reading the record", exc))

    def _fail(self, watches: list[Watch], error: JimengError) -> None:
        for watch in watches:
            watch.fail(error)
            if self._is_pending(watch):
                del self._watches[watch.history_id]

    def _back_off(self, batch: list[Watch], error: APIError) -> None:
        now = anyio.current_time()
        for watch in batch:
            watch.failures += 1
            delay = self._settings.poll_min_interval * 2 ** min(watch.failures, 10)
            delay = min(self._settings.poll_max_interval, delay)
            if isinstance(error, RateLimitError) and error.retry_after is not None:
                delay = max(delay, error.retry_after)
            watch.next_due = self._align(now + delay)

    def _update(self, watch: Watch, raw: Any, now: float) -> None:
        watch.failures = 0
        if raw is None:
            self._absent(watch, now)
            return
        watch.absent_since = None
        # The record's own kind wins over the caller's hint (a resume may guess wrong).
        watch.kind = (record_kind(raw) if isinstance(raw, Mapping) else None) or watch.kind
        before = watch.status or TaskStatus.PENDING
        try:
            record = parse_record(watch.history_id, raw, watch.kind or "image")
        except JimengError as exc:
            self._fail([watch], exc)
            return
        watch.unchanged = 0 if record.status != before else watch.unchanged + 1
        if self._unknown_persists(watch, record, now):
            return
        watch.publish(record)
        if watch.finished:
            if self._is_pending(watch):
                del self._watches[watch.history_id]
            return
        planned, watch.next_due = watch.next_due, self._next_due(watch, now)
        if planned > now:  # it rode along before its due: the answer does not put that off
            watch.next_due = min(planned, watch.next_due)

    def _unknown_persists(self, watch: Watch, record: HistoryRecord, now: float) -> bool:
        """An unknown status counts as running until it lasts `unknown_status_grace`: then fail."""
        if record.status != TaskStatus.UNKNOWN:
            watch.unknown_since = None
            return False
        if watch.unknown_since is None:
            watch.unknown_since = now
        lasted = now - watch.unknown_since
        if lasted < self._settings.unknown_status_grace:
            return False
        error = UnknownStatusError(
            f"job {watch.history_id} has kept status {record.status_code}, which this library "
            f"does not know, for {lasted:.3g}s",
            history_id=watch.history_id,
            record_status=record.status_code,
        )
        self._fail([watch], error)
        return True

    def _absent(self, watch: Watch, now: float) -> None:
        """The answer lacks the job: normal right after a submit, an unknown id after a grace."""
        grace = self._settings.job_not_found_grace
        if watch.absent_since is None:
            watch.absent_since = now
        gone = now - watch.absent_since
        if gone >= grace:
            error = JobNotFoundError(
                f"job {watch.history_id} is unknown to the service "
                f"(absent from its answers for {gone:.3g}s)",
                history_id=watch.history_id,
            )
            self._fail([watch], error)
            return
        watch.unchanged += 1
        wait = min(self._backoff(watch), watch.absent_since + grace - now)
        watch.next_due = self._align(now + max(wait, 0.0))

    def _next_due(self, watch: Watch, now: float) -> float:
        """When this job is asked for again: at its forecast end if one lies ahead, else later."""
        queue = watch.queue
        if queue and (queue.forecast_queue_seconds or queue.forecast_generate_seconds):
            forecast = (queue.forecast_queue_seconds or 0) + (queue.forecast_generate_seconds or 0)
            forecast = min(self._settings.poll_max_interval * _FORECAST_CAP, forecast)
            watch.expected = now + forecast
        low = self._settings.poll_min_interval
        if watch.expected > now and not watch.followers:
            when = max(watch.expected + low * _FORECAST_MARGIN, now + low * _FORECAST_GRID)
            return self._align(when, _FORECAST_GRID)
        return self._align(now + self._backoff(watch))

    def _backoff(self, watch: Watch) -> float:
        low, high = self._settings.poll_min_interval, self._settings.poll_max_interval
        base = low if watch.kind != "video" else min(high, 3 * low)
        return min(high, base * 1.5 ** min(watch.unchanged, 10))
