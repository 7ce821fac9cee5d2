"""Envelope decoding, HTTP status mapping and the retry loop (no server needed)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from jimeng_async import (
    AuthError,
    ContentFilteredError,
    InsufficientCreditsError,
    InvalidRequestError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ServiceBusyError,
    Settings,
    UnknownAPIError,
)
from jimeng_async.auth import compute_sign, parse_cookie
from jimeng_async.metrics import Metrics
from jimeng_async.transport import (
    ACCOUNT_INFO,
    USER_CREDIT,
    RetryPolicy,
    Transport,
    call_with_retries,
    decode_envelope,
    parse_retry_after,
)


def _response(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


@pytest.mark.parametrize(
    ("ret", "cls"),
    [
        ("1015", AuthError),
        ("1001", AuthError),
        ("1002", AuthError),
        ("1004", PermissionDeniedError),
        ("5000", InsufficientCreditsError),
        ("4001", ContentFilteredError),
        ("2038", ContentFilteredError),
        ("4002", InvalidRequestError),
        ("2002", InvalidRequestError),
        ("2004", ServiceBusyError),
        ("2003", UnknownAPIError),
        ("777", UnknownAPIError),
    ],
)
def test_ret_maps_to_class(ret: str, cls: type[Exception]) -> None:
    with pytest.raises(cls) as info:
        decode_envelope(_response(body={"ret": ret, "errmsg": "why"}), {"endpoint": "e"})
    assert type(info.value) is cls
    assert info.value.context["ret"] == ret  # type: ignore[attr-defined]


def test_ret_may_be_an_integer_and_data_is_returned() -> None:
    assert decode_envelope(_response(body={"ret": 0, "data": {"a": 1}}), {}) == {"a": 1}
    assert decode_envelope(_response(body={"ret": "0", "data": None}), {}) == {}


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (401, AuthError, "AUTH_FAILED"),
        (403, PermissionDeniedError, "PERMISSION_DENIED"),
        (429, RateLimitError, "RATE_LIMIT"),
        (500, ServerError, "SERVER_ERROR"),
        (503, ServerError, "SERVER_ERROR"),
        (404, UnknownAPIError, "API_ERROR"),
    ],
)
def test_http_status_mapped_before_envelope(status: int, cls: type[Exception], code: str) -> None:
    with pytest.raises(cls) as info:
        decode_envelope(_response(status, {"ret": "0"}, {"Retry-After": "3"}), {})
    assert info.value.code == code  # type: ignore[attr-defined]
    if status == 429:
        assert info.value.retry_after == 3.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b'{"ret": "0"',
        json.dumps([1]).encode(),
        json.dumps({"ret": "0", "data": [1]}).encode(),
    ],
)
def test_malformed_bodies_are_typed(body: bytes) -> None:
    with pytest.raises(MalformedResponseError):
        decode_envelope(_response(body=body), {})


def test_retry_after_forms() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_backoff_delays_grow_with_jitter_under_the_cap() -> None:
    delays = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=4.0).delays()
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    for cap in caps:
        value = next(delays)
        assert 0.0 <= value <= cap


@pytest.mark.anyio
async def test_retry_loop_retries_only_retryable_and_only_when_safe() -> None:
    metrics = Metrics()
    policy = RetryPolicy(max_retries=3, base_delay=0.001, max_delay=0.002)
    calls = 0

    async def flaky(_n: int) -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ServerError("boom")
        return "ok"

    assert await call_with_retries(flaky, policy=policy, endpoint="e", metrics=metrics) == "ok"
    assert calls == 3
    assert metrics.endpoint("e").retries == 2

    calls = 0
    with pytest.raises(ServerError):
        await call_with_retries(
            flaky, policy=policy, endpoint="u", metrics=metrics, retry_safe=False
        )
    assert calls == 1

    async def auth(_n: int) -> str:
        nonlocal calls
        calls += 1
        raise AuthError("no")

    calls = 0
    with pytest.raises(AuthError):
        await call_with_retries(auth, policy=policy, endpoint="a", metrics=metrics)
    assert calls == 1

    async def down(_n: int) -> str:
        nonlocal calls
        calls += 1
        raise NetworkError("down")

    calls = 0
    with pytest.raises(NetworkError):
        await call_with_retries(down, policy=policy, endpoint="n", metrics=metrics)
    assert calls == 4  # the first try and 3 retries


@pytest.mark.anyio
async def test_retry_after_over_the_cap_fails_at_once() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.001, retry_after_cap=1.0)
    calls = 0

    async def limited(_n: int) -> str:
        nonlocal calls
        calls += 1
        raise RateLimitError("slow down", retry_after=5.0)

    with anyio.fail_after(2):
        with pytest.raises(RateLimitError):
            await call_with_retries(limited, policy=policy, endpoint="r", metrics=Metrics())
    assert calls == 1


@pytest.mark.anyio
async def test_requests_are_built_exactly_as_the_protocol_says() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ret": "0", "data": {"ok": 1}})

    settings = Settings()
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        transport = Transport(
            client=client,
            settings=settings,
            profile=settings.profile("us"),
            session_id="sid123",
            metrics=Metrics(),
            query_slots=anyio.Semaphore(5),
        )
        assert await transport.call(ACCOUNT_INFO) == {"ok": 1}
        await transport.call(USER_CREDIT)
    info, credit = seen
    assert info.url.path == "/passport/account/info/v2"
    assert info.url.host == "dreamina-api.us.capcut.com"
    assert info.content == b""  # "empty body"
    assert info.url.params["account_sdk_source"] == "web"
    assert info.url.params["aid"] == "513641"
    assert info.url.params["region"] == "US"
    assert "webId" not in info.url.params
    assert info.url.params["os"] == "windows"
    assert info.url.params["da_version"] == "3.3.9"
    assert info.headers["Appvr"] == "8.4.0"
    assert info.headers["Sign"] == compute_sign(
        ACCOUNT_INFO.path, info.headers["Device-Time"], app_version="8.4.0"
    )
    assert parse_cookie(info.headers["Cookie"])["sessionid"] == "sid123"
    assert credit.url.host == "commerce.us.capcut.com"
    assert credit.url.path == "/commerce/v1/benefits/user_credit"
    assert dict(credit.url.params) == {}  # commerce calls go without the default params
    assert credit.content == b"{}"
    assert credit.headers["Origin"] == "https://commerce.us.capcut.com"
