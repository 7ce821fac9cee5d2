"""Upload sources: a path, bytes, a binary file object or an http(s) URL, checked before upload.

One pass over the content gives its size, CRC32 (zlib, incremental), header (format, width,
height), integrity (end markers, container sizes) and the key under which a session uploads it
once: a file's identity for a path, the SHA-256 of the content otherwise;
the upload then streams the content again from its origin, so memory stays bounded by the chunk
size whatever the file size. Every refusal is an `InvalidSourceError` naming the argument.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiofiles
import anyio
import httpx

from .auth import redact_url
from .config import check_url
from .errors import ConfigurationError, InvalidSourceError, UploadError
from .images import (
    HEADER_BYTES,
    PNG_END,
    SUPPORTED_FORMATS,
    TAIL_BYTES,
    ImageFormatError,
    ImageHeader,
    check_integrity,
    probe,
)

try:  # a CRC32 several times faster than zlib's, where the wheel exists (see pyproject.toml)
    from zlib_ng.zlib_ng import crc32
except ImportError:  # pragma: no cover - the same sum, slower
    from zlib import crc32

CHUNK = 256 * 1024
#: Reads of a file: big enough that a thread hop per read costs little against the transfer.
FILE_CHUNK = 1024 * 1024
#: The checking pass over a file reads and digests this much per worker-thread call.
DIGEST_SPAN = 8 * FILE_CHUNK

ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]

_KINDS = "a path, bytes, a binary file opened for reading, an http(s) URL or an ImageRef"
_URL_HINT = (
    "Check that the URL serves the image over https and is reachable from here, or download "
    "it yourself and pass the file."
)


@dataclass
class PreparedUpload:
    """Content that passed the checks, with a way to stream it again."""

    name: str
    size: int
    crc32: str
    #: What a session's upload cache knows this content by: the same key, the same bytes.
    key: str
    header: ImageHeader
    chunks: Callable[[], AsyncIterator[bytes]]
    cleanup: Callable[[], None] = field(default=lambda: None)


class _Digest:
    """Size, CRC32, the leading and the trailing bytes and (if asked) the SHA-256, fed one
    chunk at a time."""

    def __init__(self, field: str, max_bytes: int, *, content_hash: bool = True) -> None:
        self.field = field
        self.max_bytes = max_bytes
        self.size = 0
        self.crc = 0
        # The SHA-256 costs more than the rest of the pass together (issue #15): only where
        # nothing cheaper tells the same content apart.
        self.sha = hashlib.sha256() if content_hash else None
        self.head = bytearray()
        self.tail = b""
        self.png_end_seen = False

    def feed(self, chunk: bytes) -> None:
        if not isinstance(chunk, bytes | bytearray):
            raise _refuse(self.field, "is not a binary source (it reads text)")
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise _too_large(self.field, self.max_bytes)
        self.crc = crc32(chunk, self.crc)
        if self.sha is not None:
            self.sha.update(chunk)
        if len(self.head) < HEADER_BYTES:
            self.head += chunk[: HEADER_BYTES - len(self.head)]
        if not self.png_end_seen:  # the IEND chunk, possibly split between two chunks
            edge = self.tail[-len(PNG_END) + 1 :] + chunk[: len(PNG_END) - 1]
            self.png_end_seen = PNG_END in chunk or PNG_END in edge
        self.tail = (self.tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]

    def finish(
        self, name: str, chunks: Callable[[], AsyncIterator[bytes]], *, identity: str = ""
    ) -> PreparedUpload:
        """The checked upload; its cache key is the SHA-256, or `identity` plus size and CRC32."""
        if self.size == 0:
            raise InvalidSourceError(self.field, "is empty", reason="empty")
        try:
            header = probe(bytes(self.head))
            check_integrity(
                header, bytes(self.head), self.tail, self.size, png_end_seen=self.png_end_seen
            )
        except ImageFormatError as exc:
            raise InvalidSourceError(
                self.field, str(exc), reason="format", allowed=", ".join(SUPPORTED_FORMATS)
            ) from None
        crc32 = f"{self.crc & 0xFFFFFFFF:08x}"
        if self.sha is not None:
            key = "sha256:" + self.sha.hexdigest()
        else:
            key = f"file:{identity}:{self.size}:{crc32}"
        return PreparedUpload(
            name=name,
            size=self.size,
            crc32=crc32,
            key=key,
            header=header,
            chunks=chunks,
        )


def _too_large(field: str, max_bytes: int) -> InvalidSourceError:
    return InvalidSourceError(
        field, f"is larger than the upload limit of {max_bytes} bytes", reason="too_large"
    )


def _refuse(field: str, message: str) -> InvalidSourceError:
    return InvalidSourceError(field, message, reason="source", allowed=_KINDS)


async def prepare(
    source: Any,
    *,
    max_bytes: int,
    client: httpx.AsyncClient,
    field: str = "source",
    download_timeout: float = 60.0,
) -> PreparedUpload:
    """Check and digest an upload source before any upload request.

    Raises `InvalidSourceError` naming `field` when the source is of the wrong kind, unreadable,
    not a supported image, truncated, corrupt or too large; `UploadError` when a URL cannot be
    downloaded within `download_timeout` seconds.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        return _prepare_bytes(bytes(source), max_bytes, field)
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return await _prepare_url(source, max_bytes, client, field, download_timeout)
    if isinstance(source, str | os.PathLike):
        return await _prepare_path(source, max_bytes, field)
    if isinstance(source, io.TextIOBase):
        raise _refuse(field, f"is a text stream ({type(source).__name__})")
    if callable(getattr(source, "read", None)):
        return await _prepare_file(source, max_bytes, field)
    raise _refuse(field, f"cannot upload a {type(source).__name__}")


def _prepare_bytes(data: bytes, max_bytes: int, field: str, name: str = "") -> PreparedUpload:
    if len(data) > max_bytes:
        raise _too_large(field, max_bytes)
    digest = _Digest(field, max_bytes)
    digest.feed(data)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]

    return digest.finish(name or "image bytes", chunks)


async def _digest_stream(
    field: str, name: str, max_bytes: int, chunks: Callable[[], AsyncIterator[bytes]]
) -> PreparedUpload:
    """The checking pass over a source that `chunks()` can stream again for the upload."""
    digest = _Digest(field, max_bytes)
    try:
        async for chunk in chunks():
            digest.feed(chunk)
    except InvalidSourceError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: I/O on a file closed meanwhile
        raise _refuse(field, f"cannot be read ({type(exc).__name__})") from None
    return digest.finish(name, chunks)


async def _prepare_path(
    source: str | os.PathLike[str], max_bytes: int, field: str, *, content_hash: bool = False
) -> PreparedUpload:
    """Check a file in one pass. Its cache key is the file's identity (device, inode, change
    times), size and CRC32, unless `content_hash` asks for the SHA-256 of its content."""
    try:
        path = Path(source)
        info = await anyio.to_thread.run_sync(path.stat)
    except (OSError, ValueError, TypeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise _refuse(field, f"cannot read the file ({reason})") from None
    if stat.S_ISDIR(info.st_mode):
        raise _refuse(field, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(field, "is not a regular file")
    if info.st_size > max_bytes:
        raise _too_large(field, max_bytes)

    async def chunks() -> AsyncIterator[bytes]:
        async with aiofiles.open(path, "rb") as handle:
            while chunk := await handle.read(FILE_CHUNK):
                yield chunk

    digest = _Digest(field, max_bytes, content_hash=content_hash)
    try:
        # One pass, a few thread hops: each call reads and digests DIGEST_SPAN bytes.
        handle = await anyio.to_thread.run_sync(path.open, "rb")
        try:
            while await anyio.to_thread.run_sync(_digest_span, handle, digest):
                pass
        finally:
            handle.close()
    except InvalidSourceError:
        raise
    except (OSError, ValueError) as exc:
        raise _refuse(field, f"cannot be read ({type(exc).__name__})") from None
    # A file rewritten in place changes its modification time (and almost surely its CRC32).
    identity = f"{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    return digest.finish(path.name, chunks, identity=identity)


def _digest_span(handle: IO[bytes], digest: _Digest) -> bool:
    """Read and digest up to DIGEST_SPAN bytes (in a worker thread); False at the end."""
    for _ in range(DIGEST_SPAN // FILE_CHUNK):
        chunk = handle.read(FILE_CHUNK)
        if not chunk:
            return False
        digest.feed(chunk)
    return True


def _check_handle(handle: Any, field: str) -> None:
    """Refuse a closed, write-only or text-mode file object before reading it."""
    if getattr(handle, "closed", False):
        raise _refuse(field, "is a closed file")
    readable = getattr(handle, "readable", None)
    if callable(readable):
        try:
            ok = readable()
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise _refuse(field, "is a file not open for reading")
    mode = getattr(handle, "mode", None)
    if isinstance(mode, str) and "b" not in mode:
        raise _refuse(field, f"is a file opened in text mode ({mode!r}); open it with 'rb'")


async def _prepare_file(handle: IO[bytes], max_bytes: int, field: str) -> PreparedUpload:
    _check_handle(handle, field)
    raw_name = getattr(handle, "name", None)
    name = os.path.basename(raw_name) if isinstance(raw_name, str) else "file object"
    try:
        seekable = bool(getattr(handle, "seekable", lambda: False)())
    except (OSError, ValueError):
        seekable = False
    if not seekable:  # one pass only: keep it, bounded by the cap
        try:
            data = await anyio.to_thread.run_sync(handle.read, max_bytes + 1)
        except (OSError, ValueError) as exc:
            raise _refuse(field, f"cannot be read ({type(exc).__name__})") from None
        if not isinstance(data, bytes | bytearray):
            raise _refuse(field, "is not a binary source (it reads text)")
        return _prepare_bytes(bytes(data), max_bytes, field, name)
    try:
        start = await anyio.to_thread.run_sync(handle.tell)
    except (OSError, ValueError) as exc:
        raise _refuse(field, f"cannot be read ({type(exc).__name__})") from None

    async def chunks() -> AsyncIterator[bytes]:
        await anyio.to_thread.run_sync(handle.seek, start)
        while chunk := await anyio.to_thread.run_sync(handle.read, CHUNK):
            yield chunk

    return await _digest_stream(field, name, max_bytes, chunks)


async def _prepare_url(
    url: str, max_bytes: int, client: httpx.AsyncClient, field: str, limit: float
) -> PreparedUpload:
    """Download to a temporary file (streamed, capped, within `limit` seconds), check it from there.

    The temporary file is removed on every exit path, cancellation included, and once the
    upload is done through `PreparedUpload.cleanup`.
    """
    shown = redact_url(url)
    try:
        check_url(url, setting=f"{field} ({shown})", show=False)
    except ConfigurationError as exc:
        raise _refuse(field, exc.message) from None
    fd, temp_name = tempfile.mkstemp(prefix="jimeng-upload-")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as out:  # closed here on every path, even when cancelled
            with anyio.fail_after(limit):
                await _download(client, url, out, max_bytes, field)
        # A temporary file has no identity worth keeping: the same image is its content.
        prepared = await _prepare_path(temp, max_bytes, field, content_hash=True)
    except TimeoutError:
        _remove(temp)
        raise UploadError(
            f"{field}: downloading {shown} took longer than {limit:g}s",
            reason="source",
            hint=_URL_HINT + " Settings(source_download_timeout=...) sets the limit.",
        ) from None
    except httpx.RequestError as exc:
        _remove(temp)
        raise UploadError(
            f"{field}: downloading {shown} failed ({type(exc).__name__})",
            reason="source",
            hint=_URL_HINT,
        ) from None
    except BaseException:
        _remove(temp)  # synchronous: a cancelled scope cannot skip it
        raise
    prepared.name = "image URL"
    prepared.cleanup = lambda: _remove(temp)
    return prepared


async def _download(
    client: httpx.AsyncClient, url: str, out: IO[bytes], max_bytes: int, field: str
) -> None:
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise UploadError(
                f"{field}: downloading the image failed with HTTP {response.status_code}",
                reason="source",
                hint=_URL_HINT,
            )
        written = 0
        async for chunk in response.aiter_bytes(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise _too_large(field, max_bytes)
            await anyio.to_thread.run_sync(out.write, chunk)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
