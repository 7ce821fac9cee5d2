"""The 2026 protocol, pure parts: ret codes, fail codes, credits, drafts per model family, the
signer hook, request ids and the optional calls (on httpx's mock transport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

import jimeng_async as jm
from jimeng_async import drafts, errors, registry
from jimeng_async.auth import parse_cookie
from jimeng_async.imagex import _imagex_result
from jimeng_async.inputs import ImageRequest, VideoRequest
from jimeng_async.metrics import Metrics
from jimeng_async.models import Asset, CreditInfo, ImageRef, parse_record
from jimeng_async.transport import ACCOUNT_INFO, GENERATE, Transport

CONTEXT = {"endpoint": "generate", "request_id": "log-1"}

RET_TABLE: list[tuple[str, type[jm.APIError], bool]] = [
    ("1015", jm.AuthError, False),
    ("1001", jm.AuthError, False),
    ("1004", jm.PermissionDeniedError, False),
    ("3018", jm.PermissionDeniedError, False),
    ("3000", jm.RegionNotAllowedError, False),
    ("1018", jm.AccountPunishedError, False),
    ("1019", jm.RiskControlError, False),
    ("4013", jm.RiskControlError, False),
    ("-4", jm.RiskControlError, False),
    ("5000", jm.InsufficientCreditsError, False),
    ("1006", jm.InsufficientCreditsError, False),
    ("4001", jm.ContentFilteredError, False),
    ("2038", jm.ContentFilteredError, False),
    ("4002", jm.InvalidRequestError, False),
    ("2002", jm.InvalidRequestError, False),
    ("1000", jm.InvalidRequestError, False),
    ("2004", jm.ServiceBusyError, True),
    ("1014", jm.ServiceBusyError, True),
    ("5001", jm.ServiceBusyError, True),
    ("2003", jm.UnknownAPIError, False),
]


@pytest.mark.parametrize(("ret", "cls", "retryable"), RET_TABLE)
def test_ret_code_mapping(ret: str, cls: type[jm.APIError], retryable: bool) -> None:
    error = errors.error_for_ret(ret, "msg", CONTEXT)
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.context["request_id"] == "log-1"
    assert f"ret {ret}" in str(error)


def test_messages_name_the_likely_cause_and_the_fix() -> None:
    outdated = str(errors.error_for_ret("3018", "permission denied", CONTEXT))
    assert "app version" in outdated
    assert "JIMENG_APP_VERSION" in outdated
    assert "IP region" in str(errors.error_for_ret("3000", "", CONTEXT))
    risk = errors.error_for_ret("1019", "shark not pass", CONTEXT)
    assert "request_signer" in str(risk)
    assert risk.code == jm.RISK_CONTROL


@pytest.mark.parametrize(
    ("fail_code", "filtered"),
    [(2038, True), ("2038", True), ("2043", True), (2047, True), ("4011", True), (2039, False)],
)
def test_fail_codes_as_numbers_or_strings(fail_code: Any, filtered: bool) -> None:
    record = parse_record("h1", {"status": 30, "fail_code": fail_code}, "image")
    assert record.fail_code == str(fail_code)
    error = errors.generation_failure(fail_code, "h1", None)
    assert isinstance(error, jm.GenerationFilteredError) is filtered
    assert error.fail_code == str(fail_code)
    if fail_code == "4011":
        assert "face" in str(error)


@pytest.mark.parametrize(
    ("data", "total"),
    [
        ({"credit": {"gift_credit": 5, "purchase_credit": 0, "vip_credit": 0}}, 5),
        (
            {
                "credit": {"gift_credit": 0, "purchase_credit": 0, "vip_credit": 0},
                "credits_detail": {
                    "gift_credits": [{"residual_credits": 60}, {"residual_credits": 40}]
                },
            },
            100,
        ),
        (
            {
                "credit": {"gift_credit": 0, "purchase_credit": 0, "vip_credit": 0},
                "expiring_credits": [{"residual_credits": 12}],
            },
            12,
        ),
        (
            {
                "credit": {"gift_credit": 80, "total_credit": 80},
                "credits_detail": {"x": [{"credit": 3}]},
            },
            80,
        ),
        ({"credits_detail": {"vip_credits": [{"residual_credits": 9}]}}, 9),
        ({"credit": {"gift_credit": 0}, "expiring_credits": 7}, 7),
    ],
)
def test_total_is_the_larger_reading(data: dict[str, Any], total: int) -> None:
    assert CreditInfo.from_data(data).total == total


@pytest.mark.parametrize("count", [1e400, -1e400, float("nan"), 2**60])
def test_an_absurd_residual_count_is_a_field_error(count: float) -> None:
    data = {"credit": {"gift_credit": 1}, "credits_detail": {"gift_credits": [count]}}
    with pytest.raises(jm.ResponseFieldError, match="residual credit count"):
        CreditInfo.from_data(data)


def test_credits_with_neither_reading_are_a_field_error() -> None:
    with pytest.raises(jm.ResponseFieldError, match="credit"):
        CreditInfo.from_data({"benefit_status": {}})


# --- drafts of every model family -----------------------------------------------------------


def body_of(req: ImageRequest | VideoRequest) -> dict[str, Any]:
    video = isinstance(req, VideoRequest)
    draft = (
        drafts.build_video_draft(req, submit_id="s")
        if isinstance(req, VideoRequest)
        else drafts.build_image_draft(req)
    )
    return drafts.build_generate_body(
        draft=draft, model_id=req.model_id, submit_id="s", aid=1, video=video
    )


def test_nanobanana_is_always_1024_square() -> None:
    body = body_of(ImageRequest(prompt="p", model="nanobanana", region="us"))
    core = json.loads(body["draft_content"])["component_list"][0]["abilities"]["generate"][
        "core_param"
    ]
    info = core["large_image_info"]
    assert (info["width"], info["height"], info["resolution_type"]) == (1024, 1024, "1k")
    assert core["image_ratio"] == 1
    assert core["model"] == "external_model_gemini_flash_image_v25"
    assert body["extend"]["root_model"] == "external_model_gemini_flash_image_v25"


@pytest.mark.parametrize("model", list(registry.VIDEO_MODELS.values()), ids=lambda m: m.alias)
def test_video_drafts_per_family(model: jm.VideoModel) -> None:
    home = sorted(model.regions)[0]
    req = VideoRequest(prompt="p", model=model.alias, duration=model.durations[-1], region=home)
    body = body_of(req)
    draft = json.loads(body["draft_content"])
    assert draft["version"] == "3.3.9"
    params = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]
    gen_input = params["video_gen_inputs"][0]
    assert params["model_req_key"] == model.id
    assert gen_input["duration_ms"] == model.durations[-1] * 1000
    assert gen_input["min_version"] == "3.0.5"
    assert ("resolution" in gen_input) is model.sends_resolution
    info = body["extend"]["m_video_commerce_info"]
    assert info["benefit_type"] == model.benefit_type
    assert body["extend"]["m_video_commerce_info_list"] == [info]


def test_draft_version_follows_settings() -> None:
    draft = drafts.build_image_draft(ImageRequest(prompt="p"), version="3.4.1")
    assert draft["version"] == "3.4.1"


# --- transport: signer, request ids, retries ------------------------------------------------

Handler = Callable[[httpx.Request], httpx.Response]


async def send(
    handler: Handler, endpoint: Any, *, signer: jm.RequestSigner | None = None, **settings: Any
) -> dict[str, Any]:
    config = jm.Settings(retry_base_delay=0.001, retry_max_delay=0.001, **settings)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        transport = Transport(
            client=client,
            settings=config,
            profile=config.profile("cn"),
            session_id="sid-secret",
            metrics=Metrics(),
            query_slots=anyio.Semaphore(5),
            signer=signer,
        )
        return await transport.call(endpoint, {"a": 1})


@pytest.mark.anyio
async def test_signer_adds_params_and_headers_but_never_sees_or_replaces_secrets() -> None:
    seen: list[httpx.Request] = []
    signed: list[jm.SignableRequest] = []

    async def signer(request: jm.SignableRequest) -> jm.RequestSignature:
        signed.append(request)
        return jm.RequestSignature(
            params={"msToken": "mt", "a_bogus": "ab"}, headers={"X-Bogus": "1", "Cookie": "evil"}
        )

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ret": "0", "data": {}})

    await send(answer, GENERATE, signer=signer)
    await send(answer, ACCOUNT_INFO, signer=signer)  # not a guarded call: not signed
    assert len(signed) == 1
    assert {k.lower() for k in signed[0].headers} & {"cookie", "sign"} == set()
    assert signed[0].body == b'{"a":1}'
    generate = seen[0]
    assert generate.url.params["msToken"] == "mt"
    assert generate.url.params["a_bogus"] == "ab"
    assert generate.headers["X-Bogus"] == "1"
    assert parse_cookie(generate.headers["Cookie"])["sessionid"] == "sid-secret"
    assert "msToken" not in seen[1].url.params


@pytest.mark.anyio
async def test_settings_signer_is_used_when_the_session_gives_none() -> None:
    calls: list[str] = []

    async def signer(request: jm.SignableRequest) -> None:
        calls.append(request.endpoint)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ret": "0", "data": {}})

    await send(answer, GENERATE, request_signer=signer)
    assert calls == ["generate"]


@pytest.mark.anyio
@pytest.mark.parametrize(("ret", "attempts"), [("1019", 1), ("4013", 1), ("3018", 1), ("1014", 3)])
async def test_risk_control_is_not_retried_and_busy_is(ret: str, attempts: int) -> None:
    count = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return httpx.Response(
            200, json={"ret": ret, "errmsg": "no"}, headers={"x-tt-logid": f"log-{count}"}
        )

    with pytest.raises(jm.APIError) as info:
        await send(answer, GENERATE, max_retries=2)
    assert count == attempts
    assert info.value.context["request_id"] == f"log-{count}"
    assert info.value.context["ret"] == ret


def test_imagex_errors_keep_the_request_id() -> None:
    response = httpx.Response(
        403,
        json={
            "ResponseMetadata": {
                "RequestId": "req-77",
                "Error": {"Code": "AccessDenied", "Message": "no"},
            }
        },
    )
    with pytest.raises(jm.UploadError) as info:
        _imagex_result(response, "ApplyImageUpload")
    assert info.value.request_id == "req-77"


# --- the optional calls ---------------------------------------------------------------------


CN_TOKEN = "cn0123456789abcdef"


def session_on(handler: Handler, token: str = CN_TOKEN, **settings: Any) -> Any:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    config = jm.Settings(max_retries=0, **settings)
    return jm.JimengSession(token, settings=config, http_client=client), client


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ret", "refused"), [("2003", True), ("1000", False), ("0", False), ("5000", False)]
)
async def test_content_check_refusal_names_the_input(ret: str, refused: bool) -> None:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/mweb/v1/algo_proxy"
        babi = json.loads(request.url.params["babi_param"])
        assert babi["feature_entrance_detail"] == "to-generate-algo_proxy"
        body = json.loads(request.content)
        bodies.append(body)
        bad = body["file_list"] == [{"file_uri": "tos-cn-i-x/bad"}]
        return httpx.Response(
            200, json={"ret": ret if bad else "0", "errmsg": "risk not pass", "data": {}}
        )

    session, client = session_on(answer)
    good = ImageRef(uri="tos-cn-i-x/ok", width=1, height=1)
    bad = ImageRef(uri="tos-cn-i-x/bad", width=1, height=1)
    async with client:
        if refused:
            with pytest.raises(jm.ContentFilteredError, match=r"images\[1\]") as info:
                await session._check_contents([("images[0]", good), ("images[1]", bad)])
            assert info.value.ret == "2003"
        else:
            await session._check_contents([("images[0]", good), ("images[1]", bad)])
    assert [b["file_list"][0]["file_uri"] for b in bodies] == ["tos-cn-i-x/ok", "tos-cn-i-x/bad"]
    assert bodies[0]["scene"] == "image_face_ip"
    await session.aclose()


@pytest.mark.anyio
async def test_content_check_only_on_cn_and_only_when_on() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    ref = ImageRef(uri="u", width=1, height=1)
    for token, settings in (("us-" + CN_TOKEN, {}), (CN_TOKEN, {"content_check": False})):
        session, client = session_on(answer, token, **settings)
        async with client:
            await session._check_contents([("images[0]", ref)])
        await session.aclose()


def origin(url: str) -> dict[str, Any]:
    return {"transcoded_video": {"origin": {"video_url": url}}}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("answer_json", "expected"),
    [
        (
            {
                "ret": "0",
                "data": {
                    "item_list": [
                        {
                            "video": {
                                "transcoded_video": {"origin": {"video_url": "https://hq/v.mp4"}}
                            }
                        }
                    ]
                },
            },
            "https://hq/v.mp4",
        ),
        (
            {
                "ret": "0",
                "data": {
                    "item_list": [
                        {
                            "common_attr": {
                                "transcoded_video": {"origin": {"video_url": "https://hq/c.mp4"}}
                            }
                        }
                    ]
                },
            },
            "https://hq/c.mp4",
        ),
        ({"ret": "0", "data": {"item_list": []}}, "https://history/v.mp4"),
        ({"ret": "1000", "errmsg": "bad"}, "https://history/v.mp4"),
    ],
)
async def test_hq_video_url_with_fallback(answer_json: dict[str, Any], expected: str) -> None:
    asked: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/mweb/v1/get_local_item_list"
        asked.append(json.loads(request.content))
        return httpx.Response(200, json=answer_json)

    session, client = session_on(answer)
    asset = Asset(url="https://history/v.mp4", item_id="item-9", media="video")
    async with client:
        assert await session._download_url(asset) == expected
        assert await session._download_url(Asset(url="https://img/1.png", item_id="i")) == (
            "https://img/1.png"
        )
    assert asked[0]["item_id_list"] == ["item-9"]
    assert asked[0]["is_for_video_download"] is True
    assert len(asked) == 1  # images are never asked for
    await session.aclose()
