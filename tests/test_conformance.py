"""Replay of the conformance corpus: requests real clients send must be accepted by the emulator.

The corpus (`shared/conformance/*.json`, beside the project in CI; `JIMENG_CONFORMANCE_DIR`
overrides) holds requests captured from two independent clients. Each case is replayed as its
README says: an account of the case's region, its images uploaded through the real ImageX flow,
a Cookie from the case's field names, Device-Time now and Sign from the case's own Appvr. Every
case must answer ret "0"; a generate case must also reach a success status with downloadable
results. Without the corpus the test skips, except under CI, where it fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import jimeng_async as jm
from jimeng_async.testing import EmulatorConfig
from jimeng_async.testing.media import png
from jimeng_async.testing.server import Emulator

pytestmark = pytest.mark.anyio

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"
CORPUS = Path(os.environ.get("JIMENG_CONFORMANCE_DIR") or DEFAULT_DIR)
CASES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []
LOADED = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in CASES}
STORE_REGION = {"cn": "cn-gd", "us": "us"}
SUCCESS = (10, 50)
EPSILON = 1e-6


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    config = EmulatorConfig(web_latency=(0.0, 0.0))
    async with Emulator(time_scale=1.0, seed=31, config=config) as emu:
        emu.freeze_clock()
        yield emu


def _sign(path: str, app_version: str, device_time: str) -> str:
    """The web app's Sign, written here from PROTOCOL.md §2 (shared by neither side)."""
    raw = f"9e2c|{path[-7:]}|7|{app_version}|{device_time}||11ac"
    return hashlib.md5(raw.encode()).hexdigest()


def _cookie(fields: list[str], session_id: str, region: str, now: int) -> str:
    values = {
        "_tea_web_id": str(secrets.randbelow(9 * 10**18) + 10**18),
        "is_staff_user": "false",
        "store-region": STORE_REGION[region],
        "store-region-src": "uid",
        "sid_guard": f"{session_id}%7C{now}%7C5184000%7CMon%2C+01-Jan-2030+00%3A00%3A00+GMT",
        "uid_tt": secrets.token_hex(16),
        "uid_tt_ss": secrets.token_hex(16),
        "sid_tt": session_id,
        "sessionid": session_id,
        "sessionid_ss": session_id,
    }
    return "; ".join(f"{name}={values.get(name, 'x')}" for name in fields)


async def _upload(emulator: Emulator, token: str, count: int) -> list[str]:
    async with jm.JimengSession(token, settings=emulator.settings()) as session:
        refs = [await session.upload_image(png(64 + i, 48, f"case-{i}")) for i in range(count)]
    return [ref.uri for ref in refs]


def _result_urls(record: dict[str, Any]) -> list[str]:
    urls: list[str] = []
    for item in record["item_list"]:
        if "video" in item:
            urls.append(item["video"]["transcoded_video"]["origin"]["video_url"])
        else:
            urls.append(item["image"]["large_images"][0]["image_url"])
    return urls


def _signed(path: str, token: str, region: str) -> tuple[dict[str, str], dict[str, str]]:
    """(query, headers) of a 2026 web call for `token`, built here (not by the client)."""
    now = str(int(time.time()))
    query = {
        "aid": "513695" if region == "cn" else "513641",
        "device_platform": "web",
        "region": "cn" if region == "cn" else "US",
        "da_version": "3.3.9",
        "os": "windows",
        "web_component_open_flag": "1",
        "web_version": "7.5.0",
        "aigc_features": "app_lip_sync",
    }
    if region == "cn":
        query["webId"] = str(secrets.randbelow(9 * 10**18) + 10**18)
    fields = ["sid_guard", "sid_tt", "sessionid", "sessionid_ss"]
    headers = {
        "Appid": query["aid"],
        "Appvr": "8.4.0",
        "Pf": "7",
        "Sign-Ver": "1",
        "Device-Time": now,
        "Sign": _sign(path, "8.4.0", now),
        "Cookie": _cookie(fields, token.removeprefix("us-"), region, int(now)),
    }
    return query, headers


async def _finish(
    emulator: Emulator, http: httpx.AsyncClient, token: str, region: str, history_id: str
) -> dict[str, Any]:
    """Move the clock past the job's end, then poll it (a bounded number of times)."""
    emulator.advance(emulator.records[history_id].phases.finish + EPSILON)
    path = "/mweb/v1/get_history_by_ids"
    status = None
    for _ in range(3):
        query, headers = _signed(path, token, region)
        response = await http.post(
            path, params=query, headers=headers, json={"history_ids": [history_id]}
        )
        envelope = response.json()
        assert envelope["ret"] == "0", envelope
        record: dict[str, Any] = envelope["data"][history_id]
        status = record["status"]
        if status in SUCCESS:
            return record
    raise AssertionError(f"job {history_id} did not finish: status {status}")


def test_the_corpus_is_there() -> None:
    if CASES:
        return
    reason = f"no conformance corpus at {CORPUS} (set JIMENG_CONFORMANCE_DIR)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.mark.parametrize("name", sorted(LOADED))
async def test_replayed_case_is_accepted(
    emulator: Emulator, client: httpx.AsyncClient, name: str
) -> None:
    case = LOADED[name]
    region = "us" if case["region"] == "US" else "cn"
    token = emulator.add_account(region, credits=1000)
    session_id = token.removeprefix("us-")
    uris = await _upload(emulator, token, case["image_uris"])

    now = str(int(time.time()))
    web_id = str(secrets.randbelow(9 * 10**18) + 10**18)
    query = {k: v.replace("{{WEB_ID}}", web_id) for k, v in case["query"].items()}
    headers = {
        "Accept": "application/json, text/plain, */*",
        "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/132.0.0.0",
        **case["headers"],
        "Device-Time": now,
        "Sign": _sign(case["path"], case["headers"]["Appvr"], now),
        "Cookie": _cookie(case["cookie_fields"], session_id, region, int(now)),
    }
    content = b""
    if case["body"] is not None:
        text = json.dumps(case["body"])
        for index, uri in enumerate(uris):
            text = text.replace(f"{{{{IMAGE_URI_{index}}}}}", uri)
        assert "{{IMAGE_URI_" not in text
        content = text.encode()

    response = await client.request(
        case["method"], case["path"], params=query, headers=headers, content=content
    )
    assert response.status_code == 200, response.text
    assert response.headers.get("x-tt-logid")
    envelope = response.json()
    assert envelope["ret"] == "0", (name, envelope)

    if case["endpoint"] == "generate":
        history_id = envelope["data"]["aigc_data"]["history_record_id"]
        record = await _finish(emulator, client, token, region, history_id)
        urls = _result_urls(record)
        assert urls
        for url in urls:
            download = await client.get(url)
            assert download.status_code == 200, url
            assert download.content
