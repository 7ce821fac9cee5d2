"""Finished jobs and saving their files: streamed to disk, bounded, retried.

Result URLs are signed CDN links that expire, so `save()` is meant to run soon after the job
ends. Files are named `<history_id>-<index>.<ext>` so that saving again overwrites, not piles up.
A download is bounded by progress, not by a total: connecting, each read, and the time without
any new bytes (`StreamBounds`), so a large file on a slow link completes instead of restarting.
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import aiofiles
import anyio
import httpx
from pydantic import BaseModel, ConfigDict, PrivateAttr

from ._checks import check_directory
from ._decode import opt_int
from .auth import redact_url
from .concurrency import run_all
from .config import check_url
from .errors import (
    APIError,
    InvalidInputError,
    MalformedResponseError,
    RequestTimeoutError,
    SessionClosedError,
)
from .images import sniff_format
from .metrics import Metrics
from .models import Asset
from .transport import (
    RetryPolicy,
    StreamBounds,
    call_with_retries,
    measured,
    raise_for_status,
)

CHUNK = 256 * 1024


class Downloader:
    """Streams result files to disk for one session: bounded concurrency, retried failures."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        concurrency: int,
        policy: RetryPolicy,
        metrics: Metrics,
        bounds: StreamBounds,
        resolve: Callable[[Asset], Awaitable[str]] | None = None,
        max_bytes: int = 2 * 1024**3,
    ) -> None:
        self._client = client
        #: Picks the URL to fetch an asset from right before the download (e.g. a video's
        #: high-quality URL); by default the asset's own URL.
        self._resolve = resolve
        self._slots = anyio.Semaphore(concurrency)
        self._policy = policy
        self._metrics = metrics
        self._bounds = bounds
        self._max_bytes = max_bytes
        self.closed = False  # set when the session closes: saving needs an open session

    async def save_all(self, assets: list[Asset], directory: Path, history_id: str) -> list[Path]:
        """Download every asset into `directory`; returns the paths in asset order."""
        if self.closed:
            raise SessionClosedError("the session of this result is closed; save() needs one open")
        try:
            await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
        except OSError as exc:
            raise InvalidInputError(
                "directory",
                f"cannot be created or is a file ({exc.strerror or type(exc).__name__})",
                allowed="a directory path",
            ) from None
        paths: list[Path] = [
            directory / f"{history_id}-{index}.{_extension(asset)}"
            for index, asset in enumerate(assets)
        ]
        await run_all(
            partial(self._save_asset, asset, path)
            for asset, path in zip(assets, paths, strict=True)
        )
        return paths

    async def _save_asset(self, asset: Asset, path: Path) -> None:
        url = asset.url if self._resolve is None else await self._resolve(asset)
        await self._save_one(url, path, _media_kind(path))

    async def _save_one(self, url: str, path: Path, kind: MediaKind) -> None:
        check_url(url, setting=f"result URL {redact_url(url)}", show=False)
        async with self._slots:
            await call_with_retries(
                lambda _n: self._stream(url, path, kind),
                policy=self._policy,
                endpoint="download",
                metrics=self._metrics,
            )

    async def _stream(self, url: str, path: Path, kind: MediaKind) -> None:
        partial = path.with_name(path.name + ".part")
        context: dict[str, Any] = {"endpoint": "download"}
        try:
            async with measured(
                self._metrics,
                "download",
                label="GET download",
                limit=math.inf,  # bounded by progress below, not by a total
                context=context,
                detail=False,  # result links are signed
            ) as attempt:
                await self._receive(url, partial, kind, context)
                await anyio.to_thread.run_sync(os.replace, partial, path)
                attempt.ok = True
        except BaseException:
            with anyio.CancelScope(shield=True):  # clean up even when cancelled
                await anyio.Path(partial).unlink(missing_ok=True)
            raise

    async def _receive(
        self, url: str, partial: Path, kind: MediaKind, context: dict[str, Any]
    ) -> None:
        """Stream `url` into `partial`; fail if no new bytes arrive within the stall bound."""
        stall = self._bounds.stall
        with anyio.CancelScope(deadline=anyio.current_time() + stall) as progress:
            async with self._client.stream(
                "GET", url, timeout=self._bounds.httpx_timeout()
            ) as response:
                context["status"] = response.status_code
                raise_for_status(response, context)
                self._check_length(response, context)
                async with aiofiles.open(partial, "wb") as out:
                    await self._copy(response, out, kind, context, progress)
        if progress.cancelled_caught:
            raise RequestTimeoutError(
                f"no progress within {stall:g}s",
                context=context,
                hint="Check your connection or proxy, or raise Settings(stall_timeout=...) / "
                "JIMENG_STALL_TIMEOUT, then save() again.",
            )

    def _check_length(self, response: httpx.Response, context: dict[str, Any]) -> None:
        declared = opt_int(response.headers.get("content-length"), low=0, high=2**62)
        if declared is not None and declared > self._max_bytes:
            raise _too_large(self._max_bytes, context)

    async def _copy(
        self,
        response: httpx.Response,
        out: Any,
        kind: MediaKind,
        context: dict[str, Any],
        progress: anyio.CancelScope,
    ) -> None:
        """Write the body: its first bytes checked against `kind`, its size against the cap,
        each chunk moving the stall deadline on, and few large writes (each is a thread hop)."""
        stall = self._bounds.stall
        buffer = bytearray()
        checked = False
        written = 0
        async for chunk in response.aiter_bytes():
            progress.deadline = anyio.current_time() + stall
            written += len(chunk)
            if written > self._max_bytes:
                raise _too_large(self._max_bytes, context)
            buffer += chunk
            if not checked and len(buffer) >= _SNIFF_BYTES:
                check_media(bytes(buffer), response.headers.get("content-type"), kind, context)
                checked = True
            if checked and len(buffer) >= CHUNK:
                await out.write(bytes(buffer))
                buffer.clear()
        if not checked:  # a body shorter than the sniffing window
            check_media(bytes(buffer), response.headers.get("content-type"), kind, context)
        await out.write(bytes(buffer))


MediaKind = Literal["image", "video"]
_SNIFF_BYTES = 32
_VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "webm", "m4v"})


def _media_kind(path: Path) -> MediaKind:
    return "video" if path.suffix.lstrip(".") in _VIDEO_EXTENSIONS else "image"


def _too_large(max_bytes: int, context: dict[str, Any]) -> APIError:
    return APIError(
        f"the file is larger than max_download_bytes ({max_bytes} bytes)",
        code="DOWNLOAD_TOO_LARGE",
        context=context,
        hint="If the file is expected to be this large, raise Settings(max_download_bytes=...) "
        "/ JIMENG_MAX_DOWNLOAD_BYTES and save() again.",
    )


def check_media(
    head: bytes, content_type: str | None, kind: MediaKind, context: dict[str, Any]
) -> None:
    """Refuse a body that is not the expected media (an HTML error page served with 200).

    Images must start with a supported image signature (or HEIF/AVIF `ftyp`); videos with an
    MP4/QuickTime `ftyp` box or a WebM header. Retried as a malformed answer.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    is_ftyp = head[4:8] == b"ftyp"
    if kind == "image":
        ok = sniff_format(head) is not None or (is_ftyp and head[8:12] in _HEIF_BRANDS)
    else:
        ok = is_ftyp or head.startswith(b"\x1a\x45\xdf\xa3")
    if not ok or media.startswith(("text/", "application/json")):
        shown = media or "no content type"
        raise MalformedResponseError(
            f"the downloaded file is not a{'n' if kind == 'image' else ''} {kind} ({shown})",
            context=context,
        )


_HEIF_BRANDS = frozenset({b"heic", b"heix", b"mif1", b"avif", b"avis"})


def _extension(asset: Asset) -> str:
    fmt = (asset.format or "").lower().lstrip(".")
    if fmt in ("jpeg", "jpg"):
        return "jpg"
    return fmt or "bin"


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    history_id: str
    _downloader: Downloader | None = PrivateAttr(default=None)

    def attach(self, downloader: Downloader) -> None:
        """Give the result the session's downloader, so `save()` reuses its connections."""
        self._downloader = downloader

    @abstractmethod
    def assets(self) -> list[Asset]:
        """The files of this result, in order."""

    async def save(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Stream every file of the result into `directory`; returns the paths written."""
        path = check_directory(directory)
        if self._downloader is None:
            raise SessionClosedError(
                "this result is not attached to an open session; save() needs one",
                history_id=self.history_id,
            )
        return await self._downloader.save_all(self.assets(), path, self.history_id)


class ImageResult(_Result):
    """The images of a finished image job (usually 4)."""

    images: list[Asset]

    def assets(self) -> list[Asset]:
        return list(self.images)


class VideoResult(_Result):
    """The video of a finished video job, with its cover."""

    video: Asset

    def assets(self) -> list[Asset]:
        return [self.video]


Result = ImageResult | VideoResult
