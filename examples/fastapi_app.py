"""A FastAPI app: one Jimeng session per user, opened on the user's first request, all closed
on shutdown. Each user sends their own token in the `X-Jimeng-Token` header.

    uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated

import anyio
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel

import jimeng_async as jm


class Sessions:
    """Sessions by token, opened lazily (once, even under concurrent first requests) and all
    closed on shutdown.

    The sessions are entered and left by one owner task that the app's lifespan runs, so they
    are opened and closed in the same task whichever request asked for them first.
    """

    def __init__(self, settings: jm.Settings | None = None) -> None:
        self._settings = settings
        self._open: dict[str, jm.JimengSession] = {}
        self._errors: dict[str, Exception] = {}
        self._lock = anyio.Lock()
        self._requests, self._inbox = anyio.create_memory_object_stream[tuple[str, anyio.Event]]()

    async def get(self, token: str) -> jm.JimengSession:
        async with self._lock:
            if token not in self._open:
                opened = anyio.Event()
                await self._requests.send((token, opened))
                await opened.wait()
            if token in self._errors:
                raise self._errors.pop(token)
            return self._open[token]

    def __len__(self) -> int:
        return len(self._open)

    async def serve(self) -> None:
        """The owner task: open what `get` asks for; close everything when cancelled."""
        async with AsyncExitStack() as stack:
            try:
                async for token, opened in self._inbox:
                    try:
                        session = jm.JimengSession(token, settings=self._settings)
                        self._open[token] = await stack.enter_async_context(session)
                    except Exception as exc:  # handed to the request that asked
                        self._errors[token] = exc
                    opened.set()
            finally:
                self._open = {}


class DrawRequest(BaseModel):
    prompt: str
    ratio: str = "1:1"


def create_app(settings: jm.Settings | None = None) -> FastAPI:
    sessions = Sessions(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(sessions.serve)
            yield
            group.cancel_scope.cancel()  # shutdown: the owner task closes every session

    app = FastAPI(lifespan=lifespan)
    app.state.sessions = sessions

    @app.post("/images")
    async def images(
        body: DrawRequest, x_jimeng_token: Annotated[str, Header()]
    ) -> dict[str, object]:
        session = await sessions.get(x_jimeng_token)
        try:
            result = await session.generate_image(body.prompt, ratio=body.ratio)
        except jm.InvalidInputError as exc:
            raise HTTPException(422, str(exc)) from None
        except jm.ContentFilteredError as exc:
            raise HTTPException(400, str(exc)) from None
        except jm.AuthError as exc:
            raise HTTPException(401, str(exc)) from None
        return {"history_id": result.history_id, "urls": [image.url for image in result.images]}

    @app.get("/credits")
    async def credits(x_jimeng_token: Annotated[str, Header()]) -> dict[str, int]:
        session = await sessions.get(x_jimeng_token)
        return {"total": (await session.credits()).total}

    return app


app = create_app()
