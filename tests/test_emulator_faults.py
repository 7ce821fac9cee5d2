"""Fault injection: each kind at its configured rate, per endpoint, reproducible; no tracebacks."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pydantic
import pytest
from test_emulator_web import image_body, signed_parts, web

from jimeng_async.testing import EmulatorConfig, FaultConfig
from jimeng_async.testing.server import Emulator

pytestmark = pytest.mark.anyio

CALLS = 200
SLOW_SECONDS = 0.03


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(web_latency=(0.0, 0.0))
    async with Emulator(time_scale=0.01, seed=21, config=config) as emu:
        yield emu


async def outcome(
    client: httpx.AsyncClient, token: str, endpoint: str = "user_credit", *, timed: bool = False
) -> str:
    """What the client saw: ok, a status code, dropped, malformed (or slow, if `timed`)."""
    path, params, headers = signed_parts(token, endpoint)
    started = time.perf_counter()
    try:
        response = await client.post(path, params=params, headers=headers, content=b"{}")
    except httpx.TransportError:
        return "dropped"
    if response.status_code != 200:
        return str(response.status_code)
    try:
        envelope = response.json()
    except json.JSONDecodeError:
        return "malformed"
    assert envelope["ret"] == "0"
    return "slow" if timed and time.perf_counter() - started >= SLOW_SECONDS else "ok"


KINDS: list[tuple[str, dict[str, Any], set[str]]] = [
    ("error", {"error_rate": 0.5}, {"500", "502", "503"}),
    ("rate_limit", {"rate_limit_rate": 0.5}, {"429"}),
    ("drop", {"drop_rate": 0.5}, {"dropped"}),
    ("malformed", {"malformed_rate": 0.5}, {"malformed"}),
    ("slow", {"slow_rate": 0.5, "slow_seconds": SLOW_SECONDS}, {"slow"}),
]


@pytest.mark.parametrize(("kind", "rates", "seen_as"), KINDS, ids=[k for k, _, _ in KINDS])
async def test_each_fault_kind_at_its_rate(
    emulator: Emulator,
    client: httpx.AsyncClient,
    kind: str,
    rates: dict[str, Any],
    seen_as: set[str],
) -> None:
    token = emulator.add_account()
    calls = CALLS if kind != "slow" else 60
    emulator.faults = FaultConfig(**rates, seed=99)
    outcomes = [await outcome(client, token, timed=kind == "slow") for _ in range(calls)]
    faulty = sum(1 for o in outcomes if o in seen_as)
    injected = emulator.stats.faults_injected[kind]
    assert 0.35 * calls <= injected <= 0.65 * calls
    assert set(outcomes) <= seen_as | {"ok"}
    assert set(emulator.stats.faults_injected) == {kind}
    if kind == "slow":  # a busy machine may make an unlucky normal call slow too
        assert injected <= faulty <= injected + calls // 10
    else:
        assert faulty == injected
    assert emulator.stats.requests["user_credit"] == calls


async def test_faults_are_reproducible_under_a_seed(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account()
    config = FaultConfig(error_rate=0.3, rate_limit_rate=0.3, malformed_rate=0.3, seed=5)
    runs = []
    for _ in range(2):
        emulator.faults = config
        runs.append([await outcome(client, token) for _ in range(40)])
    assert runs[0] == runs[1]
    assert len(set(runs[0])) >= 3
    emulator.faults = FaultConfig(error_rate=0.3, rate_limit_rate=0.3, malformed_rate=0.3, seed=6)
    assert [await outcome(client, token) for _ in range(40)] != runs[0]


async def test_rate_limit_carries_retry_after(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account()
    emulator.faults = FaultConfig(rate_limit_rate=1.0, retry_after=2.5)
    path, params, headers = signed_parts(token, "user_credit")
    response = await client.post(path, params=params, headers=headers, content=b"{}")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2.5"
    emulator.faults = None
    assert await outcome(client, token) == "ok"


async def test_faults_limited_to_endpoints(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account()
    emulator.faults = FaultConfig(error_rate=1.0, endpoints=["generate"])
    assert await outcome(client, token, "user_credit") == "ok"
    envelope_call = await client.post("/mweb/v1/aigc_draft/generate", content=b"{}")
    assert envelope_call.status_code in (500, 502, 503)
    assert emulator.stats.faults_injected["error"] == 1
    assert emulator.credits_of(token) == 100


async def test_a_dropped_generate_still_did_the_work(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    body = image_body("a dropped answer")
    emulator.faults = FaultConfig(drop_rate=1.0, endpoints={"generate"})
    with pytest.raises(httpx.TransportError):
        await web(client, token, "generate", body)
    assert emulator.credits_of(token) == 9
    assert len(emulator.records) == 1
    emulator.faults = None
    retried = await web(client, token, "generate", body)
    assert retried["data"]["aigc_data"]["history_record_id"] == next(iter(emulator.records))
    assert emulator.credits_of(token) == 9
    assert emulator.stats.submits[body["submit_id"]] == 2


async def test_errors_and_rate_limits_come_before_the_handler(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    emulator.faults = FaultConfig(error_rate=1.0)
    with pytest.raises(AssertionError):
        await web(client, token, "generate", image_body("never made"))
    emulator.faults = FaultConfig(rate_limit_rate=1.0)
    with pytest.raises(AssertionError):
        await web(client, token, "generate", image_body("never made"))
    assert emulator.records == {}
    assert emulator.credits_of(token) == 10
    assert sum(emulator.stats.submits.values()) == 0


async def test_internal_errors_answer_json_without_traceback(
    emulator: Emulator, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = emulator.add_account()

    def broken(*args: object) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(emulator.web._handlers, "user_credit", broken)
    path, params, headers = signed_parts(token, "user_credit")
    response = await client.post(path, params=params, headers=headers, content=b"{}")
    assert response.status_code == 500
    assert response.json() == {"ret": "-1", "errmsg": "internal error"}
    assert "boom" not in response.text


def test_fault_config_validates_rates() -> None:
    with pytest.raises(pydantic.ValidationError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(pydantic.ValidationError):
        FaultConfig(drop_rate=-0.1)
    with pytest.raises(pydantic.ValidationError):
        FaultConfig(endpoints="generate")  # type: ignore[arg-type]
    config = FaultConfig(endpoints=["generate", "upload"], seed=1)
    assert config.endpoints == frozenset({"generate", "upload"})
    assert config.applies_to("upload")
    assert not config.applies_to("cdn")
    assert FaultConfig().applies_to("cdn")
