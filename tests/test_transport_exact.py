"""Transport, exactly: back-off figures, status mapping, envelope limits, request building,
the measured attempt and the signer hook. No server; each value pinned (mutation tests)."""

from __future__ import annotations

import importlib.util
import json
import logging
import types
from functools import partial
from typing import Any

import anyio
import httpx
import pytest

from jimeng_async import (
    APIError,
    AuthError,
    InvalidInputError,
    JimengAPIError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SessionClosedError,
    Settings,
    UnknownAPIError,
)
from jimeng_async import transport as transport_module
from jimeng_async.auth import build_headers
from jimeng_async.metrics import Metrics
from jimeng_async.signer import RequestSignature, SignableRequest
from jimeng_async.slots import QuerySlots
from jimeng_async.transport import (
    ACCOUNT_INFO,
    GENERATE,
    HISTORY,
    LOCAL_ITEMS,
    USER_CREDIT,
    RetryPolicy,
    Transport,
    call_with_retries,
    decode_envelope,
    measured,
    new_http_client,
    parse_retry_after,
    raise_for_status,
    request_id,
)


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jimeng_async.transport.backoff.full_jitter", lambda value: value)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays call_with_retries sleeps, recorded instead of waited."""
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(transport_module, "anyio", types.SimpleNamespace(sleep=sleep))
    return delays


def test_back_off_doubles_from_the_base_up_to_the_cap(no_jitter: None) -> None:
    delays = RetryPolicy(base_delay=0.5, max_delay=8.0).delays()
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    other = RetryPolicy(base_delay=3.0, max_delay=10.0).delays()
    assert [next(other) for _ in range(3)] == [3.0, 6.0, 10.0]


def test_jitter_draws_below_each_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jimeng_async.transport.backoff.full_jitter", lambda value: value / 4)
    delays = RetryPolicy(base_delay=1.0, max_delay=4.0).delays()
    assert [next(delays) for _ in range(4)] == [0.25, 0.5, 1.0, 1.0]


def test_retry_policy_from_settings_takes_each_setting() -> None:
    settings = Settings(
        max_retries=7, retry_base_delay=0.3, retry_max_delay=9.0, retry_after_cap=11.0
    )
    assert RetryPolicy.from_settings(settings) == RetryPolicy(7, 0.3, 9.0, 11.0)
    assert RetryPolicy() == RetryPolicy(3, 0.5, 8.0, 60.0)


@pytest.mark.anyio
async def test_retries_sleep_the_growing_delays_then_give_up(
    no_jitter: None, slept: list[float]
) -> None:
    metrics = Metrics()
    numbers: list[int] = []

    async def down(number: int) -> str:
        numbers.append(number)
        raise ServerError("boom")

    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=3.0)
    with pytest.raises(ServerError):
        await call_with_retries(down, policy=policy, endpoint="e", metrics=metrics)
    assert numbers == [1, 2, 3, 4]
    assert slept == [1.0, 2.0, 3.0]
    assert metrics.endpoint("e").retries == 3

    numbers.clear()
    with pytest.raises(ServerError):
        await call_with_retries(
            down, policy=RetryPolicy(max_retries=0), endpoint="z", metrics=metrics
        )
    assert numbers == [1]


@pytest.mark.anyio
async def test_a_rate_limit_waits_its_retry_after_up_to_the_cap(
    no_jitter: None, slept: list[float]
) -> None:
    answers: list[BaseException | str] = [
        RateLimitError("slow", retry_after=5.0),  # exactly the cap: still waited
        RateLimitError("slow", retry_after=None),  # no Retry-After: the back-off
        RateLimitError("slow", retry_after=0.0),
        "ok",
    ]

    async def limited(_number: int) -> str:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=8.0, retry_after_cap=5.0)
    result = await call_with_retries(limited, policy=policy, endpoint="r", metrics=Metrics())
    assert result == "ok"
    assert slept == [5.0, 2.0, 0.0]


@pytest.mark.anyio
async def test_measured_types_failures_and_counts_each_attempt() -> None:
    metrics = Metrics()
    context: dict[str, Any] = {"endpoint": "x"}
    with pytest.raises(NetworkError) as timed_out:
        async with measured(metrics, "x", label="POST /x", limit=0.001, context=context):
            await anyio.sleep(5)
    assert timed_out.value.message.startswith("no answer within 0.001s")
    assert timed_out.value.context["endpoint"] == "x"
    request = httpx.Request("GET", "https://h/x?sig=secret")
    with pytest.raises(NetworkError) as detailed:
        async with measured(metrics, "x", label="l", limit=5, context={}):
            raise httpx.ConnectError("refused by peer", request=request)
    assert detailed.value.message.startswith("ConnectError: refused by peer")
    with pytest.raises(NetworkError) as bare:
        async with measured(metrics, "x", label="l", limit=5, context={}, detail=False):
            raise httpx.ConnectError("https://h/x?sig=secret", request=request)
    assert bare.value.message.startswith("ConnectError")
    assert "secret" not in str(bare.value)
    async with measured(metrics, "x", label="l", limit=5, context={}) as attempt:
        attempt.ok = True
    stats = metrics.endpoint("x")
    assert (stats.requests, stats.successes, stats.failures) == (4, 1, 3)
    assert len(stats.latencies) == 4
    assert all(0 <= latency < 5 for latency in stats.latencies)


def test_retry_after_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_retry_after("") is None
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("7") == 7.0
    monkeypatch.setattr("jimeng_async.transport.time.time", lambda: 1445412470.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT") == 0.0


def test_request_id_prefers_the_log_id() -> None:
    both = httpx.Response(200, headers={"x-request-id": "r", "x-tt-logid": "l"})
    assert request_id(both) == "l"
    assert request_id(httpx.Response(200, headers={"X-Request-Id": "r"})) == "r"
    assert request_id(httpx.Response(200)) is None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UnknownAPIError),
        (401, AuthError),
        (403, PermissionDeniedError),
        (404, UnknownAPIError),
        (429, RateLimitError),
        (499, UnknownAPIError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_error_status_has_its_class(status: int, error: type[Exception]) -> None:
    context = {"endpoint": "e"}
    response = httpx.Response(status, headers={"retry-after": "3"})
    with pytest.raises(error) as info:
        raise_for_status(response, context)
    assert type(info.value) is error
    assert isinstance(info.value, APIError)
    assert info.value.message.startswith(f"HTTP {status}")
    assert info.value.context["endpoint"] == "e"
    if status == 429:
        assert info.value.retry_after == 3.0


@pytest.mark.parametrize("status", [200, 204, 302, 399])
def test_statuses_below_400_pass(status: int) -> None:
    raise_for_status(httpx.Response(status), {})


def _envelope(payload: Any) -> httpx.Response:
    return httpx.Response(200, content=json.dumps(payload).encode())


def test_envelope_ret_is_bounded_and_recorded() -> None:
    context: dict[str, Any] = {}
    assert decode_envelope(_envelope({"ret": "0", "data": {"a": 1}}), context) == {"a": 1}
    assert context["ret"] == "0"
    assert decode_envelope(_envelope({"ret": 0}), {}) == {}
    assert decode_envelope(_envelope({"ret": "0", "data": None}), {}) == {}
    with pytest.raises(APIError) as long_ret:
        decode_envelope(_envelope({"ret": "9" * 32, "errmsg": "e" * 600}), {})
    assert long_ret.value.context["ret"] == "9" * 32
    assert long_ret.value.errmsg == "e" * 500
    with pytest.raises(MalformedResponseError) as too_long:
        decode_envelope(_envelope({"ret": "9" * 33}), {})
    assert too_long.value.message.startswith("the response is not an envelope")
    with pytest.raises(MalformedResponseError) as not_object:
        decode_envelope(_envelope({"ret": "0", "data": "x"}), {})
    assert not_object.value.message.startswith("the envelope's data is not an object")
    with pytest.raises(APIError) as no_message:
        decode_envelope(_envelope({"ret": "777", "errmsg": None}), {})
    assert no_message.value.context["ret"] == "777"


def test_the_http_client_keeps_no_cookies_and_follows_no_redirects() -> None:
    settings = Settings(request_timeout=12.0)
    client = new_http_client(settings, max_connections=7)
    assert client.follow_redirects is False
    assert client.timeout == httpx.Timeout(12.0)
    assert client._trust_env is True  # proxies and certificates from the environment
    assert new_http_client(Settings(trust_env=False))._trust_env is False
    client.cookies.extract_cookies(
        httpx.Response(
            200,
            headers={"set-cookie": "sessionid=leak; Domain=jimeng.jianying.com; Path=/"},
            request=httpx.Request("GET", "https://jimeng.jianying.com/"),
        )
    )
    assert len(client.cookies) == 0
    client.cookies = {"sessionid": "leak"}
    client.cookies.set("sessionid", "leak", domain="jimeng.jianying.com")
    assert len(client.cookies) == 0
    request = client.build_request("GET", "https://jimeng.jianying.com/", cookies={"a": "b"})
    assert request.headers["Cookie"] == "a=b"  # only what the caller passes for one request
    assert len(client.cookies) == 0
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == 7
    assert pool._max_keepalive_connections == 7  # 20, capped at the maximum
    default_pool = new_http_client(settings)._transport._pool  # type: ignore[attr-defined]
    assert (default_pool._max_connections, default_pool._max_keepalive_connections) == (100, 20)


class Recorder:
    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or {"ret": "0", "data": {"ok": 1}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json=self.answer, headers={"x-tt-logid": "log-1"})


def _transport(client: httpx.AsyncClient, **settings: Any) -> Transport:
    chosen = Settings(**settings)
    return Transport(
        client=client,
        settings=chosen,
        profile=chosen.profile("cn"),
        session_id="sid123",
        metrics=Metrics(),
        query_slots=anyio.Semaphore(1),
    )


@pytest.mark.anyio
async def test_bodies_content_type_referer_and_extra_params() -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = _transport(client)
        await transport.call(HISTORY, {"history_ids": ["1"], "名": "値"})
        await transport.call(LOCAL_ITEMS, None, params={"extra": "1"})
        await transport.call(HISTORY)
        await transport.call(ACCOUNT_INFO, {"ignored": True})
    history, local, bare, info = recorder.requests
    assert history.content == '{"history_ids":["1"],"名":"値"}'.encode()
    assert history.headers["Content-Type"] == "application/json"
    assert history.headers["Referer"].endswith("/ai-tool/image/generate")
    assert local.headers["Referer"].endswith("/ai-tool/video/generate")
    assert local.url.params["extra"] == "1"
    assert local.url.params["aid"] == "513695"
    assert "extra" not in bare.url.params
    assert bare.content == b"{}"
    assert info.content == b""
    assert "Content-Type" not in info.headers
    assert transport.metrics.endpoint("get_history_by_ids").successes == 2
    assert transport.metrics.endpoint("get_local_item_list").requests == 1


@pytest.mark.anyio
async def test_a_plain_call_sends_what_a_request_built_from_a_dict_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("jimeng_async.headers.time.time", lambda: 1_790_000_000.5)
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = _transport(client)
        await transport.call(HISTORY, {"history_ids": ["1"]})  # the ready URL and headers
        await transport.call(HISTORY, {"history_ids": ["2"]}, params={"x": "1"})  # its own
        await transport.call(HISTORY, {"history_ids": ["3"]})
        built = build_headers(
            session_id="sid123", profile=transport.profile, path=HISTORY.path,
            settings=transport.settings, now=1_790_000_000,
        )  # fmt: skip
        expected = client.build_request(
            "POST",
            str(recorder.requests[0].url),
            content=b'{"history_ids":["1"]}',
            headers={**built, "Content-Type": "application/json"},
        )
    plain, own, again = recorder.requests
    assert plain.headers.multi_items() == expected.headers.multi_items()
    assert own.headers.multi_items() == plain.headers.multi_items()
    assert again.headers.multi_items() == plain.headers.multi_items()
    assert plain.url == expected.url == again.url
    assert own.url.params["x"] == "1"
    assert own.url.copy_remove_param("x") == plain.url
    assert plain.content == b'{"history_ids":["1"]}'
    assert again.content == b'{"history_ids":["3"]}'


@pytest.mark.anyio
async def test_a_closed_transport_sends_nothing() -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = _transport(client)
        transport.closed = True
        with pytest.raises(SessionClosedError, match="this session is closed"):
            await transport.call(HISTORY)
    assert recorder.requests == []


@pytest.mark.anyio
async def test_retries_override_and_retry_safe_reach_the_loop(no_jitter: None) -> None:
    recorder = Recorder({"ret": "2004", "errmsg": "busy"})
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = _transport(client, max_retries=2, retry_base_delay=0.001)
        with pytest.raises(APIError):
            await transport.call(HISTORY)
        assert len(recorder.requests) == 3
        with pytest.raises(APIError):
            await transport.call(HISTORY, retries=0)
        assert len(recorder.requests) == 4
        with pytest.raises(APIError) as info:
            await transport.call(HISTORY, retry_safe=False)
        assert len(recorder.requests) == 5
    assert info.value.context == {
        "endpoint": "get_history_by_ids",
        "attempt": 1,
        "status": 200,
        "request_id": "log-1",
        "ret": "2004",
        "errmsg": "busy",
    }


@pytest.mark.anyio
async def test_the_signer_signs_only_signed_calls_and_never_sees_secrets() -> None:
    seen: list[SignableRequest] = []

    async def signer(request: SignableRequest) -> RequestSignature | None:
        seen.append(request)
        if request.body == b"{}":
            return None
        return RequestSignature(
            params={"a_bogus": "b1", "aid": "1"},
            headers={"X-Bogus": "x1", "Cookie": "sessionid=evil", "sign": "evil"},
        )

    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = _transport(client, request_signer=signer)
        await transport.call(GENERATE, {"p": 1}, params={"babi_param": "q"})
        await transport.call(GENERATE, {})
        await transport.call(HISTORY, {"p": 1})
        await transport.call(USER_CREDIT, {"p": 1})
    assert [r.endpoint for r in seen] == ["generate", "generate"]
    first = seen[0]
    assert first.method == "POST"
    assert first.url == "https://jimeng.jianying.com/mweb/v1/aigc_draft/generate"
    assert first.params["babi_param"] == "q"
    assert first.params["aid"] == "513695"
    assert first.body == b'{"p":1}'
    assert not {"cookie", "sign"} & {name.lower() for name in first.headers}
    assert first.headers["Content-Type"] == "application/json"
    signed, unsigned_generate, history, credit = recorder.requests
    assert signed.url.params["a_bogus"] == "b1"
    assert signed.url.params["aid"] == "1"  # a signer may set query parameters
    assert signed.url.params["babi_param"] == "q"
    assert signed.headers["X-Bogus"] == "x1"
    assert "evil" not in signed.headers["Cookie"]
    assert signed.headers["Sign"] != "evil"
    assert "a_bogus" not in unsigned_generate.url.params
    assert "a_bogus" not in history.url.params
    assert "X-Bogus" not in credit.headers
    assert dict(credit.url.params) == {}  # commerce calls carry no query


@pytest.mark.anyio
async def test_each_retry_is_logged_with_its_delay_and_count(
    no_jitter: None, slept: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(_number: int) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ServerError("boom")
        return "ok"

    caplog.set_level(logging.INFO, logger="jimeng_async")
    policy = RetryPolicy(max_retries=3, base_delay=1.5)
    assert await call_with_retries(flaky, policy=policy, endpoint="e", metrics=Metrics()) == "ok"
    assert [r.getMessage() for r in caplog.records] == [
        "retrying e in 1.50s after SERVER_ERROR (retry 1 of 3)"
    ]


@pytest.mark.anyio
async def test_each_attempt_is_logged_at_debug_without_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="jimeng_async")
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        await _transport(client).call(HISTORY)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("POST /mweb/v1/get_history_by_ids -> 200 ret=0 in ")
    assert line.endswith("s (attempt 1)")
    assert "sid123" not in line


def test_a_proxy_routes_every_request() -> None:
    client = new_http_client(Settings(), proxy="http://proxy.example:3128")
    proxied = [t for t in client._mounts.values() if t is not None]
    assert proxied, "the proxy is mounted for every URL"
    pool = proxied[0]._pool  # type: ignore[attr-defined]
    assert pool._proxy_url.host == b"proxy.example"
    assert not [t for t in new_http_client(Settings())._mounts.values() if t is not None]


def test_envelope_errors_carry_the_calls_context() -> None:
    context = {"endpoint": "e"}
    for response in (
        httpx.Response(502),
        httpx.Response(200, content=b"<html>"),
        _envelope({"no": "ret"}),
        _envelope({"ret": "0", "data": [1]}),
    ):
        with pytest.raises(JimengAPIError) as info:
            decode_envelope(response, dict(context))
        assert info.value.context["endpoint"] == "e"
    with pytest.raises(APIError) as no_message:
        decode_envelope(_envelope({"ret": "777", "errmsg": None}), {})
    assert no_message.value.errmsg is None  # absent, not an empty message


@pytest.mark.anyio
async def test_the_transport_uses_its_own_signer_settings_and_time_limit() -> None:
    used: list[str] = []

    async def own(request: SignableRequest) -> RequestSignature | None:
        used.append("own")
        return None

    async def configured(request: SignableRequest) -> RequestSignature | None:
        used.append("configured")
        return None

    async def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("get_history_by_ids"):
            await anyio.sleep(30)
        return httpx.Response(200, json={"ret": "0", "data": {}})

    settings = Settings(app_version="9.1.0", request_signer=configured, request_timeout=0.05)
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        transport = Transport(
            client=client,
            settings=settings,
            profile=settings.profile("cn"),
            session_id="s",
            metrics=Metrics(),
            query_slots=anyio.Semaphore(1),
            signer=own,
        )
        assert transport.closed is False
        await transport.call(GENERATE, {})
        assert used == ["own"]
        with anyio.fail_after(10), pytest.raises(NetworkError) as info:
            await transport.call(HISTORY, retries=0)
        assert info.value.message == "no answer within 0.05s"
        assert info.value.context == {"endpoint": "get_history_by_ids", "attempt": 1}


@pytest.mark.anyio
async def test_every_attempt_is_counted_with_its_outcome_and_its_time(no_jitter: None) -> None:
    answers = [{"ret": "2004", "errmsg": "busy"}, {"ret": "0", "data": {}}]

    async def answer(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.02)  # each attempt takes at least this long
        return httpx.Response(200, json=answers.pop(0))

    async def refuse(request: SignableRequest) -> RequestSignature | None:
        raise RuntimeError("the signer is down")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        transport = _transport(client, retry_base_delay=0.001)
        await transport.call(HISTORY)
        transport.signer = refuse
        with pytest.raises(RuntimeError, match="the signer is down"):
            await transport.call(GENERATE, {}, retries=0)  # fails before anything is sent
    history = transport.metrics.endpoint("get_history_by_ids")
    assert (history.requests, history.successes, history.failures) == (2, 1, 1)
    assert min(history.latencies) >= 0.02
    generate = transport.metrics.endpoint(GENERATE.name)
    assert (generate.requests, generate.failures) == (1, 1)
    assert answers == []


@pytest.mark.anyio
async def test_a_call_cancelled_while_it_waits_for_a_slot_is_not_an_attempt() -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = _transport(client)
        slots = transport._query_slots
        assert isinstance(slots, anyio.Semaphore)
        await slots.acquire()  # the only slot is busy
        with anyio.move_on_after(0.01) as waited:
            await transport.call(HISTORY, retries=0)
        slots.release()
        assert waited.cancelled_caught
    assert transport.metrics.endpoint(HISTORY.name).requests == 0
    assert recorder.requests == []


@pytest.mark.anyio
async def test_sent_headers_follow_the_settings_and_retries_are_counted_per_endpoint(
    no_jitter: None,
) -> None:
    answers = [{"ret": "2004", "errmsg": "busy"}, {"ret": "0", "data": {}}]
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = answers.pop(0) if request.url.path.endswith("ids") else {"ret": "0"}
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        transport = _transport(client, app_version="9.1.0", retry_base_delay=0.001)
        await transport.call(HISTORY)
        await transport.call(USER_CREDIT)
    assert transport.metrics.endpoint("get_history_by_ids").retries == 1
    assert seen[0].headers["Appvr"] == "9.1.0"
    assert seen[-1].url.raw_path == b"/commerce/v1/benefits/user_credit"  # no bare "?"


@pytest.mark.anyio
async def test_a_closed_transport_says_so_exactly() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(Recorder())) as client:
        transport = _transport(client)
        transport.closed = True
        with pytest.raises(SessionClosedError) as info:
            await transport.call(HISTORY)
    assert info.value.message == "this session is closed"


@pytest.mark.anyio
async def test_the_backlog_counts_the_calls_waiting_for_a_slot_polls_left_out() -> None:
    release = anyio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return httpx.Response(200, json={"ret": "0", "data": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        transport = _transport(client)
        assert transport.backlog == 0  # slots that cannot tell
        transport._query_slots = QuerySlots(1)
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(transport.call, HISTORY)  # holds the one slot
                await anyio.wait_all_tasks_blocked()
                group.start_soon(transport.call, ACCOUNT_INFO)
                group.start_soon(partial(transport.call, HISTORY, urgent=True))
                await anyio.wait_all_tasks_blocked()
                assert transport.backlog == 1
                release.set()
        assert transport.backlog == 0


@pytest.mark.anyio
async def test_a_commerce_call_with_a_query_of_its_own_keeps_the_commerce_headers() -> None:
    recorder = Recorder()
    settings = Settings()
    profile = settings.profile("us")  # where the commerce origin differs from the web app's
    assert profile.commerce_origin != profile.origin
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        transport = Transport(
            client=client,
            settings=settings,
            profile=profile,
            session_id="sid123",
            metrics=Metrics(),
            query_slots=anyio.Semaphore(1),
        )
        await transport.call(USER_CREDIT)
        await transport.call(USER_CREDIT, params={"x": "1"})
    plain, own = recorder.requests
    assert own.headers["Origin"] == profile.commerce_origin
    assert own.headers.multi_items() == plain.headers.multi_items()
    assert own.url.params["x"] == "1"


def test_a_socks_proxy_without_httpx_socks_is_refused_naming_the_field() -> None:
    if importlib.util.find_spec("socksio") is not None:  # not among the dev dependencies
        pytest.skip("httpx[socks] is installed here: the proxy is accepted")
    with pytest.raises(InvalidInputError) as info:
        new_http_client(Settings(), proxy="socks5://127.0.0.1:1080")
    assert (info.value.field, info.value.allowed) == ("proxy", "http(s)://")
    assert "pip install httpx[socks]" in info.value.message
