"""Token parsing, masking, Sign, Cookie and default params (pure)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jimeng_async import Settings
from jimeng_async.auth import (
    WEB_ID,
    build_cookie,
    build_headers,
    compute_sign,
    default_params,
    mask_token,
    parse_cookie,
    split_token,
)
from jimeng_async.config import DEFAULT_REGIONS, RegionName


@pytest.mark.parametrize(
    ("token", "region", "sid"),
    [
        ("abc123", "cn", "abc123"),
        ("us-abc", "us", "abc"),
        ("US-abc", "us", "abc"),
        ("Hk-x", "hk", "x"),
        ("jp-y", "jp", "y"),
        ("sg-z", "sg", "z"),
        ("uss-abc", "cn", "uss-abc"),
    ],
)
def test_split_token(token: str, region: str, sid: str) -> None:
    assert split_token(token) == (region, sid)


def test_mask_never_shows_the_token() -> None:
    token = "us-0123456789abcdef0123456789abcdef"
    masked = mask_token(token)
    assert masked.startswith("us-")
    assert "0123456789abcdef0123456789ab" not in masked
    assert mask_token("short") == "***"


def test_sign_formula() -> None:
    path = "/mweb/v1/aigc_draft/generate"
    expected = hashlib.md5(b"9e2c|enerate|7|8.4.0|1700000000||11ac").hexdigest()
    assert compute_sign(path, 1700000000) == expected
    assert len(expected) == 32
    assert expected == expected.lower()


def test_cookie_fields() -> None:
    jar = parse_cookie(build_cookie("tok", DEFAULT_REGIONS["us"], 1700000000))
    assert jar["sessionid"] == jar["sessionid_ss"] == jar["sid_tt"] == "tok"
    assert jar["store-region"] == "us"
    assert jar["store-region-src"] == "uid"
    assert jar["_tea_web_id"] == WEB_ID
    assert jar["uid_tt"] == jar["uid_tt_ss"]
    assert jar["sid_guard"].startswith("tok%7C1700000000%7C5184000%7C")
    assert parse_cookie(build_cookie("t", DEFAULT_REGIONS["cn"], 1))["store-region"] == "cn-gd"


def test_default_params_cn_has_web_id_us_does_not() -> None:
    s = Settings()
    cn = default_params(DEFAULT_REGIONS["cn"], s)
    us = default_params(DEFAULT_REGIONS["us"], s)
    assert cn["aid"] == "513695"
    assert cn["region"] == "cn"
    assert cn["webId"] == WEB_ID
    assert len(WEB_ID) == 19
    assert WEB_ID.isdigit()
    assert us["aid"] == "513641"
    assert us["region"] == "US"
    assert "webId" not in us
    for params in (cn, us):
        assert params["device_platform"] == "web"
        assert params["da_version"] == "3.3.9"
        assert params["os"] == "windows"
        assert params["web_version"] == "7.5.0"
        assert params["web_component_open_flag"] == "1"
        assert params["aigc_features"] == "app_lip_sync"


def test_headers_carry_sign_for_their_path_and_time() -> None:
    headers = build_headers(
        session_id="tok", profile=DEFAULT_REGIONS["cn"], path="/mweb/v1/get_upload_token", now=5
    )
    assert headers["Device-Time"] == "5"
    assert headers["Sign"] == compute_sign("/mweb/v1/get_upload_token", 5)
    assert headers["Sign-Ver"] == "1"
    assert (headers["Appid"], headers["Appvr"], headers["Pf"]) == ("513695", "8.4.0", "7")
    assert headers["Origin"] == "https://jimeng.jianying.com"
    assert headers["Referer"].startswith("https://jimeng.jianying.com/")
    commerce = build_headers(
        session_id="t", profile=DEFAULT_REGIONS["us"], path="/x", commerce=True, now=1
    )
    assert commerce["Origin"] == "https://commerce.us.capcut.com"


@given(
    path=st.text(min_size=1, max_size=40).map(lambda p: "/" + p),
    device_time=st.integers(min_value=0, max_value=2**33),
    version=st.from_regex(r"[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True),
)
def test_sign_is_md5_of_the_formula_with_the_app_version_sent(
    path: str, device_time: int, version: str
) -> None:
    raw = f"9e2c|{path[-7:]}|7|{version}|{device_time}||11ac".encode()
    assert compute_sign(path, device_time, app_version=version) == hashlib.md5(raw).hexdigest()
    settings = Settings(app_version=version)
    headers = build_headers(
        session_id="t", profile=DEFAULT_REGIONS["cn"], path=path, settings=settings, now=device_time
    )
    assert headers["Appvr"] == version
    assert headers["Sign"] == hashlib.md5(raw).hexdigest()


@pytest.mark.parametrize(
    ("region", "lan", "loc"),
    [("cn", "zh-Hans", "cn"), ("us", "en", "us"), ("hk", "en", "hk"), ("jp", "ja", "jp")],
)
def test_2026_headers(region: RegionName, lan: str, loc: str) -> None:
    headers = build_headers(
        session_id="t", profile=DEFAULT_REGIONS[region], path="/x", settings=Settings(), now=1
    )
    assert headers["App-Sdk-Version"] == "48.0.0"
    assert (headers["Lan"], headers["Loc"], headers["Tdid"]) == (lan, loc, "")
    assert headers["Appvr"] == "8.4.0"


def test_versions_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_APP_VERSION", "9.0.1")
    monkeypatch.setenv("DEFAULT_DA_VERSION", "3.4.0")
    monkeypatch.setenv("JIMENG_APP_SDK_VERSION", "49.0.0")
    settings = Settings()
    assert settings.app_version == "9.0.1"
    assert settings.effective_draft_version == "3.4.0"
    assert default_params(DEFAULT_REGIONS["cn"], settings)["da_version"] == "3.4.0"
    headers = build_headers(
        session_id="t", profile=DEFAULT_REGIONS["cn"], path="/abc", settings=settings, now=3
    )
    assert headers["Sign"] == compute_sign("/abc", 3, app_version="9.0.1")
    assert headers["App-Sdk-Version"] == "49.0.0"
    assert Settings(app_version="8.5.0").app_version == "8.5.0"  # argument beats environment
    assert Settings(draft_version="3.3.8").effective_draft_version == "3.3.8"
