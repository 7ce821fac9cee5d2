"""A tiny HTTP server on loopback for URL sources and result links the emulator does not serve:
HTML error pages, oversized bodies, and bodies that stall half way (until the test ends)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from anyio.abc import SocketStream


@dataclass
class Route:
    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    stall: bool = False  # send half the body, then hold the connection open
    length: bool = True  # send Content-Length (else the body ends when the connection closes)


@dataclass
class MediaServer:
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    stalled: anyio.Event = field(default_factory=anyio.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, stream: SocketStream) -> None:
        async with stream:
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            path = head.split(b" ", 2)[1].decode().split("?", 1)[0]
            self.hits[path] = self.hits.get(path, 0) + 1
            route = self.routes.get(path, Route(b"not found", "text/plain", 404))
            lines = [f"HTTP/1.1 {route.status} X", f"Content-Type: {route.content_type}"]
            lines.append("Connection: close")
            if route.length:
                lines.append(f"Content-Length: {len(route.body)}")
            await stream.send(("\r\n".join(lines) + "\r\n\r\n").encode())
            if route.stall:
                await stream.send(route.body[: len(route.body) // 2])
                self.stalled.set()
                await anyio.sleep_forever()
            await stream.send(route.body)


@asynccontextmanager
async def media_server() -> AsyncIterator[MediaServer]:
    server = MediaServer()
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        server.port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, server.handle)
            try:
                yield server
            finally:
                group.cancel_scope.cancel()
