"""The one place a web API request is built, limited, sent, retried and decoded.

A `Transport` belongs to one account: every request carries that account's own Cookie header
(the HTTP client keeps no cookie jar), waits for one of the account's query slots, and is
decoded from the `{"ret", "errmsg", "data"}` envelope into data or a typed error.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import backoff
import httpx

from ._decode import load_json, opt_str
from .auth import SECRET_HEADERS, default_params
from .config import RegionProfile, Settings
from .errors import (
    APIError,
    AuthError,
    ConfigurationError,
    InvalidInputError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    SessionClosedError,
    UnknownAPIError,
    error_for_ret,
)
from .headers import HeaderCache
from .metrics import Metrics
from .signer import RequestSigner, SignableRequest
from .slots import QuerySlots

logger = logging.getLogger("jimeng_async")

T = TypeVar("T")


@dataclass(frozen=True)
class Endpoint:
    """A web API call: its metrics name, path, and whether it is a commerce call."""

    name: str
    path: str
    commerce: bool = False
    extra_params: tuple[tuple[str, str], ...] = ()
    referer_path: str = "/ai-tool/image/generate"
    empty_body: bool = False
    #: Whether a configured request signer signs this call (the calls the browser signs).
    signed: bool = False


ACCOUNT_INFO = Endpoint(
    "account_info",
    "/passport/account/info/v2",
    extra_params=(("account_sdk_source", "web"),),
    empty_body=True,
)
USER_CREDIT = Endpoint("user_credit", "/commerce/v1/benefits/user_credit", commerce=True)
CREDIT_RECEIVE = Endpoint("credit_receive", "/commerce/v1/benefits/credit_receive", commerce=True)
UPLOAD_TOKEN = Endpoint("get_upload_token", "/mweb/v1/get_upload_token")
GENERATE = Endpoint("generate", "/mweb/v1/aigc_draft/generate", signed=True)
HISTORY = Endpoint("get_history_by_ids", "/mweb/v1/get_history_by_ids")
ALGO_PROXY = Endpoint("algo_proxy", "/mweb/v1/algo_proxy")
LOCAL_ITEMS = Endpoint(
    "get_local_item_list", "/mweb/v1/get_local_item_list", referer_path="/ai-tool/video/generate"
)


PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")


def check_proxy(proxy: object, *, field: str) -> str:
    """A proxy URL (http, https, socks5); the message never shows it (it may hold a password)."""
    if not isinstance(proxy, str) or not proxy.startswith(PROXY_SCHEMES):
        raise InvalidInputError(field, "is not a proxy URL", allowed="http(s)://, socks5://")
    return proxy


class _NoCookies(CookieJar):
    """A jar that neither keeps nor parses a cookie: every response sets two (as the service
    does), and parsing them was some 25 us a call for nothing (issue #15)."""

    def __init__(self) -> None:
        super().__init__(policy=DefaultCookiePolicy(allowed_domains=[]))

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


class _NoCookieStore(httpx.Cookies):
    """The client's cookies, never read from a response: httpx would otherwise copy every
    request's headers into a urllib request per response (some 60 us a call) only for the
    jar to ignore them."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _CookielessClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` whose cookie store stays empty: cookies set on it are dropped,
    so that no account's cookie rides on another's request (one store serves every client,
    since it can hold nothing)."""

    _store = _NoCookieStore(_NoCookies())

    @property
    def cookies(self) -> httpx.Cookies:
        return self._store

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


def new_http_client(
    settings: Settings, *, max_connections: int = 100, proxy: str | None = None
) -> httpx.AsyncClient:
    """An HTTP client that stores no cookies, so no account's cookies ride on another's request.

    Every request goes through `proxy`, else `Settings.proxy`, else (when `Settings.trust_env`)
    the environment's `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` minus `NO_PROXY`; with
    `trust_env` the CA bundle in `SSL_CERT_FILE` / `SSL_CERT_DIR` is honoured too. A pool makes
    one client per distinct proxy.
    """
    try:
        return _CookielessClient(
            timeout=httpx.Timeout(settings.request_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
            follow_redirects=False,
            trust_env=settings.trust_env,
            proxy=proxy or settings.proxy,
        )
    except ImportError:  # socks5 needs httpx's `socks` extra
        raise InvalidInputError(
            "proxy", "a socks5 proxy needs `pip install httpx[socks]`", allowed="http(s)://"
        ) from None
    except OSError as exc:  # ssl.SSLError too: with trust_env, SSL_CERT_FILE / _DIR unusable
        reason = exc.strerror or str(exc)
        raise ConfigurationError(
            f"SSL_CERT_FILE / SSL_CERT_DIR: the CA bundle cannot be loaded ({reason}); fix or "
            "unset the variable, or set trust_env=False (JIMENG_TRUST_ENV=false)"
        ) from None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a retryable failure."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.max_retries,
            settings.retry_base_delay,
            settings.retry_max_delay,
            settings.retry_after_cap,
        )

    def delays(self) -> Iterator[float]:
        """Exponential back-off with full jitter, from backoff's wait generators."""
        waits = backoff.expo(base=2, factor=self.base_delay, max_value=self.max_delay)
        next(waits)  # backoff's generators yield once before the first wait
        for wait in waits:
            yield backoff.full_jitter(wait)


async def call_with_retries(
    attempt: Callable[[int], Awaitable[T]],
    *,
    policy: RetryPolicy,
    endpoint: str,
    metrics: Metrics,
    retry_safe: bool = True,
) -> T:
    """Run `attempt(n)` until it succeeds, fails for good, or the retries are spent.

    Only retryable errors (network, 5xx, 429, busy, malformed) are retried, and only when
    `retry_safe`: a request that creates something must carry a client id for that.
    A 429 waits for its Retry-After; one longer than the cap fails at once.
    """
    delays = policy.delays()
    number = 0
    while True:
        number += 1
        try:
            return await attempt(number)
        except APIError as exc:
            if not (retry_safe and exc.retryable) or number > policy.max_retries:
                raise
            delay = next(delays)
            if isinstance(exc, RateLimitError) and exc.retry_after is not None:
                if exc.retry_after > policy.retry_after_cap:
                    raise
                delay = exc.retry_after
            metrics.record_retry(endpoint)
            logger.info(
                "retrying %s in %.2fs after %s (retry %d of %d)",
                endpoint,
                delay,
                exc.code,
                number,
                policy.max_retries,
            )
            await anyio.sleep(delay)


class Attempt:
    """One measured request attempt; the caller sets `ok` once the attempt succeeded."""

    ok = False


@dataclass(frozen=True)
class StreamBounds:
    """Time bounds of a streamed body: connecting, each read or write, and time without progress."""

    connect: float
    read: float
    stall: float

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamBounds:
        return cls(settings.connect_timeout, settings.read_timeout, settings.stall_timeout)

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.stall)


def network_error(
    exc: TimeoutError | httpx.RequestError,
    limit: float,
    context: dict[str, Any],
    *,
    detail: bool = True,
) -> NetworkError:
    """The typed error of a failed attempt: our own time bound or httpx's, else a network fault.

    `detail=False` keeps httpx's message out, for requests whose URL is signed.
    """
    if isinstance(exc, TimeoutError):
        return RequestTimeoutError(f"no answer within {limit:g}s", context=context)
    if isinstance(exc, httpx.TimeoutException):  # httpx's own connect / read bounds
        return RequestTimeoutError(f"{type(exc).__name__}: no answer in time", context=context)
    text = f"{type(exc).__name__}: {exc}" if detail else type(exc).__name__
    return NetworkError(text, context=context)


@asynccontextmanager
async def measured(
    metrics: Metrics,
    name: str,
    *,
    label: str,
    limit: float,
    context: dict[str, Any],
    detail: bool = True,
) -> AsyncIterator[Attempt]:
    """Bound one request attempt in time, type its network failures, count and log it.

    `detail=False` keeps httpx's message out of the error, for requests whose URL is signed.
    The log line names `label` and the context's status, ret and attempt, never a secret.
    """
    attempt = Attempt()
    started = time.monotonic()
    try:
        with anyio.fail_after(limit):
            yield attempt
    except (TimeoutError, httpx.RequestError) as exc:
        raise network_error(exc, limit, context, detail=detail) from None
    finally:
        record_attempt(metrics, name, label, context, ok=attempt.ok, started=started)


def record_attempt(
    metrics: Metrics,
    name: str,
    label: str,
    context: Mapping[str, Any],
    *,
    ok: bool,
    started: float,
) -> None:
    """Count one attempt and log it at DEBUG: `label`, status, ret, latency and attempt number
    from `context`, never a secret."""
    latency = time.monotonic() - started
    metrics.record_request(name, ok=ok, latency=latency)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s -> %s ret=%s in %.3fs (attempt %s)",
            label,
            context.get("status"),
            context.get("ret"),
            latency,
            context.get("attempt"),
        )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def request_id(response: httpx.Response) -> str | None:
    for name in ("x-tt-logid", "x-request-id"):
        if name in response.headers:
            return response.headers[name]
    return None


def raise_for_status(response: httpx.Response, context: dict[str, Any]) -> None:
    """Map an HTTP error status to its typed error (before any body is looked at)."""
    status = response.status_code
    if status < 400:
        return
    message = f"HTTP {status}"
    if status == 401:
        raise AuthError(message, context=context)
    if status == 403:
        raise PermissionDeniedError(message, context=context)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise RateLimitError(message, context=context, retry_after=retry_after)
    if status >= 500:
        raise ServerError(message, context=context)
    raise UnknownAPIError(message, context=context)


def decode_envelope(response: httpx.Response, context: dict[str, Any]) -> dict[str, Any]:
    """The `data` of a successful envelope, or the typed error it stands for."""
    raise_for_status(response, context)
    payload = load_json(response.content, context=context)
    ret = opt_str(payload.get("ret")) if isinstance(payload, dict) else None
    if ret is None or len(ret) > 32:
        raise MalformedResponseError("the response is not an envelope", context=context)
    context["ret"] = ret
    if ret != "0":
        errmsg = opt_str(payload.get("errmsg")) or ""
        raise error_for_ret(ret, errmsg[:500], context)
    data = payload.get("data")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MalformedResponseError("the envelope's data is not an object", context=context)
    return data


class Transport:
    """Sends one account's web API requests under its query limit, with retries."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        settings: Settings,
        profile: RegionProfile,
        session_id: str,
        metrics: Metrics,
        query_slots: QuerySlots | anyio.Semaphore,
        signer: RequestSigner | None = None,
    ) -> None:
        self.client = client
        self.signer = signer if signer is not None else settings.request_signer
        self.settings = settings
        self.profile = profile
        self.metrics = metrics
        self.policy = RetryPolicy.from_settings(settings)
        self._session_id = session_id
        self._query_slots = query_slots
        # Set by the session's aclose(); shared with every derived transport.
        self._closed = [False]
        self._urls: dict[str, httpx.URL] = {}
        self._headers = HeaderCache(session_id=session_id, profile=profile, settings=settings)

    @property
    def closed(self) -> bool:
        """Whether the session closed: every later call is refused."""
        return self._closed[0]

    @closed.setter
    def closed(self, value: bool) -> None:
        self._closed[0] = value

    def derive(self, settings: Settings) -> Transport:
        """The same account's transport under other time-out and retry settings.

        It shares the client, the query slots (so the account's query limit holds across
        both), the endpoint URLs, the metrics and the closed state.
        """
        twin = copy.copy(self)
        twin.settings = settings
        twin.policy = RetryPolicy.from_settings(settings)
        return twin

    @property
    def backlog(self) -> int:
        """Calls waiting for a query slot, urgent ones (polls) left out; 0 where the slots
        cannot tell (a pool's shared slots)."""
        slots = self._query_slots
        return slots.ordinary_waiting if isinstance(slots, QuerySlots) else 0

    async def call(
        self,
        endpoint: Endpoint,
        body: Mapping[str, Any] | None = None,
        *,
        retry_safe: bool = True,
        retries: int | None = None,
        params: Mapping[str, str] | None = None,
        urgent: bool = False,
    ) -> dict[str, Any]:
        """POST `body` to `endpoint` (with extra query `params`); return the envelope's data.

        `retries` overrides `Settings.max_retries` for this call (0: one attempt, for callers
        that are a retry loop themselves, such as the poller). An `urgent` call (a history
        poll) takes the next free query slot before the calls already waiting for one.
        """
        if self.closed:
            raise SessionClosedError("this session is closed")
        policy = self.policy if retries is None else replace(self.policy, max_retries=retries)
        if endpoint.empty_body:
            content = b""
        elif not body:  # what json.dumps gives for {}, without building an encoder per call
            content = b"{}"
        else:
            content = json.dumps(dict(body), ensure_ascii=False, separators=(",", ":")).encode()

        slots = self._query_slots
        queue = slots.urgent() if urgent and isinstance(slots, QuerySlots) else slots

        async def attempt(number: int) -> dict[str, Any]:
            return await self._send_once(endpoint, content, number, params or {}, queue)

        return await call_with_retries(
            attempt,
            policy=policy,
            endpoint=endpoint.name,
            metrics=self.metrics,
            retry_safe=retry_safe,
        )

    def _base(self, endpoint: Endpoint) -> str:
        return (self.profile.commerce_url if endpoint.commerce else self.profile.base_url) + (
            endpoint.path
        )

    def _query(self, endpoint: Endpoint) -> dict[str, str]:
        params = {} if endpoint.commerce else default_params(self.profile, self.settings)
        params.update(endpoint.extra_params)
        return params

    def _url(self, endpoint: Endpoint) -> httpx.URL:
        """The endpoint's full URL with its query; built once, since neither ever changes.

        Handing httpx a ready, parsed URL instead of `params=` or a string spares it a parse
        and merge per call (httpx.URL is immutable, so one serves every request).
        """
        url = self._urls.get(endpoint.name)
        if url is None:
            params = self._query(endpoint)
            url = httpx.URL(self._base(endpoint) + (f"?{urlencode(params)}" if params else ""))
            self._urls[endpoint.name] = url
        return url

    async def _send_once(
        self,
        endpoint: Endpoint,
        content: bytes,
        number: int,
        extra: Mapping[str, str],
        slot: contextlib.AbstractAsyncContextManager[Any],
    ) -> dict[str, Any]:
        """One attempt: the request is built and sent holding a query `slot`, given back once
        the answer is in and before it is read (the service is done with the query then)."""
        context: dict[str, Any] = {"endpoint": endpoint.name, "attempt": number}
        started: float | None = None  # set once the slot is held: a wait for it is no attempt
        ok = False
        try:
            async with slot:
                started = time.monotonic()
                response = await self._post(endpoint, content, extra, context)
            data = decode_envelope(response, context)
            ok = True
            return data
        finally:
            if started is not None:
                label = f"POST {endpoint.path}"
                record_attempt(self.metrics, endpoint.name, label, context, ok=ok, started=started)

    async def _post(
        self,
        endpoint: Endpoint,
        content: bytes,
        extra: Mapping[str, str],
        context: dict[str, Any],
    ) -> httpx.Response:
        """Build and send the request; the response (its status and id go into `context`)."""
        url: httpx.URL | str
        headers: httpx.Headers | dict[str, str]
        signer = self.signer if endpoint.signed else None
        if extra or signer is not None:  # a query (and maybe headers) of its own
            headers = self._headers.headers(
                endpoint.path, commerce=endpoint.commerce, referer_path=endpoint.referer_path
            )
            if content:
                headers["Content-Type"] = "application/json"
            params = {**self._query(endpoint), **extra}
            if signer is not None:
                await _sign(signer, endpoint, self._base(endpoint), params, headers, content)
            url = self._base(endpoint) + f"?{urlencode(params)}"
        else:  # the same URL and headers as every call of this endpoint in this second
            url = self._url(endpoint)
            headers = self._headers.wire(
                endpoint.path,
                commerce=endpoint.commerce,
                referer_path=endpoint.referer_path,
                json_body=bool(content),
            )
        # The bound is a bare cancel scope rather than `anyio.fail_after`, whose two nested
        # generator context managers cost a few us per call: the scope's deadline is the only
        # thing that can cancel it, so a caught cancellation is the time-out.
        limit = self.settings.request_timeout
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + limit) as bound:
                response = await self.client.post(url, content=content, headers=headers)
            if bound.cancelled_caught:
                raise TimeoutError
        except (TimeoutError, httpx.RequestError) as exc:
            raise network_error(exc, limit, context) from None
        context["status"] = response.status_code
        context["request_id"] = request_id(response)
        return response


async def _sign(
    signer: RequestSigner,
    endpoint: Endpoint,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    content: bytes,
) -> None:
    """Let the signer add its query parameters and headers (each attempt is signed anew).

    The signer never sees the Cookie or Sign, and may not replace them.
    """
    visible = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
    request = SignableRequest(
        method="POST",
        url=url,
        params=dict(params),
        headers=visible,
        body=content,
        endpoint=endpoint.name,
    )
    signature = await signer(request)
    if signature is None:
        return
    params.update({str(k): str(v) for k, v in signature.params.items()})
    for name, value in signature.headers.items():
        if name.lower() not in SECRET_HEADERS:
            headers[str(name)] = str(value)
