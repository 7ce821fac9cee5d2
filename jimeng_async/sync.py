"""`SyncSession`: the async session driven from plain (blocking) code, for scripts and notebooks.

It is not a second client: it runs one `JimengSession` on a private event loop in a thread of
its own (an anyio blocking portal) and waits for each call there. Every method takes the same
keyword-only parameters as the session's, and raises the same errors.

    from jimeng_async.sync import SyncSession

    with SyncSession("us-xxxxxxxx") as s:        # or JIMENG_TOKEN
        result = s.generate_image("a red fox in snow", ratio="16:9")
        s.save(result, "out/")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial, wraps
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, Literal, ParamSpec, TypeVar, overload

import anyio.from_thread

from .config import Settings
from .errors import SessionClosedError
from .models import Kind
from .results import ImageResult, Result, VideoResult
from .session import JimengSession
from .signer import RequestSigner

__all__ = ["SyncSession"]

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(
    method: Callable[Concatenate[JimengSession, P], Awaitable[R]],
) -> Callable[Concatenate[SyncSession, P], R]:
    """The session's async `method` as a blocking method of `SyncSession` (same parameters)."""

    @wraps(method)
    def run(self: SyncSession, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._call(partial(method, self._open_session(), *args, **kwargs))

    return run


class SyncSession:
    """A blocking facade over one `JimengSession` (see the module docstring).

    Arguments as `JimengSession`'s; the token defaults to `JIMENG_TOKEN`. Use `with`, or call
    `close()` when done: it closes the session and stops the loop thread (idempotent).
    """

    def __init__(
        self,
        refresh_token: str | None = None,
        *,
        settings: Settings | None = None,
        proxy: str | None = None,
        request_signer: RequestSigner | None = None,
    ) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        self._portal = self._portal_cm.__enter__()
        self._closed = False
        try:
            # Made inside the loop, so its locks and semaphores belong to that loop.
            self._session: JimengSession | None = self._portal.call(
                partial(
                    JimengSession,
                    refresh_token,
                    settings=settings,
                    proxy=proxy,
                    request_signer=request_signer,
                )
            )
        except BaseException:
            self._closed = True
            self._portal_cm.__exit__(None, None, None)
            raise

    def __repr__(self) -> str:
        return f"Sync{self._session!r}"

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and stop its loop thread; any number of times."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._session is not None:
                self._portal.call(self._session.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    @property
    def session(self) -> JimengSession:
        """The async session underneath (its methods must run on this facade's loop)."""
        return self._open_session()

    def _open_session(self) -> JimengSession:
        if self._closed or self._session is None:
            raise SessionClosedError("this session is closed")
        return self._session

    def _call(self, func: Callable[[], Awaitable[R]]) -> R:
        return self._portal.call(func)

    account_info = _blocking(JimengSession.account_info)
    credits = _blocking(JimengSession.credits)
    receive_credits = _blocking(JimengSession.receive_credits)
    token_alive = _blocking(JimengSession.token_alive)
    upload_image = _blocking(JimengSession.upload_image)
    generate_image = _blocking(JimengSession.generate_image)
    generate_video = _blocking(JimengSession.generate_video)

    @overload
    def resume(
        self,
        history_id: str,
        *,
        kind: Literal["image"],
        submit_id: str | None = None,
        created_at: float | None = None,
        timeout: float | None = None,
    ) -> ImageResult: ...

    @overload
    def resume(
        self,
        history_id: str,
        *,
        kind: Literal["video"],
        submit_id: str | None = None,
        created_at: float | None = None,
        timeout: float | None = None,
    ) -> VideoResult: ...

    @overload
    def resume(
        self,
        history_id: str,
        *,
        kind: Kind | None = None,
        submit_id: str | None = None,
        created_at: float | None = None,
        timeout: float | None = None,
    ) -> ImageResult | VideoResult: ...

    def resume(
        self,
        history_id: str,
        *,
        kind: Kind | None = None,
        submit_id: str | None = None,
        created_at: float | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Wait for a job submitted earlier (by id; the record tells its kind) and return its
        result; `timeout` bounds this wait only, as `GenerationTask.wait`."""
        session = self._open_session()

        async def wait() -> Result:
            task = session.resume(history_id, kind=kind, submit_id=submit_id, created_at=created_at)
            return await task.wait(timeout)

        return self._call(wait)

    def save(self, result: Result, directory: str | Path) -> list[Path]:
        """Save a result's files into `directory` (as `await result.save(directory)`)."""
        self._open_session()
        return self._call(partial(result.save, directory))
