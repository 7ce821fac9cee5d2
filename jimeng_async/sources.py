"""Upload sources: a path, bytes, a binary file object or an http(s) URL, checked before upload.

One pass over the content gives its size, CRC32 (zlib, incremental), SHA-256 (to upload the
same bytes once) and header (format, width, height); the upload then streams the content again
from its origin, so memory stays bounded by the chunk size whatever the file size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiofiles
import anyio
import httpx

from .auth import redact_url
from .config import check_url
from .errors import ConfigurationError, UploadError
from .images import HEADER_BYTES, ImageFormatError, ImageHeader, probe

CHUNK = 256 * 1024

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


@dataclass
class PreparedUpload:
    """Content that passed the checks, with a way to stream it again."""

    name: str
    size: int
    crc32: str
    sha256: str
    header: ImageHeader
    chunks: Callable[[], AsyncIterator[bytes]]
    cleanup: Callable[[], None] = field(default=lambda: None)


class _Digest:
    """Size, CRC32, SHA-256 and the leading bytes, fed one chunk at a time."""

    def __init__(self, name: str, max_bytes: int) -> None:
        self.name = name
        self.max_bytes = max_bytes
        self.size = 0
        self.crc = 0
        self.sha = hashlib.sha256()
        self.head = bytearray()

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise _too_large(self.name, self.max_bytes)
        self.crc = zlib.crc32(chunk, self.crc)
        self.sha.update(chunk)
        if len(self.head) < HEADER_BYTES:
            self.head += chunk[: HEADER_BYTES - len(self.head)]

    def finish(self, chunks: Callable[[], AsyncIterator[bytes]]) -> PreparedUpload:
        if self.size == 0:
            raise UploadError(f"{self.name} is empty", code="empty")
        try:
            header = probe(bytes(self.head))
        except ImageFormatError as exc:
            raise UploadError(f"{self.name}: {exc}", code="format") from None
        return PreparedUpload(
            name=self.name,
            size=self.size,
            crc32=f"{self.crc & 0xFFFFFFFF:08x}",
            sha256=self.sha.hexdigest(),
            header=header,
            chunks=chunks,
        )


def _too_large(name: str, max_bytes: int) -> UploadError:
    return UploadError(
        f"{name} is larger than the upload limit of {max_bytes} bytes", code="too_large"
    )


async def prepare(source: Any, *, max_bytes: int, client: httpx.AsyncClient) -> PreparedUpload:
    """Check and digest an upload source; raises UploadError before any upload request."""
    if isinstance(source, bytes | bytearray | memoryview):
        return _prepare_bytes(bytes(source), max_bytes)
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return await _prepare_url(source, max_bytes, client)
    if isinstance(source, str | os.PathLike):
        return await _prepare_path(Path(source), max_bytes)
    if hasattr(source, "read"):
        return await _prepare_file(source, max_bytes)
    raise UploadError(
        f"cannot upload a {type(source).__name__}: pass a path, bytes, a binary file, "
        "an http(s) URL or an ImageRef",
        code="source",
    )


def _prepare_bytes(data: bytes, max_bytes: int, name: str = "image bytes") -> PreparedUpload:
    digest = _Digest(name, max_bytes)
    if len(data) > max_bytes:
        raise _too_large(name, max_bytes)
    digest.feed(data)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    return digest.finish(chunks)


async def _digest_stream(
    name: str, max_bytes: int, chunks: Callable[[], AsyncIterator[bytes]]
) -> PreparedUpload:
    """The checking pass over a source that `chunks()` can stream again for the upload."""
    digest = _Digest(name, max_bytes)
    async for chunk in chunks():
        digest.feed(chunk)
    return digest.finish(chunks)


async def _prepare_path(path: Path, max_bytes: int) -> PreparedUpload:
    name = str(path)
    try:
        stat = await anyio.to_thread.run_sync(path.stat)
    except OSError as exc:
        raise UploadError(f"{name}: cannot read ({exc.strerror})", code="source") from None
    if stat.st_size > max_bytes:
        raise _too_large(name, max_bytes)

    async def chunks() -> AsyncIterator[bytes]:
        async with aiofiles.open(path, "rb") as handle:
            while chunk := await handle.read(CHUNK):
                yield chunk

    return await _digest_stream(name, max_bytes, chunks)


async def _prepare_file(handle: IO[bytes], max_bytes: int) -> PreparedUpload:
    name = str(getattr(handle, "name", "file object"))
    seekable = bool(getattr(handle, "seekable", lambda: False)())
    if not seekable:  # one pass only: keep it, bounded by the cap
        data = await anyio.to_thread.run_sync(handle.read, max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_large(name, max_bytes)
        return _prepare_bytes(data, max_bytes, name)
    start = await anyio.to_thread.run_sync(handle.tell)

    async def chunks() -> AsyncIterator[bytes]:
        await anyio.to_thread.run_sync(handle.seek, start)
        while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK):
            yield chunk

    return await _digest_stream(name, max_bytes, chunks)


async def _prepare_url(url: str, max_bytes: int, client: httpx.AsyncClient) -> PreparedUpload:
    """Download to a temporary file (streamed, capped), then upload from there."""
    try:
        check_url(url, setting=f"image URL {redact_url(url)}", show=False)
    except ConfigurationError as exc:
        raise UploadError(str(exc), code="source") from None
    fd, temp_name = tempfile.mkstemp(prefix="jimeng-upload-")
    os.close(fd)
    temp = Path(temp_name)
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise UploadError(
                    f"downloading the image failed with HTTP {response.status_code}",
                    code="source",
                )
            written = 0
            async with aiofiles.open(temp, "wb") as out:
                async for chunk in response.aiter_bytes(CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise _too_large("the image at the URL", max_bytes)
                    await out.write(chunk)
        prepared = await _prepare_path(temp, max_bytes)
    except httpx.RequestError as exc:
        await anyio.Path(temp).unlink(missing_ok=True)
        raise UploadError(f"downloading the image failed: {type(exc).__name__}") from None
    except BaseException:
        await anyio.Path(temp).unlink(missing_ok=True)
        raise
    prepared.name = "image URL"
    prepared.cleanup = lambda: temp.unlink(missing_ok=True)
    return prepared
