"""A tiny forwarding HTTP proxy on loopback, written with anyio, that counts what it relays.

One request per client connection (it answers `Connection: close`), enough to prove that a
client's traffic goes through it: httpx sends plain-http requests to a proxy in absolute form.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from anyio.streams.buffered import BufferedByteReceiveStream

_HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authorization"})
_MAX_HEAD = 64 * 1024


def _kept(lines: list[str]) -> list[str]:
    return [line for line in lines if line and line.split(":", 1)[0].lower() not in _HOP_BY_HOP]


class ForwardingProxy:
    """`await group.start(proxy.serve)` returns its URL; `requests` lists "METHOD path"."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.authorizations: list[str] = []

    async def serve(self, *, task_status: TaskStatus[str]) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        port = listener.extra(SocketAttribute.local_port)  # noqa: S610 (anyio, not Django)
        task_status.started(f"http://127.0.0.1:{port}")
        await listener.serve(self._relay)

    async def _relay(self, client: SocketStream) -> None:
        # A client that hangs up early ends its own relay, not the proxy.
        hung_up = (anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError)
        with contextlib.suppress(*hung_up):
            await self._relay_one(client)

    async def _relay_one(self, client: SocketStream) -> None:
        async with client:
            reader = BufferedByteReceiveStream(client)
            head = (await reader.receive_until(b"\r\n\r\n", _MAX_HEAD)).decode("latin-1")
            request_line, *header_lines = head.split("\r\n")
            method, target, _ = request_line.split(" ")
            length = 0
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                if name.lower() == "proxy-authorization":
                    self.authorizations.append(value.strip())
            body = await reader.receive_exactly(length) if length else b""
            url = urlsplit(target)
            assert url.hostname is not None  # httpx sends a proxy the absolute form
            assert url.port is not None
            self.requests.append(f"{method} {url.path}")
            path = url.path + (f"?{url.query}" if url.query else "")
            outgoing = [f"{method} {path} HTTP/1.1", *_kept(header_lines), "Connection: close"]
            async with await anyio.connect_tcp(url.hostname, url.port) as upstream:
                await upstream.send(("\r\n".join(outgoing) + "\r\n\r\n").encode("latin-1") + body)
                answer = BufferedByteReceiveStream(upstream)
                status_line, *answer_headers = (
                    (await answer.receive_until(b"\r\n\r\n", _MAX_HEAD))
                    .decode("latin-1")
                    .split("\r\n")
                )
                back = [status_line, *_kept(answer_headers), "Connection: close"]
                await client.send(("\r\n".join(back) + "\r\n\r\n").encode("latin-1"))
                while True:
                    try:
                        chunk = await answer.receive()
                    except (anyio.EndOfStream, anyio.IncompleteRead):
                        return
                    await client.send(chunk)
