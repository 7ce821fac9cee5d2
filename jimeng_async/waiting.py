"""`as_completed`: many jobs awaited as they finish, without stalling the event loop.

Ten thousand jobs awaited a task each cost ten thousand tasks: starting them is one loop turn of
400 ms, and the garbage collector walks some 30 objects per job (issue #15). `as_completed`
waits for all the jobs of a session with one waiter (`tasks.wait_together`), which joins them a
slice at a time and yields to the loop between slices.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from functools import partial

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from .errors import InvalidInputError
from .tasks import GenerationTask, ResultT, by_session, wait_together

#: Jobs joined per loop turn: a few milliseconds of work between two yields to the loop.
START_SLICE = 128


async def as_completed(
    tasks: Iterable[GenerationTask[ResultT]],
) -> AsyncGenerator[GenerationTask[ResultT], None]:
    """Yield each task once its wait has ended, soonest first.

    A yielded task is done, or its wait ended with an error (its session closed):
    `await task` then returns the result or raises at once. All the tasks are polled
    together in batches, as when each is awaited. Leaving the loop early stops waiting for
    the rest (their jobs go on; `resume()` picks them up again); to leave early, close the
    generator where it runs (`contextlib.aclosing`), as for any async generator.

        async for task in jm.as_completed(tasks):
            try:
                result = await task
            except jm.JimengError as error:
                ...
    """
    pending = list(tasks)
    for index, task in enumerate(pending):
        if not isinstance(task, GenerationTask):
            raise InvalidInputError(
                f"tasks[{index}]",
                f"is a {type(task).__name__}, not a GenerationTask",
                allowed="the tasks that submit_image, submit_video or resume return",
            )
    sessions = by_session(pending)
    del pending  # a finished task the caller no longer holds is freed
    send, receive = anyio.create_memory_object_stream[GenerationTask[ResultT]](math.inf)
    with receive:
        async with anyio.create_task_group() as group:
            group.start_soon(_wait_all, sessions, send)
            try:
                async for task in receive:
                    yield task
            except GeneratorExit:
                pass  # the consumer left early: the waiters stop below, the jobs go on
            finally:
                group.cancel_scope.cancel()


async def _wait_all(
    sessions: list[deque[GenerationTask[ResultT]]],
    send: MemoryObjectSendStream[GenerationTask[ResultT]],
) -> None:
    """One waiter per session (all its tasks polled together); the stream ends with the last."""
    async with send, anyio.create_task_group() as group:
        for tasks in sessions:
            group.start_soon(
                partial(wait_together, tasks, send.send_nowait, slice_size=START_SLICE)
            )
