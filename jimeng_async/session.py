"""`JimengSession`: one account's client. It owns the account's limits, caches and poller.

Everything the account does goes through here: the web API through its `Transport` (at most
`max_queries` in flight), uploads through `ImageXUploader` (at most `max_uploads` whole flows in
flight), and waiting on jobs through its one `Poller`, which the waiting tasks drive in turns.
Like `httpx.AsyncClient`, the session holds no background task: it works with or without
`async with` and closes from any task, in any order.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import Any, Literal, overload
from urllib.parse import unquote, urlsplit

import anyio
import httpx

from . import drafts
from ._checks import check_instance, check_time_zone, check_timeout
from ._redact import forget_secret, register_secret
from .auth import mask_token, redact_url, split_token, validate_token
from .cache import TTLCache
from .concurrency import run_all
from .config import Settings
from .errors import (
    APIError,
    AuthError,
    ContentFilteredError,
    InsufficientCreditsError,
    InvalidInputError,
    ResponseFieldError,
    SessionClosedError,
    SignerRequiredError,
)
from .imagex import ImageXUploader
from .inputs import ImageRequest, VideoRequest
from .metrics import Metrics
from .models import (
    AccountInfo,
    Asset,
    CreditInfo,
    CreditReceipt,
    ImageRef,
    Kind,
    TaskStatus,
    hq_video_url,
)
from .polling import Poller
from .registry import estimated_cost
from .results import Downloader, ImageResult, VideoResult
from .signer import SIGNER_HELP, RequestSigner
from .slots import QuerySlots, job_order
from .sources import PreparedUpload, prepare
from .tasks import GenerationTask, ProgressCallback, check_progress_callback, follow
from .transport import (
    ACCOUNT_INFO,
    ALGO_PROXY,
    CREDIT_RECEIVE,
    GENERATE,
    HISTORY,
    LOCAL_ITEMS,
    USER_CREDIT,
    StreamBounds,
    Transport,
    check_proxy,
    new_http_client,
)
from .types import (
    Duration,
    ImageModelName,
    ImageSource,
    Ratio,
    Resolution,
    VideoModelName,
    VideoRatio,
    VideoResolution,
)

_KINDS: tuple[Kind, ...] = ("image", "video")

#: Where `JimengSession()` without a token finds one.
TOKEN_ENV = "JIMENG_TOKEN"

logger = logging.getLogger("jimeng_async")

#: The babi_param of the cn content check (PROTOCOL.md §7), url-encoded by httpx.
_ALGO_PROXY_BABI = drafts.compact_json(
    {
        "scenario": "image_video_generation",
        "feature_key": "aigc_to_image",
        "feature_entrance": "to-generate",
        "feature_entrance_detail": "to-generate-algo_proxy",
    }
)
#: The ret with which the content check refuses an image ("risk not pass").
_CONTENT_REFUSED_RET = "2003"


class JimengSession:
    """An async session for one refresh token (the region comes from its prefix).

    It works as soon as it is made; `async with` is optional and `aclose()` may be called
    from any task, any number of times. Without `refresh_token` it reads `JIMENG_TOKEN`.
    `proxy` (an http(s):// or socks5:// URL) overrides `Settings.proxy` for this session's
    traffic. Pass `http_client` to share connections between sessions (give it no cookie jar:
    see `transport.new_http_client`); `proxy` cannot be combined with it. `request_signer`
    overrides `Settings.request_signer` (see `jimeng_async.signer`).
    """

    def __init__(
        self,
        refresh_token: str | None = None,
        *,
        settings: Settings | None = None,
        proxy: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        request_signer: RequestSigner | None = None,
    ) -> None:
        refresh_token = _token_or_environment(refresh_token)
        validate_token(refresh_token)
        check_instance(settings, Settings, field="settings", allowed="None or a Settings")
        check_instance(
            http_client, httpx.AsyncClient, field="http_client", allowed="None or httpx.AsyncClient"
        )
        if proxy is not None:
            check_proxy(proxy, field="proxy")
            if http_client is not None:
                raise InvalidInputError(
                    "proxy", "cannot be combined with http_client (set the proxy on that client)"
                )
        self.settings = settings or Settings()
        self.region, session_id = split_token(refresh_token)
        self.profile = self.settings.profile(self.region)
        # Made before the secrets are registered: a refused proxy or CA bundle leaves none.
        self._owns_client = http_client is None
        self._client = http_client or new_http_client(self.settings, proxy=proxy)
        self._secrets = (refresh_token, session_id, *_proxy_password(proxy or self.settings.proxy))
        for secret in self._secrets:
            register_secret(secret)  # redacted from every log line and message from now on
        self.masked_token = mask_token(refresh_token)
        self.metrics = Metrics()
        self._upload_slots = anyio.Semaphore(self.settings.max_uploads)
        self.transport = Transport(
            client=self._client,
            settings=self.settings,
            profile=self.profile,
            session_id=session_id,
            metrics=self.metrics,
            query_slots=QuerySlots(self.settings.max_queries),
            signer=request_signer,
        )
        self._uploader = ImageXUploader(transport=self.transport, client=self._client)
        self._on_outcome = self._count_outcome  # one bound method for every task
        self._credit_left: int | None = None  # last balance seen, less the costs checked since
        self._credit_seen = -math.inf
        self._downloader = Downloader(
            self._client,
            concurrency=self.settings.download_concurrency,
            policy=self.transport.policy,
            metrics=self.metrics,
            bounds=StreamBounds.from_settings(self.settings),
            resolve=self._download_url,
            max_bytes=self.settings.max_download_bytes,
        )
        self._accounts: TTLCache[AccountInfo] = TTLCache(self.settings.account_ttl)
        self._credits: TTLCache[CreditInfo] = TTLCache(self.settings.credit_ttl)
        self._uploads: TTLCache[ImageRef] = TTLCache(self.settings.upload_ttl)
        self._poller = Poller(
            self._fetch_history, self.settings, contended=lambda: self.transport.backlog > 0
        )
        self._entered = False
        self._last_total: int | None = None
        self._closed = False
        #: The session that owns the shared machinery (itself, or the one a view came from).
        self._root = self

    def __repr__(self) -> str:
        root = self._root
        state = "closed" if root._closed else ("open" if root._entered else "new")
        return f"JimengSession(region={self.region!r}, token={self.masked_token!r}, {state})"

    def with_options(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        generation_timeout: float | None = None,
    ) -> JimengSession:
        """A view of this session with other per-call options; the session is unchanged.

        `timeout` is the time-out of each web API request (`Settings.request_timeout`),
        `max_retries` the retries of a retryable failure, `generation_timeout` the limit of the
        view's jobs. The view shares everything else: the account's limits, caches, metrics,
        connections and poller, so it is cheap to make per call
        (`await s.with_options(max_retries=0).credits()`). Closing a view closes the session.
        """
        self._require_open()
        changes: dict[str, Any] = {}
        for field, value, setting in (
            ("timeout", timeout, "request_timeout"),
            ("generation_timeout", generation_timeout, "generation_timeout"),
        ):
            if value is not None:
                seconds = check_timeout(value, field=field)
                if not seconds:
                    raise InvalidInputError(field, "is 0", allowed="a number of seconds > 0")
                changes[setting] = seconds
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int):
                raise InvalidInputError("max_retries", "is not an integer", allowed="0 to 10")
            if not 0 <= max_retries <= 10:
                raise InvalidInputError("max_retries", f"is {max_retries}", allowed="0 to 10")
            changes["max_retries"] = max_retries
        view = copy.copy(self)
        view.settings = self.settings.replace(**changes) if changes else self.settings
        view.transport = self.transport.derive(view.settings)
        view._uploader = ImageXUploader(transport=view.transport, client=self._client)
        return view

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> JimengSession:
        self._require_open()
        self._root._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session from any task, any number of times.

        Waiters of its jobs get `SessionClosedError` at once (the jobs stay resumable by id);
        every later call raises it too. The HTTP client is closed if the session made it.
        Closing a view from `with_options()` closes the session it came from.
        """
        root = self._root
        if root._closed:
            return
        root._closed = True
        root.transport.closed = True  # shared by every view's transport
        root._downloader.closed = True
        for secret in root._secrets:
            forget_secret(secret)
        root._poller.close()
        if root._owns_client:
            await root._client.aclose()

    # -- account and credits ---------------------------------------------------------------

    async def account_info(self, *, refresh: bool = False) -> AccountInfo:
        """Who the token belongs to; cached for `Settings.account_ttl` (10 minutes)."""
        self._require_open()

        async def load() -> AccountInfo:
            return AccountInfo.from_data(await self.transport.call(ACCOUNT_INFO))

        return await self._accounts.get(
            "account", load, refresh=refresh, on_hit=lambda: self._hit(ACCOUNT_INFO.name)
        )

    async def credits(self, *, refresh: bool = False) -> CreditInfo:
        """The account's credits; cached for `Settings.credit_ttl` (30 seconds)."""
        self._require_open()

        async def load() -> CreditInfo:
            info = CreditInfo.from_data(await self.transport.call(USER_CREDIT))
            self._observe_balance(info.total)
            self._credit_left = info.total
            self._credit_seen = anyio.current_time()
            return info

        return await self._credits.get(
            "credits", load, refresh=refresh, on_hit=lambda: self._hit(USER_CREDIT.name)
        )

    async def receive_credits(self, *, time_zone: str | None = None) -> CreditReceipt:
        """Receive today's free credits (a second call the same day receives nothing).

        The answer no longer carries the new total, so the balance is read again after it
        (that read is not cached: the next `credits()` asks the service again).
        """
        self._require_open()
        zone = check_time_zone(time_zone) or self.profile.time_zone
        try:
            data = await self.transport.call(CREDIT_RECEIVE, {"time_zone": zone})
            balance = CreditInfo.from_data(await self.transport.call(USER_CREDIT))
        finally:
            self._credits.invalidate()
        self._observe_balance(balance.total)
        return CreditReceipt.from_data(data, total=balance.total)

    async def token_alive(self) -> bool:
        """Whether the service still accepts the token (asks it, bypassing the cache)."""
        try:
            await self.account_info(refresh=True)
        except AuthError:
            return False
        return True

    def _observe_balance(self, total: int) -> None:
        """Credits spent, as the balance shows them: each drop since the last look counts."""
        root = self._root  # views share the account's last reading
        if root._last_total is not None and total < root._last_total:
            self.metrics.tasks.credits_spent += root._last_total - total
        root._last_total = total

    def _hit(self, endpoint: str) -> None:
        self.metrics.record_cache_hit(endpoint)

    # -- uploads ---------------------------------------------------------------------------

    async def upload_image(self, source: ImageSource) -> ImageRef:
        """Upload an image (path, bytes, binary file, http(s) URL; an ImageRef is returned as is).

        It is checked first (kind, format, integrity, dimensions, size) with no request sent.
        Within `Settings.upload_ttl`, the same file (unchanged) or the same bytes uploaded again
        or concurrently is uploaded once (a file is known by its identity, size and CRC32, so
        that its check needs no SHA-256 pass; bytes and downloaded URLs by their SHA-256).
        """
        self._require_open()
        if isinstance(source, ImageRef):
            return source
        prepared = await self._prepare(source, "source")
        try:
            return await self._upload_prepared(prepared)
        finally:
            prepared.cleanup()

    async def _prepare(self, source: Any, field: str) -> PreparedUpload:
        return await prepare(
            source,
            max_bytes=self.settings.max_upload_bytes,
            client=self._client,
            field=field,
            download_timeout=self.settings.source_download_timeout,
        )

    async def _upload_prepared(self, prepared: PreparedUpload) -> ImageRef:
        async def load() -> ImageRef:
            async with self._upload_slots:
                return await self._uploader.upload(prepared)

        return await self._uploads.get(prepared.key, load)

    async def _prepare_all(self, sources: Sequence[tuple[str, ImageSource]]) -> list[Prepared]:
        """Check every source (named by its argument) before anything is sent for any of them.

        On failure the temporary files of the sources already prepared are removed.
        """
        prepared: list[Prepared] = []
        try:
            for field, source in sources:
                prepared.append(
                    source if isinstance(source, ImageRef) else await self._prepare(source, field)
                )
        except BaseException:
            _cleanup(prepared)
            raise
        return prepared

    async def _upload_all(self, prepared: Sequence[Prepared]) -> list[ImageRef]:
        """Upload checked sources concurrently (ImageRefs pass through); always cleans up."""
        refs: list[ImageRef | None] = [None] * len(prepared)

        async def one(index: int, item: Prepared) -> None:
            refs[index] = item if isinstance(item, ImageRef) else await self._upload_prepared(item)

        try:
            await run_all(partial(one, index, item) for index, item in enumerate(prepared))
        finally:
            _cleanup(prepared)
        return [ref for ref in refs if ref is not None]

    # -- generation ------------------------------------------------------------------------

    async def submit_image(
        self,
        prompt: str,
        *,
        model: ImageModelName | str = drafts.DEFAULT_IMAGE_MODEL,
        ratio: Ratio = "1:1",
        resolution: Resolution | None = None,
        negative_prompt: str = "",
        sample_strength: float = 0.5,
        seed: int | None = None,
        intelligent_ratio: bool = False,
        images: Sequence[ImageSource] | None = None,
        submit_id: str | None = None,
    ) -> GenerationTask[ImageResult]:
        """Submit a text-to-image job, or a blend when `images` (1 to 10) are given.

        `model` is an alias (`jm.models(region=...)` lists the token's region's) or a raw
        model id, passed through unchecked. `resolution` defaults to the model's own (2k for
        most); `sample_strength` (0 to 1) weighs the blend images; `seed` (0 to 2**32 - 1)
        repeats a generation. `submit_id` is the job's idempotency key (a fresh uuid by
        default): submitting again with the same one, e.g. after an error whose
        `submit_id` attribute names it, returns the same job and is not charged twice.
        """
        self._require_open()
        submit_id = _check_submit_id(submit_id)
        request = ImageRequest.build(
            prompt=prompt,
            model=model,
            ratio=ratio,
            resolution=resolution,
            negative_prompt=negative_prompt,
            sample_strength=sample_strength,
            seed=seed,
            intelligent_ratio=intelligent_ratio,
            region=self.region,
        )
        if images is not None:
            if isinstance(images, str | bytes) or not isinstance(images, Sequence):
                raise InvalidInputError("images", "must be a list of images", allowed="1 to 10")
            drafts.check_image_count(len(images))
        sources = [(f"images[{i}]", x) for i, x in enumerate(images or [])]

        def draft(refs: list[ImageRef]) -> dict[str, Any]:
            return drafts.build_image_draft(
                request,
                images=[_uploaded(r) for r in refs],
                version=self.settings.effective_draft_version,
            )

        cost = _image_cost(request.model, request.resolution)
        submitted = await self._run_job(sources, cost, draft, request.model_id, submit_id, "image")
        return self._task(submitted, "image")

    async def submit_video(
        self,
        prompt: str,
        *,
        model: VideoModelName | str = drafts.DEFAULT_VIDEO_MODEL,
        ratio: VideoRatio = "16:9",
        resolution: VideoResolution | None = None,
        duration: Duration | None = None,
        seed: int | None = None,
        first_frame: ImageSource | None = None,
        end_frame: ImageSource | None = None,
        submit_id: str | None = None,
    ) -> GenerationTask[VideoResult]:
        """Submit a video job from text, or from a first and/or an end frame.

        `model` is an alias or a raw model id, as for `submit_image`. `duration` (whole
        seconds) defaults to the model's own (5 s where it takes 5 s); `resolution` is only for
        the models that take one (3.0 and 3.0-fast, 720p by default). Seedance 2.0 needs a
        request signer. `submit_id` is the job's idempotency key, as for `submit_image`.
        """
        self._require_open()
        submit_id = _check_submit_id(submit_id)
        request = VideoRequest.build(
            prompt=prompt,
            model=model,
            ratio=ratio,
            resolution=resolution,
            duration=duration,
            seed=seed,
            region=self.region,
        )
        registered = request.registered_model
        signer_missing = self.transport.signer is None
        if registered is not None and registered.needs_browser_signature and signer_missing:
            raise SignerRequiredError(f"{registered.alias}: {SIGNER_HELP}")
        frames = [
            (name, frame)
            for name, frame in (("first_frame", first_frame), ("end_frame", end_frame))
            if frame is not None
        ]

        def draft(refs: list[ImageRef]) -> dict[str, Any]:
            uploaded = iter(refs)
            first = _uploaded(next(uploaded)) if first_frame is not None else None
            end = _uploaded(next(uploaded)) if end_frame is not None else None
            return drafts.build_video_draft(
                request,
                first_frame=first,
                end_frame=end,
                submit_id=submit_id,
                version=self.settings.effective_draft_version,
            )

        submitted = await self._run_job(frames, None, draft, request.model_id, submit_id, "video")
        return self._task(submitted, "video")

    async def generate_image(
        self,
        prompt: str,
        *,
        model: ImageModelName | str = drafts.DEFAULT_IMAGE_MODEL,
        ratio: Ratio = "1:1",
        resolution: Resolution | None = None,
        negative_prompt: str = "",
        sample_strength: float = 0.5,
        seed: int | None = None,
        intelligent_ratio: bool = False,
        images: Sequence[ImageSource] | None = None,
        submit_id: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ImageResult:
        """Submit an image job (parameters as `submit_image`) and wait for its result.

        `on_progress`, a plain or async callable, receives each `Progress` of the job (the
        steps `task.progress()` yields), e.g. to edit a chat message as it moves up the queue.
        """
        check_progress_callback(on_progress)
        task = await self.submit_image(
            prompt,
            model=model,
            ratio=ratio,
            resolution=resolution,
            negative_prompt=negative_prompt,
            sample_strength=sample_strength,
            seed=seed,
            intelligent_ratio=intelligent_ratio,
            images=images,
            submit_id=submit_id,
        )
        return await follow(task, on_progress)

    async def generate_video(
        self,
        prompt: str,
        *,
        model: VideoModelName | str = drafts.DEFAULT_VIDEO_MODEL,
        ratio: VideoRatio = "16:9",
        resolution: VideoResolution | None = None,
        duration: Duration | None = None,
        seed: int | None = None,
        first_frame: ImageSource | None = None,
        end_frame: ImageSource | None = None,
        submit_id: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> VideoResult:
        """Submit a video job (parameters as `submit_video`) and wait for its result.

        `on_progress` receives each `Progress` of the job, as for `generate_image`.
        """
        check_progress_callback(on_progress)
        task = await self.submit_video(
            prompt,
            model=model,
            ratio=ratio,
            resolution=resolution,
            duration=duration,
            seed=seed,
            first_frame=first_frame,
            end_frame=end_frame,
            submit_id=submit_id,
        )
        return await follow(task, on_progress)

    @overload
    def resume(
        self,
        history_id: str,
        *,
        kind: Literal["image"],
        submit_id: str | None = None,
        created_at: float | None = None,
    ) -> GenerationTask[ImageResult]: ...

    @overload
    def resume(
        self,
        history_id: str,
        *,
        kind: Literal["video"],
        submit_id: str | None = None,
        created_at: float | None = None,
    ) -> GenerationTask[VideoResult]: ...

    @overload
    def resume(
        self,
        history_id: str,
        *,
        kind: Kind | None = None,
        submit_id: str | None = None,
        created_at: float | None = None,
    ) -> GenerationTask[ImageResult | VideoResult]: ...

    def resume(
        self,
        history_id: str,
        *,
        kind: Kind | None = None,
        submit_id: str | None = None,
        created_at: float | None = None,
    ) -> GenerationTask[Any]:
        """Re-attach to a job by id (from this or another process of the same account).

        The kind (image or video) is read from the record; `kind` only tunes the first poll.
        The generation limit starts again from now. An id the service does not know raises
        `JobNotFoundError` once it has been absent for `Settings.job_not_found_grace`.
        """
        self._require_open()
        if not isinstance(history_id, str) or not history_id:
            raise InvalidInputError("history_id", "must be a non-empty string")
        if kind is not None and kind not in _KINDS:
            raise InvalidInputError("kind", f"{kind!r} is not allowed", allowed="image, video")
        return self._attach(history_id, kind, submit_id, created_at)

    async def _check_contents(self, inputs: Sequence[tuple[str, ImageRef]]) -> None:
        """The cn content check of uploaded inputs (PROTOCOL.md §7), when it is turned on.

        A refusal fails with ContentFilteredError naming the input; any other failure of the
        check does not block (it is advisory: generation checks again).
        """
        if not (self.settings.content_check and self.profile.name == "cn"):
            return
        for name, ref in inputs:
            body = {
                "scene": "image_face_ip",
                "options": {"ip_check": True},
                "req_key": "benchmark_test_user_upload_image_input",
                "file_list": [{"file_uri": ref.uri}],
                "req_params": {},
            }
            try:
                await self.transport.call(ALGO_PROXY, body, params={"babi_param": _ALGO_PROXY_BABI})
            except APIError as exc:
                if exc.ret == _CONTENT_REFUSED_RET:
                    raise ContentFilteredError(
                        f"{name}: the service's content check refused this image ({exc.message})",
                        context={**exc.context, "input": name},
                        ret=_CONTENT_REFUSED_RET,
                    ) from None
                logger.info("content check of %s skipped after %s", name, exc.code)

    async def _download_url(self, asset: Asset) -> str:
        """The URL to download `asset` from: for a video, the high-quality one when the
        service gives it (get_local_item_list), else the history URL."""
        if not (self.settings.hq_video_url and asset.media == "video" and asset.item_id):
            return asset.url
        body = {
            "item_id_list": [asset.item_id],
            "pack_item_opt": {"scene": 1, "need_data_integrity": True},
            "is_for_video_download": True,
        }
        try:
            url = hq_video_url(await self.transport.call(LOCAL_ITEMS, body))
        except APIError as exc:
            logger.info("high-quality video URL unavailable (%s); using the history URL", exc.code)
            return asset.url
        if url is None:
            return asset.url
        logger.debug("downloading the high-quality video %s", redact_url(url))
        return url

    async def _ensure_credits(self, cost: int | None = None) -> None:
        """If the total is 0 or less, receive the daily credits once; fail if still short.

        With the job's estimated `cost`, no query is made while the last balance seen, less
        the estimated costs of the jobs checked since, still covers it: a batch of submits
        does not check the balance once per job (each submit outdates the cached one). The
        balance counts for `Settings.credit_ttl`, as a cached one does.
        """
        fresh = anyio.current_time() - self._credit_seen < self.settings.credit_ttl
        left = self._credit_left if fresh else None
        if cost is not None and left is not None and left >= cost:
            self._credit_left = left - cost
            return
        info = await self.credits()
        if info.total <= 0:
            receipt = await self.receive_credits()
            if receipt.total <= 0:
                raise InsufficientCreditsError(
                    "no credits left and none to receive today", context={"endpoint": "credits"}
                )
        if cost is not None and self._credit_left is not None:
            self._credit_left -= cost  # this job's share of the balance just seen

    async def _run_job(
        self,
        sources: Sequence[tuple[str, ImageSource]],
        cost: int | None,
        draft: Callable[[list[ImageRef]], dict[str, Any]],
        model_id: str,
        submit_id: str,
        kind: Kind,
    ) -> tuple[str, str]:
        """Check, pay for and upload a job's inputs (named by their arguments), then submit the
        draft made from them. Every query of the job (credits, upload tokens, content checks,
        generate) keeps the place in line the job takes here: see `slots.job_order`."""
        with job_order():
            prepared = await self._prepare_all(sources)
            try:
                await self._ensure_credits(cost)
            except BaseException:
                _cleanup(prepared)
                raise
            refs = await self._upload_all(prepared)
            await self._check_contents(
                [(name, ref) for (name, _), ref in zip(sources, refs, strict=True)]
            )
            return await self._submit(draft(refs), model_id, submit_id, kind)

    async def _submit(
        self, draft: dict[str, Any], model_id: str, submit_id: str, kind: Kind
    ) -> tuple[str, str]:
        """Send the generate request; returns the job's (history id, submit id)."""
        body = drafts.build_generate_body(
            draft=draft,
            model_id=model_id,
            submit_id=submit_id,
            aid=self.profile.aid,
            video=kind == "video",
        )
        # The body carries submit_id, so a retry cannot start a second paid job.
        try:
            data = await self.transport.call(GENERATE, body, retry_safe=True)
        except APIError as exc:
            exc.submit_id = submit_id  # the key to submit again without paying twice
            if exc.retryable:  # the job may exist: say how to get it without paying again
                exc.hint = (
                    f"{exc.hint} The job may exist: submit again with submit_id=exc.submit_id "
                    "and it is charged once."
                )
            raise
        finally:
            self._credits.invalidate()
        aigc = data.get("aigc_data")
        history_id = aigc.get("history_record_id") if isinstance(aigc, dict) else None
        if history_id in (None, ""):
            raise ResponseFieldError(
                "generate: field 'aigc_data.history_record_id' is missing",
                context={"field": "aigc_data.history_record_id", "endpoint": GENERATE.name},
            )
        self.metrics.tasks.submitted += 1
        return str(history_id), submit_id

    def _require_open(self) -> None:
        if self._root._closed:
            raise SessionClosedError("this session is closed")

    @overload
    def _task(
        self, submitted: tuple[str, str], kind: Literal["image"]
    ) -> GenerationTask[ImageResult]: ...
    @overload
    def _task(
        self, submitted: tuple[str, str], kind: Literal["video"]
    ) -> GenerationTask[VideoResult]: ...
    def _task(self, submitted: tuple[str, str], kind: Kind) -> GenerationTask[Any]:
        history_id, submit_id = submitted
        return self._attach(history_id, kind, submit_id, None)

    def _attach(
        self, history_id: str, kind: Kind | None, submit_id: str | None, created_at: float | None
    ) -> GenerationTask[Any]:
        """A task on this session's poller; its result class follows `kind` (or the record)."""
        self._require_open()
        return GenerationTask(
            history_id=history_id,
            kind=kind,
            submit_id=submit_id,
            poller=self._poller,
            downloader=self._downloader,
            limit=self.settings.generation_timeout,
            on_outcome=self._on_outcome,
            created_at=created_at,
        )

    def _count_outcome(self, status: TaskStatus) -> None:
        tasks = self.metrics.tasks
        if status.succeeded:
            tasks.completed += 1
        elif status == TaskStatus.FAILED:
            tasks.failed += 1
        elif status == TaskStatus.TIMED_OUT:
            tasks.timed_out += 1

    async def _fetch_history(self, ids: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"history_ids": ids, "image_info": drafts.history_image_info()}
        # The poller's rounds are the retry loop: no nested retries inside a round.
        return await self.transport.call(HISTORY, body, retries=0, urgent=True)


def _check_submit_id(submit_id: str | None) -> str:
    if submit_id is None:
        return str(uuid.uuid4())
    if not isinstance(submit_id, str) or not submit_id.strip() or len(submit_id) > 128:
        raise InvalidInputError("submit_id", "must be a non-empty string", allowed="1 to 128 chars")
    return submit_id


Prepared = PreparedUpload | ImageRef


def _cleanup(prepared: Sequence[Prepared]) -> None:
    """Remove the temporary files of checked sources (synchronous: cancellation cannot skip it)."""
    for item in prepared:
        if isinstance(item, PreparedUpload):
            item.cleanup()


def _uploaded(ref: ImageRef) -> drafts.UploadedImage:
    return drafts.UploadedImage(uri=ref.uri, width=ref.width, height=ref.height, format=ref.format)


def _proxy_password(proxy: str | None) -> tuple[str, ...]:
    """A proxy URL's password, redacted like the token while the session lives."""
    try:
        password = urlsplit(proxy).password if proxy else None
    except ValueError:  # a malformed port: httpx refuses the URL; nothing to redact
        return ()
    return (unquote(password),) if password else ()


def _token_or_environment(refresh_token: str | None) -> str:
    """The token given, else `JIMENG_TOKEN`; a clear error naming both when neither is set."""
    if refresh_token is not None:
        return refresh_token
    found = os.environ.get(TOKEN_ENV, "").strip()
    if not found:
        raise InvalidInputError(
            "refresh_token",
            f"no token given and {TOKEN_ENV} is not set",
            allowed=f"the browser's sessionid cookie, as the argument or in {TOKEN_ENV}",
        )
    return found


def _image_cost(model: str, resolution: str | None) -> int | None:
    """The registry's estimate of one image job's credits; None when it has none."""
    try:
        return estimated_cost(model, resolution=resolution)
    except ValueError:
        return None
