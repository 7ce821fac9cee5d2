"""JimengSession against the emulator on a real loopback port: auth, limits, caches, retries."""

from __future__ import annotations

import json
import logging
import time

import anyio
import pytest

import jimeng_async as jm
from jimeng_async.auth import split_token
from jimeng_async.testing import Emulator, FaultConfig
from jimeng_async.transport import new_http_client

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("region", ["cn", "us", "hk"])
async def test_requests_are_accepted_in_each_region(jimeng_emulator: Emulator, region: str) -> None:
    token = jimeng_emulator.add_account(region=region, credits=42)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        assert s.region == region
        info = await s.account_info()
        credits = await s.credits()
    assert info.user_id
    assert credits.total == 42
    assert await _alive(jimeng_emulator, token)


async def _alive(emulator: Emulator, token: str) -> bool:
    async with jm.JimengSession(token, settings=emulator.settings()) as s:
        return await s.token_alive()


async def test_account_info_is_cached(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        first = await s.account_info()
        assert await s.account_info() == first
        assert await s.account_info() == first
        assert jimeng_emulator.stats.requests["account_info"] == 1
        assert s.metrics.snapshot()["endpoints"]["account_info"]["cache_hits"] == 2
        await s.account_info(refresh=True)
        assert jimeng_emulator.stats.requests["account_info"] == 2


async def test_concurrent_first_calls_share_one_request(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with (
        jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s,
        anyio.create_task_group() as group,
    ):
        for _ in range(10):
            group.start_soon(s.credits)
    assert jimeng_emulator.stats.requests["user_credit"] == 1


async def test_query_limit_holds_under_fifty_concurrent_calls(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    # A slow answer makes the calls overlap, so the limit is what bounds them.
    jimeng_emulator.faults = FaultConfig(
        slow_rate=1.0, slow_seconds=0.05, endpoints={"user_credit"}
    )
    async with (
        jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s,
        anyio.create_task_group() as group,
    ):
        for _ in range(50):
            group.start_soon(lambda: s.credits(refresh=True))
    assert jimeng_emulator.stats.requests["user_credit"] == 50
    assert jimeng_emulator.stats.max_in_flight[(jimeng_token, "query")] == 5


async def test_query_limit_is_configurable(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    jimeng_emulator.faults = FaultConfig(
        slow_rate=1.0, slow_seconds=0.05, endpoints={"user_credit"}
    )
    settings = jimeng_emulator.settings(max_queries=2)
    async with (
        jm.JimengSession(jimeng_token, settings=settings) as s,
        anyio.create_task_group() as group,
    ):
        for _ in range(10):
            group.start_soon(lambda: s.credits(refresh=True))
    assert jimeng_emulator.stats.max_in_flight[(jimeng_token, "query")] == 2


async def test_server_errors_are_retried(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    jimeng_emulator.faults = FaultConfig(error_rate=0.5, seed=3, endpoints={"user_credit"})
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=10)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        for _ in range(10):
            await s.credits(refresh=True)
        retries = s.metrics.snapshot()["endpoints"]["user_credit"]["retries"]
    faults = jimeng_emulator.stats.faults_injected["error"]
    assert faults > 0
    assert retries == faults
    assert jimeng_emulator.stats.requests["user_credit"] == 10 + faults


async def test_server_errors_give_up_after_the_retries(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(error_rate=1.0, endpoints={"user_credit"})
    settings = jimeng_emulator.settings(retry_base_delay=0.001)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        with pytest.raises(jm.ServerError) as info:
            await s.credits()
    assert info.value.code == "SERVER_ERROR"
    assert info.value.context["status"] >= 500
    assert jimeng_emulator.stats.requests["user_credit"] == 4  # 1 + 3 retries


async def test_rate_limit_waits_for_retry_after(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(
        rate_limit_rate=1.0, retry_after=0.15, endpoints={"user_credit"}
    )
    settings = jimeng_emulator.settings(max_retries=2, retry_base_delay=0.001)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        started = time.monotonic()
        with pytest.raises(jm.RateLimitError) as info:
            await s.credits()
        elapsed = time.monotonic() - started
    assert info.value.retry_after == pytest.approx(0.15)
    assert jimeng_emulator.stats.requests["user_credit"] == 3
    assert elapsed >= 2 * 0.15  # two waits of Retry-After, not the tiny back-off


async def test_rate_limit_over_the_cap_fails_at_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(
        rate_limit_rate=1.0, retry_after=30, endpoints={"user_credit"}
    )
    settings = jimeng_emulator.settings(retry_after_cap=1.0)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        with anyio.fail_after(5), pytest.raises(jm.RateLimitError):
            await s.credits()
    assert jimeng_emulator.stats.requests["user_credit"] == 1


async def test_expired_token_is_not_retried(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account(region="cn", expired=True)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.AuthError) as info:
            await s.account_info()
        assert not await s.token_alive()
    assert info.value.code == "AUTH_FAILED"
    assert info.value.context["ret"] == "1015"
    assert jimeng_emulator.stats.requests["account_info"] == 2  # one each, never retried


async def test_unknown_token_and_banned_account(jimeng_emulator: Emulator) -> None:
    settings = jimeng_emulator.settings()
    async with jm.JimengSession("0" * 32, settings=settings) as s:
        with pytest.raises(jm.AuthError):
            await s.credits()
    banned = jimeng_emulator.add_account(region="us", banned=True)
    async with jm.JimengSession(banned, settings=settings) as s:
        with pytest.raises(jm.PermissionDeniedError) as info:
            await s.account_info()
    assert info.value.code == "PERMISSION_DENIED"


async def test_malformed_and_dropped_answers_are_typed(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=1)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        jimeng_emulator.faults = FaultConfig(malformed_rate=1.0)
        with pytest.raises(jm.MalformedResponseError):
            await s.credits(refresh=True)
        jimeng_emulator.faults = FaultConfig(drop_rate=1.0)
        with pytest.raises(jm.NetworkError) as info:
            await s.credits(refresh=True)
        assert info.value.code == "NETWORK_ERROR"
        jimeng_emulator.faults = None
        assert (await s.credits(refresh=True)).total == 1000


async def test_network_error_when_nothing_listens() -> None:
    settings = jm.Settings(
        regions={"cn": {"base_url": "http://127.0.0.1:9", "commerce_url": "http://127.0.0.1:9"}},
        retry_base_delay=0.001,
        max_retries=1,
    )
    async with jm.JimengSession("a" * 32, settings=settings) as s:
        with pytest.raises(jm.NetworkError):
            await s.credits()
        assert s.metrics.snapshot()["endpoints"]["user_credit"]["failures"] == 2


async def test_daily_credits_and_cache_invalidation(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account(region="cn", credits=0)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        before = await s.credits()
        assert before.total == 0
        assert before.can_receive_daily is True
        receipt = await s.receive_credits()
        assert receipt.received == 100
        assert receipt.total == 100
        after = await s.credits()  # invalidated by the receipt: asked again
        assert after.total == 100
        assert after.can_receive_daily is False
        # before, the receipt's own fresh balance read (PROTOCOL.md §3), and `after`.
        assert jimeng_emulator.stats.requests["user_credit"] == 3
        again = await s.receive_credits()
        assert again.received == 0
        assert again.total == 100


async def test_sessions_sharing_a_client_never_share_cookies(jimeng_emulator: Emulator) -> None:
    settings = jimeng_emulator.settings()
    rich = jimeng_emulator.add_account(region="cn", credits=500)
    poor = jimeng_emulator.add_account(region="cn", credits=3)
    async with new_http_client(settings) as client:
        async with (
            jm.JimengSession(rich, settings=settings, http_client=client) as a,
            jm.JimengSession(poor, settings=settings, http_client=client) as b,
        ):
            for _ in range(3):
                assert (await a.credits(refresh=True)).total == 500
                assert (await b.credits(refresh=True)).total == 3
                await a.account_info(refresh=True)
        assert len(client.cookies.jar) == 0


async def test_token_never_leaks(
    jimeng_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="jimeng_async")
    token = jimeng_emulator.add_account(region="us", credits=0, expired=False)
    _, secret = split_token(token)
    texts: list[str] = []
    settings = jimeng_emulator.settings(retry_base_delay=0.001)
    async with jm.JimengSession(token, settings=settings) as s:
        texts.append(repr(s))
        await s.account_info()
        await s.receive_credits()
        jimeng_emulator.faults = FaultConfig(error_rate=1.0)
        with pytest.raises(jm.ServerError) as server_error:
            await s.credits(refresh=True)
        jimeng_emulator.faults = None
        jimeng_emulator.expire_account(token)
        with pytest.raises(jm.AuthError) as auth_error:
            await s.account_info(refresh=True)
        texts.append(json.dumps(s.metrics.snapshot()))
    for error in (server_error.value, auth_error.value):
        texts += [str(error), repr(error), repr(error.context)]
    texts.append(caplog.text)
    assert "POST /passport/account/info/v2" in caplog.text  # it did log the requests
    for text in texts:
        assert secret not in text
    assert "***" in texts[0]


async def test_session_lifecycle(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    s = jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings())
    assert "new" in repr(s)
    async with s:
        assert "open" in repr(s)
    assert "closed" in repr(s)
    await s.aclose()  # idempotent
    with pytest.raises(jm.JimengError, match="closed"):
        await s.__aenter__()
    with pytest.raises(jm.InvalidInputError, match="refresh_token"):
        jm.JimengSession("   ")
    with pytest.raises(jm.InvalidInputError, match="refresh_token"):
        jm.JimengSession("us-")


async def test_waiting_for_a_query_slot_is_first_come_first_served(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(
        slow_rate=1.0, slow_seconds=0.01, endpoints={"user_credit"}
    )
    finished: list[int] = []
    async with jm.JimengSession(
        jimeng_token, settings=jimeng_emulator.settings(max_queries=1)
    ) as s:

        async def call(i: int) -> None:
            await s.credits(refresh=True)
            finished.append(i)

        async with anyio.create_task_group() as group:
            for i in range(8):
                group.start_soon(call, i)
    assert finished == list(range(8))
