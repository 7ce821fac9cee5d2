"""The least a web API server can do, as a child process: one fixed envelope for any request.

    python -m benchmarks.minimal_server '{}'

Used where a benchmark compares the client's own CPU with bare httpx: the server's share must
be small and the same for both. It prints `{"url": ...}`, then serves until stdin closes or
says `{"cmd": "quit"}`; `{"cmd": "stats"}` answers its CPU time.
"""

from __future__ import annotations

import json
import os
import sys

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

BODY = json.dumps(
    {
        "ret": "0",
        "errmsg": "success",
        "data": {"credit": {"gift_credit": 10, "purchase_credit": 0, "vip_credit": 0}},
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)
MAX_HEAD = 256 * 1024


async def handle(stream: anyio.abc.SocketStream) -> None:
    """HTTP/1.1 keep-alive: read a head and its body, answer, repeat until the client leaves."""
    buffered = BufferedByteReceiveStream(stream)
    async with stream:
        try:
            while True:
                head = await buffered.receive_until(b"\r\n\r\n", MAX_HEAD)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while length > 0:  # uploads: read and drop, in chunks
                    chunk = await buffered.receive(min(length, 1 << 20))
                    length -= len(chunk)
                await stream.send(RESPONSE)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
            return


async def serve() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 (not Django)
    async with anyio.create_task_group() as group:
        group.start_soon(listener.serve, handle)
        print(json.dumps({"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}), flush=True)
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            if not line.strip() or json.loads(line).get("cmd") == "quit":
                break
            times = os.times()
            print(json.dumps({"cpu": times.user + times.system}), flush=True)
        group.cancel_scope.cancel()


if __name__ == "__main__":
    anyio.run(serve)
