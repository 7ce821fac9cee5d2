"""Signed, expiring result URLs and the `/cdn/...` route that serves the files behind them.

A URL is `<emulator>/cdn/<history_id>/<name>?x-expires=<unix s>&x-signature=<hex>`, the
signature an HMAC-SHA256 of path and expiry under a per-emulator secret. Expired or forged
URLs get 403, as the real CDN does. Files are rendered on first download and cached
(`media.MediaCache`); `<i>.hq.mp4` is the high-quality video that get_local_item_list names.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import media
from .state import Record

_NAME = re.compile(r"^(?:(?P<index>\d{1,2})\.(?P<ext>png|mp4|hq\.mp4)|cover\.png)$")


class ResultSigner:
    """Makes and checks signed result URLs."""

    def __init__(
        self,
        secret: bytes,
        *,
        base_url: Callable[[], str],
        wall: Callable[[], float],
        ttl: float,
    ) -> None:
        self._secret = secret
        self._base_url = base_url
        self._wall = wall
        self._ttl = ttl

    def _signature(self, path: str, expires: str) -> str:
        message = f"{path}|{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, history_id: str, name: str) -> str:
        """A URL for file `name` of record `history_id`, valid for the configured lifetime."""
        path = f"/cdn/{history_id}/{name}"
        expires = str(math.ceil(self._wall() + self._ttl))
        signature = self._signature(path, expires)
        return f"{self._base_url()}{path}?x-expires={expires}&x-signature={signature}"

    def allows(self, path: str, expires: str | None, signature: str | None) -> bool:
        """True if the signature matches and the URL has not expired."""
        if not expires or not signature or not expires.isdigit():
            return False
        if not hmac.compare_digest(self._signature(path, expires), signature):
            return False
        return self._wall() <= int(expires)


def _forbidden(reason: str) -> Response:
    return Response(f"Forbidden: {reason}", status_code=403, media_type="text/plain")


def _not_found() -> Response:
    return Response("Not Found", status_code=404, media_type="text/plain")


def result_renderer(record: Record, name: str) -> tuple[Callable[[], bytes], str] | None:
    """How to render file `name` of `record` and its content type, or None if it has none."""
    match = _NAME.match(name)
    if match is None:
        return None
    spec = record.spec
    prompt, job = spec.prompt, record.id
    if match["index"] is None:  # cover.png: a video's thumbnail
        if spec.kind != "video":
            return None
        width, height = media.cover_size(spec.width, spec.height)
        return (
            partial(media.render_png, width, height, prompt=prompt, job_id=job, label="cover"),
            "image/png",
        )
    index = int(match["index"])
    if index >= record.item_count:
        return None
    if spec.kind == "image" and match["ext"] == "png":
        label = f"image {index + 1} of {record.item_count}, {spec.width}x{spec.height}"
        render = partial(
            media.render_png, spec.width, spec.height, prompt=prompt, job_id=job, label=label
        )
        return render, "image/png"
    if spec.kind == "video" and match["ext"] in ("mp4", "hq.mp4"):
        render = partial(
            media.render_mp4, spec.width, spec.height, spec.duration_ms, prompt=prompt, job_id=job
        )
        return render, "video/mp4"
    return None


def cdn_routes(
    signer: ResultSigner, records: Callable[[str], Record | None], cache: media.MediaCache
) -> list[Route]:
    """The GET (and HEAD) route under /cdn/ that serves signed result files."""

    async def serve(request: Request) -> Response:
        query = request.query_params
        if not signer.allows(request.url.path, query.get("x-expires"), query.get("x-signature")):
            return _forbidden("the URL is expired or its signature is wrong")
        record = records(request.path_params["history_id"])
        name = request.path_params["name"]
        found = result_renderer(record, name) if record else None
        if record is None or found is None:
            return _not_found()
        render, media_type = found
        # The HQ video is the same picture: it shares the cache entry of the plain one.
        content = await cache.get((record.id, name.replace(".hq", "")), render)
        return Response(content, media_type=media_type, headers={"Cache-Control": "private"})

    return [Route("/cdn/{history_id}/{name}", serve, methods=["GET"])]
