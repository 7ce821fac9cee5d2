"""`as_completed`: many jobs awaited as they finish, without stalling the event loop.

Starting ten thousand waiting tasks in one go is one long loop turn (about 40 us a task with
anyio), which every other coroutine of the application feels as a stall of 400 ms (issue #15).
`as_completed` starts the waiters a slice at a time and yields to the loop between slices.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Iterable
from contextlib import suppress

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectSendStream

from .errors import InvalidInputError, JimengError
from .tasks import GenerationTask, ResultT

#: Waiters started per loop turn: a few milliseconds of work between two yields to the loop.
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
    send, receive = anyio.create_memory_object_stream[GenerationTask[ResultT]](math.inf)
    with receive:
        async with anyio.create_task_group() as group:
            group.start_soon(_start_waiters, pending, send)
            try:
                async for task in receive:
                    yield task
            except GeneratorExit:
                pass  # the consumer left early: the waiters stop below, the jobs go on
            finally:
                group.cancel_scope.cancel()


async def _start_waiters(
    tasks: list[GenerationTask[ResultT]], send: MemoryObjectSendStream[GenerationTask[ResultT]]
) -> None:
    async with send, anyio.create_task_group() as group:
        for start in range(0, len(tasks), START_SLICE):
            for task in tasks[start : start + START_SLICE]:
                group.start_soon(_wait_one, task, send)
            await anyio.lowlevel.checkpoint()  # let the loop run between slices


async def _wait_one(
    task: GenerationTask[ResultT], send: MemoryObjectSendStream[GenerationTask[ResultT]]
) -> None:
    with suppress(JimengError):  # the caller reads it from the task: `await task` raises it
        await task.wait()
    send.send_nowait(task)
