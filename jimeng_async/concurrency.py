"""Running work concurrently without hiding its errors in an ExceptionGroup.

Callers of the library catch `JimengError` subclasses; a task group would wrap them. Here the
first failure cancels the siblings and is raised as it is; cancellation still propagates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import anyio


async def run_all(jobs: Iterable[Callable[[], Awaitable[object]]]) -> None:
    """Run every job at once; on the first failure cancel the others and raise that failure."""
    errors: list[Exception] = []

    async with anyio.create_task_group() as group:

        async def guarded(job: Callable[[], Awaitable[object]]) -> None:
            try:
                await job()
            except Exception as exc:
                errors.append(exc)
                group.cancel_scope.cancel()

        for job in jobs:
            group.start_soon(guarded, job)
    if errors:
        raise errors[0]
