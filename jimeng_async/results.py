"""Finished jobs and saving their files: streamed to disk, bounded, retried.

Result URLs are signed CDN links that expire, so `save()` is meant to run soon after the job
ends. Files are named `<history_id>-<index>.<ext>` so that saving again overwrites, not piles up.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiofiles
import anyio
import httpx
from pydantic import BaseModel, ConfigDict, PrivateAttr

from .auth import redact_url
from .concurrency import run_all
from .config import check_url
from .errors import JimengError
from .metrics import Metrics
from .models import Asset
from .transport import RetryPolicy, call_with_retries, measured, raise_for_status

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
        timeout: float,
        resolve: Callable[[Asset], Awaitable[str]] | None = None,
    ) -> None:
        self._client = client
        #: Picks the URL to fetch an asset from right before the download (e.g. a video's
        #: high-quality URL); by default the asset's own URL.
        self._resolve = resolve
        self._slots = anyio.Semaphore(concurrency)
        self._policy = policy
        self._metrics = metrics
        self._timeout = timeout

    async def save_all(self, assets: list[Asset], directory: Path, history_id: str) -> list[Path]:
        """Download every asset into `directory`; returns the paths in asset order."""
        await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
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
        await self._save_one(url, path)

    async def _save_one(self, url: str, path: Path) -> None:
        check_url(url, setting=f"result URL {redact_url(url)}", show=False)
        async with self._slots:
            await call_with_retries(
                lambda _n: self._stream(url, path),
                policy=self._policy,
                endpoint="download",
                metrics=self._metrics,
            )

    async def _stream(self, url: str, path: Path) -> None:
        partial = path.with_name(path.name + ".part")
        context: dict[str, Any] = {"endpoint": "download"}
        try:
            async with measured(
                self._metrics,
                "download",
                label="GET download",
                limit=self._timeout,
                context=context,
                detail=False,  # result links are signed
            ) as attempt:
                async with self._client.stream("GET", url) as response:
                    context["status"] = response.status_code
                    raise_for_status(response, context)
                    async with aiofiles.open(partial, "wb") as out:
                        async for chunk in response.aiter_bytes(CHUNK):
                            await out.write(chunk)
                await anyio.to_thread.run_sync(os.replace, partial, path)
                attempt.ok = True
        except BaseException:
            with anyio.CancelScope(shield=True):  # clean up even when cancelled
                await anyio.Path(partial).unlink(missing_ok=True)
            raise


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
        if self._downloader is None:
            raise JimengError("this result is not attached to an open session; save() needs one")
        return await self._downloader.save_all(self.assets(), Path(directory), self.history_id)


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
