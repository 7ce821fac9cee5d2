"""The emulator's web API gateway, accounts and credits, driven with raw signed httpx calls.

The helpers at the top (signed calls, draft bodies) are shared by the other test_emulator_*
files, which import them from here.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import pytest

from jimeng_async import auth
from jimeng_async.config import DEFAULT_REGIONS, Settings
from jimeng_async.drafts import VIDEO_COMMERCE_INFO
from jimeng_async.testing import EmulatorConfig
from jimeng_async.testing.server import Emulator
from jimeng_async.testing.stats import WEB_ENDPOINTS

PATHS = {name: path for path, name in WEB_ENDPOINTS.items()}
COMMERCE = ("user_credit", "credit_receive")
FAST = EmulatorConfig(web_latency=(0.0, 0.0))
_SETTINGS = Settings()

# --- helpers shared by the emulator tests --------------------------------------------------


def signed_parts(token: str, endpoint: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(path, query params, headers) of a correct call of `endpoint` for `token`."""
    region, session_id = auth.split_token(token)
    profile = DEFAULT_REGIONS[region]
    path = PATHS[endpoint]
    commerce = endpoint in COMMERCE
    params = {} if commerce else auth.default_params(profile, _SETTINGS)
    if endpoint == "account_info":
        params["account_sdk_source"] = "web"
    headers = auth.build_headers(
        session_id=session_id, profile=profile, path=path, commerce=commerce
    )
    return path, params, headers


def _patch(base: dict[str, str], changes: Mapping[str, str | None] | None) -> dict[str, str]:
    out = dict(base)
    for key, value in (changes or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


async def web(
    client: httpx.AsyncClient,
    token: str,
    endpoint: str,
    body: Any = None,
    *,
    params: Mapping[str, str | None] | None = None,
    headers: Mapping[str, str | None] | None = None,
    content: bytes | None = None,
) -> dict[str, Any]:
    """POST a signed call and return the decoded envelope; `None` values remove a param/header."""
    path, base_params, base_headers = signed_parts(token, endpoint)
    if content is None:
        content = json.dumps({} if body is None else body).encode()
    response = await client.post(
        path,
        params=_patch(base_params, params),
        headers={**_patch(base_headers, headers), "Content-Type": "application/json"},
        content=content,
    )
    assert response.status_code == 200, response.text
    envelope: dict[str, Any] = response.json()
    return envelope


async def ok(client: httpx.AsyncClient, token: str, endpoint: str, body: Any = None) -> Any:
    """A call that must succeed; returns its data."""
    envelope = await web(client, token, endpoint, body)
    assert envelope["ret"] == "0", envelope
    return envelope["data"]


def _node(**fields: Any) -> dict[str, Any]:
    return {"type": "", "id": str(uuid.uuid4()), **fields}


def _core_param(
    model: str, prompt: str, size: tuple[int, int, int], resolution: str, seed: int
) -> dict[str, Any]:
    width, height, code = size
    return _node(
        model=model, prompt=prompt, negative_prompt="", seed=seed, sample_strength=0.5,
        image_ratio=code, intelligent_ratio=False,
        large_image_info=_node(width=width, height=height, resolution_type=resolution),
    )  # fmt: skip


def _wrap(
    component: dict[str, Any],
    *,
    model: str,
    aid: int,
    submit_id: str | None,
    min_version: str = "3.0.2",
    extend: dict[str, Any] | None = None,
) -> dict[str, Any]:
    draft = {
        "type": "draft", "id": str(uuid.uuid4()), "min_version": min_version, "min_features": [],
        "is_from_tsn": True, "version": "3.3.2", "main_component_id": component["id"],
        "component_list": [component],
    }  # fmt: skip
    return {
        "extend": {"root_model": model, "template_id": "", **(extend or {})},
        "submit_id": submit_id or str(uuid.uuid4()),
        "metrics_extra": json.dumps({"templateId": "", "generateCount": 1}),
        "draft_content": json.dumps(draft),
        "http_common_info": {"aid": aid},
    }


def _metadata() -> dict[str, Any]:
    return _node(
        created_platform=3,
        created_platform_version="",
        created_time_in_ms=str(int(time.time() * 1000)),
        created_did="",
    )


def image_body(
    prompt: str,
    *,
    aid: int = 513695,
    model: str = "high_aes_general_v40",
    size: tuple[int, int, int] = (2048, 2048, 1),
    resolution: str = "2k",
    submit_id: str | None = None,
    seed: int = 2_550_000_000,
) -> dict[str, Any]:
    """A text-to-image generate body as SHAPES.md gives it."""
    component = {
        "type": "image_base_component", "id": str(uuid.uuid4()), "min_version": "3.0.2",
        "aigc_mode": "workbench", "generate_type": "generate", "metadata": _metadata(),
        "abilities": _node(generate=_node(
            core_param=_core_param(model, prompt, size, resolution, seed),
            history_option=_node())),
    }  # fmt: skip
    return _wrap(component, model=model, aid=aid, submit_id=submit_id)


def image_node(uri: str, width: int, height: int) -> dict[str, Any]:
    return {"type": "image", "id": str(uuid.uuid4()), "source_from": "upload",
            "platform_type": 1, "name": "", "image_uri": uri, "uri": uri, "width": width,
            "height": height, "format": "png"}  # fmt: skip


def blend_body(
    prompt: str,
    images: list[tuple[str, int, int]],
    *,
    aid: int = 513695,
    model: str = "high_aes_general_v40",
    submit_id: str | None = None,
) -> dict[str, Any]:
    """A blend generate body over (uri, width, height) inputs."""
    abilities = [
        _node(
            name="byte_edit", image_uri_list=[uri], image_list=[image_node(uri, w, h)], strength=0.5
        )
        for uri, w, h in images
    ]
    blend = _node(
        min_features=[],
        core_param=_core_param(model, "##" + prompt, (2048, 2048, 1), "2k", 2_550_000_000),
        ability_list=abilities,
        prompt_placeholder_info_list=[_node(ability_index=i) for i in range(len(images))],
        postedit_param=_node(generate_type=0),
    )
    component = {
        "type": "image_base_component", "id": str(uuid.uuid4()), "min_version": "3.0.2",
        "aigc_mode": "workbench", "generate_type": "blend", "metadata": _metadata(),
        "abilities": _node(blend=blend, history_option=_node()),
    }  # fmt: skip
    return _wrap(component, model=model, aid=aid, submit_id=submit_id)


def video_body(
    prompt: str,
    *,
    aid: int = 513695,
    model: str = "dreamina_ic_generate_video_model_vgfm_3.0",
    duration_ms: int = 5000,
    resolution: str = "720p",
    ratio: str = "16:9",
    first: tuple[str, int, int] | None = None,
    end: tuple[str, int, int] | None = None,
    submit_id: str | None = None,
) -> dict[str, Any]:
    """A video generate body, with optional first and end frames (uri, width, height)."""
    gen_input = _node(
        min_version="3.0.5",
        prompt=prompt,
        video_mode=2,
        fps=24,
        duration_ms=duration_ms,
        resolution=resolution,
    )
    if first:
        gen_input["first_frame_image"] = image_node(*first)
    if end:
        gen_input["end_frame_image"] = image_node(*end)
    params = _node(
        model_req_key=model,
        priority=0,
        seed=2_550_000_000,
        video_aspect_ratio=ratio,
        video_gen_inputs=[gen_input],
    )
    component = {
        "type": "video_base_component", "id": str(uuid.uuid4()), "min_version": "1.0.0",
        "aigc_mode": "workbench", "generate_type": "gen_video", "metadata": _metadata(),
        "abilities": _node(gen_video=_node(
            text_to_video_params=params,
            video_task_extra=json.dumps({"promptSource": "custom", "isDefaultSeed": 1}))),
    }  # fmt: skip
    extend = {
        "m_video_commerce_info": dict(VIDEO_COMMERCE_INFO),
        "m_video_commerce_info_list": [dict(VIDEO_COMMERCE_INFO)],
    }
    return _wrap(
        component, model=model, aid=aid, submit_id=submit_id, min_version="3.0.5", extend=extend
    )


def edit_draft(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A copy of `body` whose draft_content went through `change`."""
    body = copy.deepcopy(body)
    draft = json.loads(body["draft_content"])
    change(draft)
    body["draft_content"] = json.dumps(draft)
    return body


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(time_scale=0.01, seed=7, config=FAST) as emu:
        yield emu


# --- tests ---------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio


async def test_cn_and_us_accounts_are_served(emulator: Emulator, client: httpx.AsyncClient) -> None:
    cn = emulator.add_account("cn", credits=7)
    us = emulator.add_account("us", credits=3, vip=True)
    assert len(cn) == 32
    assert int(cn, 16) >= 0
    assert us.startswith("us-")
    cn_info = await ok(client, cn, "account_info", None)
    us_info = await ok(client, us, "account_info")
    assert cn_info["user_info"]["region"] == "cn"
    assert us_info["user_info"]["region"] == "US"
    assert us_info["account_status"]["is_vip"] is True
    assert cn_info["user_id"] != us_info["user_id"]
    cn_credit = await ok(client, cn, "user_credit", {})
    us_credit = await ok(client, us, "user_credit", {})
    assert cn_credit["credit"]["total_credit"] == 7
    assert us_credit["credit"]["vip_credit"] == 3
    assert emulator.stats.requests["account_info"] == 2
    assert emulator.stats.max_in_flight[(cn, "query")] == 1


async def test_account_info_accepts_an_empty_body(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account()
    envelope = await web(client, token, "account_info", content=b"")
    assert envelope["ret"] == "0"


@pytest.mark.parametrize(
    ("params", "headers", "named"),
    [
        (None, {"Sign": "0" * 32}, "Sign"),
        (None, {"Device-Time": str(int(time.time()) - 301)}, "Device-Time"),
        (None, {"Device-Time": None}, "Device-Time"),
        (None, {"Sign-Ver": "2"}, "Sign-Ver"),
        (None, {"Pf": None}, "Pf"),
        (None, {"Appvr": "eight"}, "Appvr"),
        (None, {"Appvr": "2.0.0"}, "Sign"),  # Sign was made with the Appvr not sent
        (None, {"Appid": "513641"}, "Appid"),
        ({"web_version": None}, None, "web_version"),
        ({"webId": None}, None, "webId"),
        ({"aid": "513641"}, None, "aid"),
        ({"region": "US"}, None, "region"),
        ({"account_sdk_source": None}, None, "account_sdk_source"),
    ],
)
async def test_gateway_refuses_bad_headers_and_params(
    emulator: Emulator,
    client: httpx.AsyncClient,
    params: dict[str, str | None] | None,
    headers: dict[str, str | None] | None,
    named: str,
) -> None:
    token = emulator.add_account()
    envelope = await web(client, token, "account_info", params=params, headers=headers)
    assert envelope["ret"] == "4002"
    assert named in envelope["errmsg"]
    assert envelope["data"] is None


async def test_sign_depends_on_the_path(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account()
    _, _, credit_headers = signed_parts(token, "user_credit")
    envelope = await web(
        client,
        token,
        "credit_receive",
        {"time_zone": "Asia/Shanghai"},
        headers={"Sign": credit_headers["Sign"]},
    )
    assert (envelope["ret"], envelope["errmsg"]) == ("4002", "invalid header Sign")


async def test_us_token_refuses_cn_params_and_cookie_region(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    us = emulator.add_account("us")
    cn_params = auth.default_params(DEFAULT_REGIONS["cn"], _SETTINGS)
    wrong_aid = await web(
        client, us, "get_history_by_ids", {"history_ids": ["1"]}, params=dict(cn_params)
    )
    assert wrong_aid["ret"] == "4002"
    _, _, headers = signed_parts(us, "user_credit")
    cookie = headers["Cookie"].replace("store-region=us", "store-region=cn-gd")
    wrong_store = await web(client, us, "user_credit", {}, headers={"Cookie": cookie})
    assert wrong_store["ret"] == "4002"
    assert "store-region" in wrong_store["errmsg"]


async def test_commerce_calls_take_default_params_or_none(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    # Clients send none; the service also accepts them, and then checks them as usual.
    token = emulator.add_account()
    defaults = auth.default_params(DEFAULT_REGIONS["cn"], _SETTINGS)
    assert (await web(client, token, "user_credit", {}, params=dict(defaults)))["ret"] == "0"
    wrong = await web(client, token, "user_credit", {}, params={**defaults, "aid": "513641"})
    assert wrong["ret"] == "4002"
    assert "aid" in wrong["errmsg"]


async def test_missing_cookie_fields_are_refused(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account()
    _, _, headers = signed_parts(token, "user_credit")
    cookie = "; ".join(p for p in headers["Cookie"].split("; ") if not p.startswith("sid_tt="))
    envelope = await web(client, token, "user_credit", {}, headers={"Cookie": cookie})
    assert envelope["ret"] == "4002"
    assert "sid_tt" in envelope["errmsg"]


async def test_unknown_expired_and_banned_tokens(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    unknown = await web(client, "f" * 32, "account_info")
    assert (unknown["ret"], unknown["errmsg"]) == ("1015", "login expired")
    token = emulator.add_account()
    assert (await web(client, token, "user_credit", {}))["ret"] == "0"
    emulator.expire_account(token)
    assert (await web(client, token, "user_credit", {}))["ret"] == "1015"
    expired = emulator.add_account(expired=True)
    assert (await web(client, expired, "account_info"))["ret"] == "1015"
    banned = emulator.add_account(banned=True)
    assert (await web(client, banned, "account_info"))["ret"] == "1004"


async def test_body_must_be_a_json_object(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account()
    not_json = await web(client, token, "user_credit", content=b"{nope")
    assert not_json["ret"] == "4002"
    a_list = await web(client, token, "get_history_by_ids", content=b"[1, 2]")
    assert a_list["ret"] == "4002"


async def test_only_post_is_allowed(emulator: Emulator, client: httpx.AsyncClient) -> None:
    response = await client.get(PATHS["user_credit"])
    assert response.status_code == 405
    assert "Traceback" not in response.text


async def test_daily_credits_once_per_emulated_day(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=5)
    body = {"time_zone": "Asia/Shanghai"}
    before = await ok(client, token, "user_credit", {})
    assert before["benefit_status"]["can_receive_daily"] is True
    first = await ok(client, token, "credit_receive", body)
    assert first["is_first_receive"] is True
    assert (first["cur_total_credits"], first["receive_quota"]) == (105, 100)
    second = await ok(client, token, "credit_receive", body)
    assert (second["cur_total_credits"], second["receive_quota"]) == (105, 0)
    after = await ok(client, token, "user_credit", {})
    assert after["credit"]["gift_credit"] == 100
    assert after["benefit_status"]["can_receive_daily"] is False
    emulator.new_day()
    third = await ok(client, token, "credit_receive", body)
    assert (third["cur_total_credits"], third["receive_quota"]) == (205, 100)
    assert third["is_first_receive"] is False
    assert emulator.credits_of(token) == 205


async def test_an_emulated_day_passes_with_the_scaled_clock(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=0)
    body = {"time_zone": "America/New_York"}
    assert (await ok(client, token, "credit_receive", body))["receive_quota"] == 100
    emulator.advance(86400 * emulator.time_scale)
    assert (await ok(client, token, "credit_receive", body))["receive_quota"] == 100


async def test_credit_receive_needs_a_time_zone(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=0)
    envelope = await web(client, token, "credit_receive", {})
    assert envelope["ret"] == "4002"
    assert "time_zone" in envelope["errmsg"]
    assert emulator.credits_of(token) == 0


async def test_upload_token_needs_scene_2(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account()
    for body in ({}, {"scene": 1}, {"scene": True}):
        envelope = await web(client, token, "get_upload_token", body)
        assert envelope["ret"] == "4002"
        assert "scene" in envelope["errmsg"]


async def test_upload_token_gives_region_credentials(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    cn = await ok(client, emulator.add_account("cn"), "get_upload_token", {"scene": 2})
    us = await ok(client, emulator.add_account("us"), "get_upload_token", {"scene": 2})
    for data in (cn, us):
        assert {"access_key_id", "secret_access_key", "session_token"} <= data.keys()
    assert "service_id" in cn
    assert "space_name" in us


async def test_settings_point_every_region_here(emulator: Emulator) -> None:
    settings = emulator.settings(max_retries=1)
    for region in ("cn", "us", "hk", "jp", "sg"):
        profile = settings.profile(region)
        assert profile.base_url == profile.commerce_url == profile.imagex_url == emulator.url
    assert settings.max_retries == 1
    assert settings.poll_min_interval == pytest.approx(0.01)
    assert settings.poll_first_delay_video == pytest.approx(0.1)
