"""Construction and per-call options against the emulator: JIMENG_TOKEN, proxies (through a
real forwarding proxy on loopback), trust_env, `with_options` views and `on_progress`."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from proxy_server import ForwardingProxy

import jimeng_async as jm
from jimeng_async.testing import Emulator, FaultConfig
from jimeng_async.testing.media import png
from jimeng_async.transport import new_http_client

pytestmark = pytest.mark.anyio


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[ForwardingProxy, str]]:
    forwarding = ForwardingProxy()
    async with anyio.create_task_group() as group:
        url = await group.start(forwarding.serve)
        yield forwarding, url
        group.cancel_scope.cancel()


# -- JIMENG_TOKEN --------------------------------------------------------------------------


async def test_session_without_token_reads_jimeng_token(
    jimeng_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = jimeng_emulator.add_account(region="us", credits=77)
    monkeypatch.setenv("JIMENG_TOKEN", token)
    async with jm.JimengSession(settings=jimeng_emulator.settings()) as s:
        assert s.region == "us"
        assert (await s.credits()).total == 77


async def test_token_argument_beats_jimeng_token(
    jimeng_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIMENG_TOKEN", jimeng_emulator.add_account(region="us", credits=1))
    given = jimeng_emulator.add_account(region="cn", credits=55)
    async with jm.JimengSession(given, settings=jimeng_emulator.settings()) as s:
        assert s.region == "cn"
        assert (await s.credits()).total == 55


def test_no_token_and_no_jimeng_token_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIMENG_TOKEN", raising=False)
    with pytest.raises(jm.InvalidInputError) as info:
        jm.JimengSession()
    assert info.value.field == "refresh_token"
    assert "JIMENG_TOKEN" in str(info.value)


def test_a_bad_jimeng_token_is_refused_like_an_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_TOKEN", "has space")
    with pytest.raises(jm.InvalidInputError):
        jm.JimengSession()


# -- proxies -------------------------------------------------------------------------------


def _relayed(forwarding: ForwardingProxy, path: str) -> int:
    return sum(1 for line in forwarding.requests if line.endswith(path))


async def test_session_proxy_carries_every_request_of_a_generation(
    jimeng_emulator: Emulator,
    jimeng_token: str,
    proxy: tuple[ForwardingProxy, str],
    tmp_path: Path,
) -> None:
    forwarding, url = proxy
    secret_url = url.replace("http://", "http://user:pa55word@")
    settings = jimeng_emulator.settings()
    async with jm.JimengSession(jimeng_token, settings=settings, proxy=secret_url) as s:
        result = await s.generate_image("a fox", images=[png(64, 48, "proxy")])
        paths = await result.save(tmp_path)
        assert "pa55word" not in repr(s)
        assert "pa55word" not in jm.redact_text("proxy auth pa55word")  # as in a log line
    stats = jimeng_emulator.stats.requests
    assert len(paths) == 4
    assert _relayed(forwarding, "/mweb/v1/aigc_draft/generate") == stats["generate"] == 1
    assert _relayed(forwarding, "/mweb/v1/get_history_by_ids") == stats["get_history_by_ids"]
    assert _relayed(forwarding, "/commerce/v1/benefits/user_credit") == stats["user_credit"]
    # ImageX (apply and commit at "/", the upload itself) and the CDN (the saved files) too.
    assert {"GET /", "POST /"} <= set(forwarding.requests)
    assert any(line.startswith("POST /upload/") for line in forwarding.requests)
    assert sum(line.startswith("GET /cdn/") for line in forwarding.requests) == 4
    assert forwarding.authorizations  # httpx sent the credentials to the proxy, not upstream


async def test_settings_proxy_and_jimeng_proxy(
    jimeng_emulator: Emulator,
    jimeng_token: str,
    proxy: tuple[ForwardingProxy, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forwarding, url = proxy
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings(proxy=url)) as s:
        await s.account_info()
    assert forwarding.requests == ["POST /passport/account/info/v2"]
    monkeypatch.setenv("JIMENG_PROXY", url)
    from_env = jimeng_emulator.settings()
    assert from_env.proxy == url
    async with jm.JimengSession(jimeng_token, settings=from_env) as s:
        await s.credits()
    assert forwarding.requests[-1] == "POST /commerce/v1/benefits/user_credit"


async def test_trust_env_decides_whether_http_proxy_applies(
    jimeng_emulator: Emulator,
    jimeng_token: str,
    proxy: tuple[ForwardingProxy, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    forwarding, url = proxy
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url)
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        await s.account_info()  # the emulator's settings turn trust_env off
    assert forwarding.requests == []
    trusting = jimeng_emulator.settings(trust_env=True)
    async with jm.JimengSession(jimeng_token, settings=trusting) as s:
        await s.account_info(refresh=True)
    assert forwarding.requests == ["POST /passport/account/info/v2"]


async def test_pool_proxies_route_each_account_through_its_own(
    jimeng_emulator: Emulator, proxy: tuple[ForwardingProxy, str]
) -> None:
    forwarding, url = proxy
    first = jimeng_emulator.add_account(region="cn", credits=100)
    second = jimeng_emulator.add_account(region="cn", credits=100)
    settings = jimeng_emulator.settings()
    async with jm.JimengPool([first, second], settings=settings, proxies=[url, None]) as pool:
        await pool.refresh_credits()
    # Only the first account's credit read went through the proxy.
    assert _relayed(forwarding, "/commerce/v1/benefits/user_credit") == 1
    assert jimeng_emulator.stats.requests["user_credit"] == 2


def test_a_bad_proxy_is_refused_without_showing_it(jimeng_emulator: Emulator) -> None:
    with pytest.raises(jm.InvalidInputError) as info:
        jm.JimengSession("tok", proxy="ftp://user:s3cret@host:21")
    assert info.value.field == "proxy"
    assert "s3cret" not in str(info.value)
    with pytest.raises(jm.ConfigurationError) as config:
        jm.Settings(proxy="user:s3cret@host:21")
    assert "proxy" in str(config.value)
    assert "s3cret" not in str(config.value)
    settings = jm.Settings(proxy="http://user:s3cret@127.0.0.1:9")
    assert "s3cret" not in repr(settings)


# -- with_options --------------------------------------------------------------------------


async def test_with_options_changes_retries_for_the_view_only(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(error_rate=1.0, endpoints=frozenset({"user_credit"}))
    settings = jimeng_emulator.settings(retry_base_delay=0.001)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        view = s.with_options(max_retries=1)
        with pytest.raises(jm.ServerError):
            await view.credits()
        assert jimeng_emulator.stats.requests["user_credit"] == 2  # 1 + 1 retry
        with pytest.raises(jm.ServerError):
            await s.credits()
        assert jimeng_emulator.stats.requests["user_credit"] == 6  # then 1 + 3 retries
        with pytest.raises(jm.ServerError):
            await s.with_options(max_retries=0).credits()
        assert jimeng_emulator.stats.requests["user_credit"] == 7
        # One metrics object: the view's retries count in the session's snapshot.
        assert s.metrics.snapshot()["endpoints"]["user_credit"]["retries"] == 4


async def test_with_options_view_shares_caches_limits_and_closing(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    s = jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings())
    view = s.with_options(timeout=7.5, generation_timeout=30)
    assert view.settings.request_timeout == 7.5
    assert view.settings.generation_timeout == 30
    assert s.settings.request_timeout != 7.5
    await view.credits()
    await s.credits()  # answered by the cache the view filled
    assert jimeng_emulator.stats.requests["user_credit"] == 1
    task = await view.submit_image("a cat")
    assert (await s.resume(task.history_id, kind="image")).history_id == task.history_id
    await view.aclose()  # closing a view closes the session
    with pytest.raises(jm.SessionClosedError):
        await s.account_info()
    with pytest.raises(jm.SessionClosedError):
        s.with_options(max_retries=0)


async def test_views_share_the_accounts_query_limit(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    # Slow answers make the calls overlap, so the one limit is what bounds them.
    jimeng_emulator.faults = FaultConfig(
        slow_rate=1.0, slow_seconds=0.05, endpoints=frozenset({"user_credit"})
    )
    async with (
        jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s,
        anyio.create_task_group() as group,
    ):
        views = [s, s.with_options(max_retries=0), s.with_options(timeout=4)]
        for index in range(24):
            group.start_soon(partial(views[index % 3].credits, refresh=True))
    assert jimeng_emulator.stats.requests["user_credit"] == 24
    assert jimeng_emulator.stats.max_in_flight[(jimeng_token, "query")] == 5


async def test_a_views_timeout_bounds_its_own_requests(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(
        slow_rate=1.0, slow_seconds=0.5, endpoints=frozenset({"user_credit"})
    )
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.NetworkError):  # no answer within 0.1 s
            await s.with_options(timeout=0.1, max_retries=0).credits()
        assert (await s.credits()).total == 1000  # the session's own 5 s still holds


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"generation_timeout": "10"}, "generation_timeout"),
    ],
)
async def test_with_options_refuses_bad_values_by_name(
    jimeng_emulator: Emulator, jimeng_token: str, options: dict[str, object], field: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InvalidInputError) as info:
            s.with_options(**options)  # type: ignore[arg-type]
    assert info.value.field == field


# -- on_progress ---------------------------------------------------------------------------


async def test_on_progress_gets_the_progress_steps_sync_and_async(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    plain: list[jm.Progress] = []
    awaited: list[jm.Progress] = []

    async def record(step: jm.Progress) -> None:
        await anyio.lowlevel.checkpoint()
        awaited.append(step)

    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        image = await s.generate_image("a cat", on_progress=plain.append)
        video = await s.generate_video("waves", on_progress=record)
        task = await s.submit_image("a dog")
        direct = [step async for step in task.progress()]
    assert len(image.images) == 4
    assert video.video.url
    for steps in (plain, awaited, direct):
        assert len(steps) >= 2
        assert not steps[0].status.terminal
        assert steps[-1].status.succeeded
        assert len(set(steps)) == len(steps)  # each a change, as progress() yields them
    assert plain[-1].items == direct[-1].items == 4
    assert awaited[-1].items == 1


async def test_a_failing_on_progress_ends_the_wait_not_the_job(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    def explode(step: jm.Progress) -> None:
        raise RuntimeError("the bot's message was deleted")

    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(RuntimeError, match="deleted"):
            await s.generate_image("a cat", on_progress=explode)
    assert jimeng_emulator.stats.requests["generate"] == 1


async def test_on_progress_that_is_not_callable_is_refused_before_submit(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InvalidInputError) as info:
            await s.generate_image("a cat", on_progress="print")  # type: ignore[arg-type]
    assert info.value.field == "on_progress"
    assert jimeng_emulator.stats.requests["generate"] == 0


async def test_pool_generate_takes_on_progress(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account(region="cn", credits=100)
    steps: list[jm.Progress] = []
    async with jm.JimengPool([token], settings=jimeng_emulator.settings()) as pool:
        result = await pool.generate_image("a cat", ratio="16:9", on_progress=steps.append)
    assert len(result.images) == 4
    assert steps[-1].status.succeeded


# -- trust_env and certificates ------------------------------------------------------------


def test_trust_env_reads_ssl_cert_file(
    jimeng_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing-ca.pem"))
    token = jimeng_emulator.add_account("cn")
    with pytest.raises(jm.ConfigurationError) as info:
        jm.JimengSession(token, settings=jimeng_emulator.settings(trust_env=True))
    assert "SSL_CERT_FILE" in str(info.value)
    assert "trust_env" in str(info.value)
    new_http_client(jimeng_emulator.settings(trust_env=False))  # the variable is not read


def test_trust_env_loads_a_ca_bundle_from_ssl_cert_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    certifi = pytest.importorskip("certifi")
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    loaded: list[str] = []
    real = ssl.SSLContext.load_verify_locations

    def spy(context: ssl.SSLContext, cafile: str | None = None, *args: Any, **kw: Any) -> None:
        loaded.append(str(cafile))
        real(context, cafile, *args, **kw)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", spy)
    new_http_client(jm.Settings(trust_env=True))
    assert str(bundle) in loaded
