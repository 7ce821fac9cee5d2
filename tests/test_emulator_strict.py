"""The emulator as strict and as tolerant as the service (PROTOCOL.md §2, §3, §5, §6, §7).

Tolerance where real clients differ (2026 Appvr, no store-region, gen_option, 0 / "" image
nodes, optional seed and negative prompt, resolution only where a model takes it) and strictness
where the service is strict (Sign against the Appvr sent, minimum app version, models per
region, per-model durations and benefit types, the Seedance 2.0 guard, risky images).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from test_emulator_web import (
    blend_body,
    edit_draft,
    image_body,
    ok,
    signed_parts,
    video_body,
    web,
)

import jimeng_async as jm
from jimeng_async.testing import EmulatorConfig, FaultConfig
from jimeng_async.testing.imagex_service import RISKY_MARKER
from jimeng_async.testing.media import png
from jimeng_async.testing.server import Emulator
from jimeng_async.testing.signing import expected_sign

pytestmark = pytest.mark.anyio

CONFIG = EmulatorConfig(web_latency=(0.0, 0.0))
EPSILON = 1e-6
SEEDANCE = "dreamina_seedance_40_pro"
GUARD = {"msToken": "any-token", "a_bogus": "any-bogus"}


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(time_scale=1.0, seed=17, config=CONFIG) as emu:
        emu.freeze_clock()
        yield emu


def _with_appvr(token: str, endpoint: str, app_version: str) -> dict[str, str | None]:
    """Headers of a call that sends `app_version` and signs with it."""
    path, _, headers = signed_parts(token, endpoint)
    sign = expected_sign(path, "7", app_version, headers["Device-Time"])
    return {"Appvr": app_version, "Sign": sign}


def _commerce(benefit: str) -> dict[str, Any]:
    info = {
        "benefit_type": benefit,
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }
    return {"m_video_commerce_info": info, "m_video_commerce_info_list": [info]}


def video(model: str, benefit: str, **options: Any) -> dict[str, Any]:
    body = video_body("waves", model=model, **options)
    body["extend"] = {"root_model": model, **_commerce(benefit)}
    return body


async def upload(emulator: Emulator, token: str, data: bytes) -> str:
    async with jm.JimengSession(token, settings=emulator.settings()) as session:
        return (await session.upload_image(data)).uri


# --- gateway ---------------------------------------------------------------------------------


async def test_sign_is_checked_against_the_appvr_sent(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account()
    modern = await web(
        client, token, "account_info", headers=_with_appvr(token, "account_info", "8.4.0")
    )
    assert modern["ret"] == "0"
    mixed = {**_with_appvr(token, "account_info", "8.4.0"), "Appvr": "5.8.0"}
    wrong = await web(client, token, "account_info", headers=mixed)
    assert (wrong["ret"], wrong["errmsg"]) == ("4002", "invalid header Sign")


@pytest.mark.parametrize(
    ("app_version", "ret"),
    [("1.0.0", "3018"), ("8.3.9", "3018"), ("8.4.0", "0"), ("8.10.0", "0"), ("10.0", "0")],
)
async def test_minimum_app_version_compares_numerically(app_version: str, ret: str) -> None:
    async with Emulator(time_scale=1.0, config=CONFIG, min_app_version="8.4.0") as emulator, \
            httpx.AsyncClient(base_url=emulator.url) as client:  # fmt: skip
        assert emulator.config.min_app_version == "8.4.0"
        token = emulator.add_account()
        headers = _with_appvr(token, "account_info", app_version)
        envelope = await web(client, token, "account_info", headers=headers)
        assert envelope["ret"] == ret
        if ret == "3018":
            assert app_version in envelope["errmsg"]
            assert "8.4.0" in envelope["errmsg"]


async def test_no_minimum_by_default(emulator: Emulator, client: httpx.AsyncClient) -> None:
    assert emulator.config.min_app_version is None
    token = emulator.add_account()
    headers = _with_appvr(token, "account_info", "1.0.0")
    assert (await web(client, token, "account_info", headers=headers))["ret"] == "0"


def test_minimum_app_version_must_be_a_version() -> None:
    with pytest.raises(ValueError, match="min_app_version"):
        EmulatorConfig(min_app_version="latest")


async def test_store_region_is_optional_but_checked_when_sent(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account()
    _, _, headers = signed_parts(token, "user_credit")
    pairs = headers["Cookie"].split("; ")
    without = "; ".join(p for p in pairs if not p.startswith("store-region"))
    assert (await web(client, token, "user_credit", {}, headers={"Cookie": without}))["ret"] == "0"
    wrong = headers["Cookie"].replace("store-region=cn-gd", "store-region=us")
    refused = await web(client, token, "user_credit", {}, headers={"Cookie": wrong})
    assert refused["ret"] == "4002"
    assert "store-region" in refused["errmsg"]


async def test_every_answer_carries_a_logid(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account()
    path, params, headers = signed_parts(token, "account_info")
    good = await client.post(path, params=params, headers=headers)
    bad = await client.post(path, params=params, headers={**headers, "Sign": "0" * 32})
    ids = {good.headers["x-tt-logid"], bad.headers["x-tt-logid"]}
    assert len(ids) == 2
    assert all(len(i) == 34 and i[:14].isdigit() for i in ids)


async def test_new_ret_codes_come_through_faults(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    emulator.faults = FaultConfig(ret_codes={"generate": ("3018", "1019")})
    token = emulator.add_account(credits=10)
    first = await web(client, token, "generate", image_body("x"))
    second = await web(client, token, "generate", image_body("x"))
    assert (first["ret"], second["ret"]) == ("3018", "1019")
    assert emulator.credits_of(token) == 10
    assert emulator.stats.faults_injected["ret_3018"] == 1
    assert (await web(client, token, "user_credit", {}))["ret"] == "0"
    with pytest.raises(ValueError, match="not a web endpoint"):
        FaultConfig(ret_codes={"upload": ("1",)})


# --- credits ---------------------------------------------------------------------------------


async def test_credits_in_detail_accounts(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=30, credits_in_detail=True)
    data = await ok(client, token, "user_credit", {})
    assert data["credit"] == {"gift_credit": 0, "purchase_credit": 0, "vip_credit": 0}
    detail = data["credits_detail"]
    assert sum(pot[0]["residual_credits"] for key, pot in detail.items() if key != "total_credits")
    assert detail["total_credits"] == 30
    receipt = await ok(client, token, "credit_receive", {"time_zone": "Asia/Shanghai"})
    assert receipt["receive_quota"] == 100
    assert "cur_total_credits" not in receipt
    assert emulator.credits_of(token) == 130


# --- drafts: tolerance -------------------------------------------------------------------------


def _swap_option(draft: dict[str, Any]) -> None:
    generate = draft["component_list"][0]["abilities"]["generate"]
    del generate["history_option"]
    generate["gen_option"] = {"type": "", "id": "o", "generate_all": False}


def _drop_seed_and_negative(draft: dict[str, Any]) -> None:
    core = draft["component_list"][0]["abilities"]["generate"]["core_param"]
    del core["seed"], core["negative_prompt"]


def _alt_1k(draft: dict[str, Any]) -> None:
    core = draft["component_list"][0]["abilities"]["generate"]["core_param"]
    core["large_image_info"].update(width=1195, height=512, resolution_type="1k")
    core["image_ratio"] = 8


TOLERATED = [
    ("gen_option", edit_draft(image_body("x"), _swap_option)),
    ("no seed or negative prompt", edit_draft(image_body("x"), _drop_seed_and_negative)),
    ("1024-based 1k size", edit_draft(image_body("x"), _alt_1k)),
    ("4.5 model", image_body("x", model="high_aes_general_v40l")),
    ("5.0 model", image_body("x", model="high_aes_general_v50")),
    (
        "3.5 pro, 12 s, no resolution",
        edit_draft(
            video("dreamina_ic_generate_video_model_vgfm_3.5_pro", "dreamina_video_seedance_15_pro",
                  duration_ms=12000),
            lambda d: d["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"][
                "video_gen_inputs"][0].pop("resolution"),
        ),
    ),
    ("3.0 pro with an old client's resolution",
     video("dreamina_ic_generate_video_model_vgfm_3.0_pro", "basic_video_operation_vgfm_v_three")),
]  # fmt: skip


@pytest.mark.parametrize("body", [b for _, b in TOLERATED], ids=[n for n, _ in TOLERATED])
async def test_what_real_clients_send_is_accepted(
    emulator: Emulator, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    token = emulator.add_account(credits=10)
    assert (await web(client, token, "generate", body))["ret"] == "0"


async def test_blend_with_zero_image_metadata(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    uri = await upload(emulator, token, png(40, 30, "blend"))
    body = blend_body("night", [(uri, 0, 0)])

    def blank_format(draft: dict[str, Any]) -> None:
        blend = draft["component_list"][0]["abilities"]["blend"]
        blend["ability_list"][0]["image_list"][0]["format"] = ""
        del blend["core_param"]["seed"], blend["core_param"]["negative_prompt"]

    assert (await web(client, token, "generate", edit_draft(body, blank_format)))["ret"] == "0"
    wrong = await web(client, token, "generate", blend_body("night", [(uri, 41, 30)]))
    assert wrong["ret"] == "2002"
    assert "40x30" in wrong["errmsg"]


# --- drafts: strictness ------------------------------------------------------------------------


REFUSED = [
    ("withdrawn model", "cn", image_body("x", model="high_aes_general_v14:general_v1.4"),
     "2003", "withdrawn"),
    ("model not offered in the region", "us",
     image_body("x", aid=513641, model="high_aes_general_v30l_art_fangzhou:general_v3.0_18b"),
     "2003", "not offered in region us"),
    ("nanobanana in cn", "cn", image_body("x", model="external_model_gemini_flash_image_v25"),
     "2003", "not offered"),
    ("nanobanana at 2k", "us",
     image_body("x", aid=513641, model="external_model_gemini_flash_image_v25"),
     "2002", "1024x1024"),
    ("size that fits no ratio", "cn", image_body("x", size=(2048, 1000, 1)), "2002",
     "is not a 2k size of any ratio"),
    ("duration the model does not take", "cn",
     video("dreamina_ic_generate_video_model_vgfm_3.0", "basic_video_operation_vgfm_v_three",
           duration_ms=12000), "2002", "duration_ms"),
    ("another model's benefit type", "cn",
     video("dreamina_ic_generate_video_model_vgfm_3.5_pro", "basic_video_operation_vgfm_v_three"),
     "2002", "dreamina_video_seedance_15_pro"),
    ("Seedance 2.0 without msToken / a_bogus", "cn",
     video(SEEDANCE, "dreamina_video_seedance_20_pro"), "1019", "msToken"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("region", "body", "ret", "says"),
    [r[1:] for r in REFUSED],
    ids=[r[0] for r in REFUSED],
)
async def test_what_the_service_refuses_is_refused(
    emulator: Emulator,
    client: httpx.AsyncClient,
    region: str,
    body: dict[str, Any],
    ret: str,
    says: str,
) -> None:
    token = emulator.add_account(region, credits=10)
    envelope = await web(client, token, "generate", body)
    assert envelope["ret"] == ret, envelope
    assert says in envelope["errmsg"]
    assert emulator.credits_of(token) == 10


async def test_seedance_with_the_guard_parameters(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    body = video(SEEDANCE, "dreamina_video_seedance_20_pro", duration_ms=15000)
    assert (await web(client, token, "generate", body, params=dict(GUARD)))["ret"] == "0"
    empty = await web(client, token, "generate", body, params={**GUARD, "a_bogus": ""})
    assert empty["ret"] == "1019"


# --- optional calls ----------------------------------------------------------------------------


async def test_algo_proxy_refuses_risky_images(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    clean = await upload(emulator, token, png(20, 20, "clean"))
    marked = await upload(emulator, token, png(20, 21, "marked") + RISKY_MARKER)
    flagged = await upload(emulator, token, png(20, 22, "flagged"))
    emulator.mark_risky(flagged)
    babi = {"babi_param": json.dumps({"scenario": "image_video_generation"})}

    def check(uri: str) -> dict[str, Any]:
        return {
            "scene": "image_face_ip",
            "options": {"ip_check": True},
            "req_key": "benchmark_test_user_upload_image_input",
            "file_list": [{"file_uri": uri}],
            "req_params": {},
        }

    assert (await web(client, token, "algo_proxy", check(clean), params=babi))["ret"] == "0"
    for uri in (marked, flagged):
        refused = await web(client, token, "algo_proxy", check(uri), params=babi)
        assert (refused["ret"], refused["errmsg"]) == ("2003", "risk not pass")
        blend = await web(client, token, "generate", blend_body("x", [(uri, 0, 0)]))
        assert blend["ret"] == "2003"
    stranger = emulator.add_account()
    foreign = await web(client, stranger, "algo_proxy", check(clean), params=babi)
    assert foreign["ret"] == "2002"


async def test_local_item_list_gives_a_high_quality_video_url(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    data = await ok(client, token, "generate", video_body("waves"))
    history_id = data["aigc_data"]["history_record_id"]
    emulator.advance(emulator.records[history_id].phases.finish + EPSILON)
    records = await ok(client, token, "get_history_by_ids", {"history_ids": [history_id]})
    (item,) = records[history_id]["item_list"]
    assert item["item_id"] == item["id"] == item["local_item_id"] == item["common_attr"]["id"]
    body = {
        "item_id_list": [item["item_id"]],
        "pack_item_opt": {"scene": 1, "need_data_integrity": True},
        "is_for_video_download": True,
    }
    (local,) = (await ok(client, token, "get_local_item_list", body))["item_list"]
    hq_url = local["common_attr"]["transcoded_video"]["origin"]["video_url"]
    history_url = item["video"]["transcoded_video"]["origin"]["video_url"]
    assert ".hq.mp4" in hq_url
    assert ".hq.mp4" not in history_url
    download = await client.get(hq_url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"
    other = emulator.add_account()
    assert (await ok(client, other, "get_local_item_list", body))["item_list"] == []
