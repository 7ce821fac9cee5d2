"""`GenerationTask`: an awaitable handle on one job, plain data at rest.

The task asks the session's poller to watch its history id and waits for the record to reach a
terminal status, within the generation limit. Waiting tasks take turns driving the session's
batched polling (see `polling`), so a thousand waiting tasks cost what the batches cost and
a task nobody awaits costs nothing. `to_dict()` and `JimengSession.resume()` move a task
between processes.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, cast

import anyio
import anyio.lowlevel
from typing_extensions import TypeVar

from ._checks import check_timeout
from .errors import (
    GenerationTimeoutError,
    InvalidInputError,
    JimengError,
    JimengTimeoutError,
    PollingError,
    ResponseFieldError,
    SessionClosedError,
    TaskCancelledError,
    generation_failure,
)
from .models import AssetFields, HistoryRecord, Kind, QueueInfo, TaskStatus
from .polling import WatchGroup
from .results import ImageResult, Result, VideoResult

if TYPE_CHECKING:
    from .polling import Poller, Watch
    from .results import Downloader


#: The result a task gives: ImageResult, VideoResult, or either when only the record knows
#: (the default, so a bare `GenerationTask` annotation means `GenerationTask[Result]`).
ResultT = TypeVar("ResultT", bound=Result, default=Result, covariant=True)


@dataclass(frozen=True)
class Progress:
    """A status change of a job, as `GenerationTask.progress()` yields it."""

    status: TaskStatus
    items: int
    queue: QueueInfo | None


ProgressCallback = Callable[[Progress], object]
"""`on_progress=`: a plain or async callable that receives each `Progress` of a job (an
awaitable it returns is awaited before the job's next step)."""


class GenerationTask(Generic[ResultT]):
    """A submitted image or video job. `await task` gives its result or raises.

    Generic in its result: `submit_image` gives a `GenerationTask[ImageResult]`,
    `submit_video` a `GenerationTask[VideoResult]`, and `resume()` without a kind a
    `GenerationTask[ImageResult | VideoResult]` (the record decides).

    `cancel()` stops waiting only: the service has no cancel, so the job (and its charge) goes
    on, and `resume()` can pick it up again.
    """

    # Slotted: thousands of tasks may wait at once, and a __dict__ would be a third of each.
    __slots__ = (
        "_deadline",
        "_downloader",
        "_error",
        "_items",
        "_limit",
        "_on_outcome",
        "_poller",
        "_result",
        "_status",
        "created_at",
        "history_id",
        "kind",
        "submit_id",
    )

    def __init__(
        self,
        *,
        history_id: str,
        kind: Kind | None,
        submit_id: str | None,
        poller: Poller,
        downloader: Downloader,
        limit: float,
        on_outcome: Callable[[TaskStatus], None] | None = None,
        created_at: float | None = None,
    ) -> None:
        self.history_id = history_id
        self.kind: Kind | None = kind  # None until the record shows it (a resume without kind)
        self.submit_id = submit_id
        self.created_at = time.time() if created_at is None else created_at
        self._poller = poller
        self._downloader = downloader
        self._deadline = anyio.current_time() + limit
        self._limit = limit
        self._on_outcome = on_outcome
        self._status = TaskStatus.PENDING
        self._result: ResultT | None = None
        # A success's files until its result is read (HistoryRecord.items: no objects for the
        # garbage collector to visit while thousands of finished tasks wait to be read).
        self._items: tuple[tuple[Any, ...], ...] = ()
        self._error: JimengError | None = None

    def __repr__(self) -> str:
        return (
            f"GenerationTask(kind={self.kind!r}, history_id={self.history_id!r}, "
            f"status={self.status.name})"
        )

    @property
    def status(self) -> TaskStatus:
        return self._status

    def done(self) -> bool:
        """Whether the task has its outcome (a result, a failure, a time-out or a cancel)."""
        return self._status.terminal

    def cancel(self) -> None:
        """Stop waiting for the job (every current and future wait raises TaskCancelledError).

        The service has no cancel: the job runs on and is charged; `resume()` re-attaches.
        """
        if not self.done():
            self._finish(
                TaskStatus.CANCELLED,
                error=TaskCancelledError(
                    f"waiting for {self.history_id} was cancelled; the job itself goes on",
                    history_id=self.history_id,
                ),
            )
        self._poller.poke(self.history_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain data to resume this task elsewhere: `session.resume(**task.to_dict())`."""
        return {
            "history_id": self.history_id,
            "kind": self.kind,
            "submit_id": self.submit_id,
            "created_at": self.created_at,
        }

    def __await__(self) -> Generator[Any, None, ResultT]:
        return self.wait().__await__()

    async def wait(self, timeout: float | None = None) -> ResultT:  # noqa: ASYNC109 (documented API)
        """The result; raises the job's error, or TimeoutError if `timeout` passes first.

        `timeout` bounds this wait only (JimengTimeoutError, a TimeoutError, when it passes);
        the generation limit (Settings.generation_timeout)
        ends the task itself with GenerationTimeoutError.
        """
        timeout = check_timeout(timeout)
        if timeout is not None and not self.done():
            with anyio.move_on_after(timeout) as wait:
                return await self.wait()
            if wait.cancelled_caught and not self.done():
                raise JimengTimeoutError(
                    f"job {self.history_id} did not finish within the {timeout}s wait",
                    history_id=self.history_id,
                )
        if not self.done():
            # No cancel scope without a timeout (the poller keeps the generation deadline),
            # and the poller's steps awaited here: one coroutine frame per waiting task.
            poller = self._poller
            watch = poller.watch(self.history_id, self.kind)
            try:
                while not self._absorb(watch):
                    seen = watch.stamp
                    self._check_open()
                    if anyio.current_time() < self._deadline:
                        poller.enter(watch, self._deadline)
                        try:
                            while (step := poller.step(watch, seen)) is not None:
                                await step
                        finally:
                            poller.leave(watch)
                    self._check_deadline()
            finally:
                poller.release(watch)
        if self._error is not None:
            raise self._error
        return self._read_result()

    def _read_result(self) -> ResultT:
        """The result, made from the success's files on the first read."""
        if self._result is None and self._items:
            result: Result
            if self.kind != "video":
                images = [AssetFields(*fields).asset() for fields in self._items]
                result = ImageResult(history_id=self.history_id, images=images)
            else:
                video = AssetFields(*self._items[0]).asset()
                result = VideoResult(history_id=self.history_id, video=video)
            result.attach(self._downloader)
            # The kind the task was made with (or the record's, when resumed without one)
            # picks the result class, which is what ResultT stands for.
            self._result, self._items = cast("ResultT", result), ()
        if self._result is None:  # cannot happen: every terminal status sets one or the other
            raise PollingError(
                f"job {self.history_id} ended as {self._status.name} without a result",
                history_id=self.history_id,
            )
        return self._result

    async def progress(self) -> AsyncIterator[Progress]:
        """Yield each change of status, item count or queue position until the job ends.

        While the caller holds a step (suspended at the `yield`), this task drives no polling:
        other waiters of the session take the turn.
        """
        last: Progress | None = None
        watch = self._poller.watch(self.history_id, self.kind)
        watch.followers += 1  # asked for at every step's pace, not only at the forecast end
        try:
            while True:
                seen = watch.stamp
                current = self._progress_of(watch)
                if current != last:
                    last = current
                    yield current
                if self.done():
                    return
                await self._next_change(watch, seen)
        finally:
            watch.followers -= 1
            self._poller.release(watch)

    async def _next_change(self, watch: Watch, seen: int) -> None:
        """Wait for the job's state to move past `seen`; end the task if its limit passed."""
        self._check_open()
        if anyio.current_time() < self._deadline:
            await self._poller.wait(watch, seen, self._deadline)
        self._check_deadline()

    def _check_open(self) -> None:
        if self._poller.closed:
            raise SessionClosedError(
                f"the session of job {self.history_id} is closed",
                history_id=self.history_id,
            )

    def _check_deadline(self) -> None:
        """End the task with GenerationTimeoutError if its generation limit has passed."""
        if not self.done() and anyio.current_time() >= self._deadline:
            self._finish(
                TaskStatus.TIMED_OUT,
                error=GenerationTimeoutError(
                    f"{self.kind or 'generation'} job {self.history_id} did not finish within "
                    f"{self._limit:g}s",
                    history_id=self.history_id,
                    kind=self.kind or "unknown",
                ),
            )

    def _settle(self, watch: Watch) -> bool:
        """Take the watch's state in; True once this task's wait is over (it is done, or its
        session closed: `await task` then raises SessionClosedError)."""
        if self._absorb(watch):
            return True
        self._check_deadline()
        return self.done() or self._poller.closed

    def _absorb(self, watch: Watch) -> bool:
        """Take the watch's latest state into the task; True if that ended the task."""
        if self.done():
            return True
        if watch.status is not None and watch.kind is not None:
            self.kind = watch.kind  # as the record shows it
        if watch.error is not None:
            self._finish(TaskStatus.FAILED, error=watch.error)
            return True
        record = watch.record  # only a terminal record is kept
        if record is None:
            if watch.status is not None:
                self._status = watch.status
            return False
        if record.status.succeeded:
            self._succeed(record)
        else:
            self._finish(
                TaskStatus.FAILED,
                error=generation_failure(
                    record.fail_code or "unknown", self.history_id, record.fail_msg
                ),
            )
        return self.done()

    def _succeed(self, record: HistoryRecord) -> None:
        if not record.items:
            self._finish(
                TaskStatus.FAILED,
                error=ResponseFieldError(
                    f"{self.kind} job {self.history_id} finished without any result item",
                    context={"field": "item_list", "history_id": self.history_id},
                ),
            )
            return
        self._items = record.items
        self._set_status(record.status)

    def _finish(self, status: TaskStatus, *, error: JimengError) -> None:
        self._error = error
        self._set_status(status)

    def _set_status(self, status: TaskStatus) -> None:
        self._status = status
        if status.terminal and self._on_outcome is not None:
            self._on_outcome(status)

    def _progress_of(self, watch: Watch) -> Progress:
        self._absorb(watch)
        return Progress(self._status, watch.items, watch.queue)


def by_session(tasks: Iterable[GenerationTask[ResultT]]) -> list[deque[GenerationTask[ResultT]]]:
    """The tasks grouped by the session that polls them, in their order."""
    groups: dict[int, deque[GenerationTask[ResultT]]] = {}
    for task in tasks:
        groups.setdefault(id(task._poller), deque()).append(task)
    return list(groups.values())


async def wait_together(
    tasks: deque[GenerationTask[ResultT]],
    done: Callable[[GenerationTask[ResultT]], object],
    *,
    slice_size: int,
) -> None:
    """Wait for tasks of one session as one waiter, handing each to `done` once its wait is over.

    The jobs join the waiter, and are settled once they finish, `slice_size` at a time, with a
    yield to the event loop between slices. Each task leaves `tasks` as it joins and is
    forgotten once handed over, so that finished tasks nobody else holds are freed.
    Cancelling the call stops waiting for the tasks not yet handed over.
    """
    if not tasks:
        return
    poller = tasks[0]._poller
    group = WatchGroup(poller)
    # The task waiting on each job, and the rare others on the same job: no list per job.
    waiting: dict[Watch, GenerationTask[ResultT]] = {}
    also: dict[Watch, list[GenerationTask[ResultT]]] = {}

    def handed_over(task: GenerationTask[ResultT], watch: Watch) -> bool:
        if not task._settle(watch):
            return False
        group.part(watch)
        poller.release(watch)
        done(task)
        return True

    def settle(watch: Watch) -> None:
        first = waiting.pop(watch, None)
        if first is None:  # handed over already: noticed again while a slice was settled
            return
        left = [t for t in (first, *also.pop(watch, ())) if not handed_over(t, watch)]
        if left:
            waiting[watch] = left[0]
            if left[1:]:
                also[watch] = left[1:]

    try:
        while tasks:
            for _ in range(min(slice_size, len(tasks))):
                task = tasks.popleft()
                watch = poller.watch(task.history_id, task.kind)
                group.join(watch, task._deadline)
                if watch in waiting:
                    also.setdefault(watch, []).append(task)
                else:
                    waiting[watch] = task
                settle(watch)
            del task  # not held while waiting for the next slice
            await anyio.lowlevel.checkpoint()  # let the loop run between slices
        while waiting:
            woken = deque(waiting if poller.closed else group.take())
            while woken:  # thousands may finish in one round: a slice per loop turn
                for _ in range(min(slice_size, len(woken))):
                    settle(woken.popleft())  # a settled job's record is freed at once
                if woken:
                    await anyio.lowlevel.checkpoint()
            step = poller.step_group(group) if waiting else None
            if step is not None:
                await step
    finally:
        for watch in list(waiting):
            for _ in (waiting.pop(watch), *also.pop(watch, ())):
                group.part(watch)
                poller.release(watch)


def check_progress_callback(on_progress: object) -> None:
    """Refuse a non-callable `on_progress` before anything is submitted."""
    if on_progress is not None and not callable(on_progress):
        raise InvalidInputError(
            "on_progress", "is not callable", allowed="None or a function taking a Progress"
        )


async def follow(task: GenerationTask[ResultT], on_progress: ProgressCallback | None) -> ResultT:
    """Await `task`, handing each of its `progress()` steps to `on_progress` first (if given).

    A callback that raises ends the wait with its error (the job itself goes on).
    """
    if on_progress is not None:
        async for step in task.progress():
            outcome = on_progress(step)
            if inspect.isawaitable(outcome):
                await outcome
    return await task
