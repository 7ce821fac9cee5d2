"""Token parsing, masking, Sign, Cookie and default params (pure)."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jimeng_async import InvalidInputError, Settings
from jimeng_async.auth import (
    MAX_TOKEN_LENGTH,
    SECRET_HEADERS,
    UID_TT,
    WEB_ID,
    build_cookie,
    build_headers,
    compute_sign,
    default_params,
    mask_token,
    parse_cookie,
    redact_url,
    split_token,
    strip_credentials,
    validate_token,
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


# --- exact values: a mutant of any header, cookie field, mask or check must fail one of these --


def test_headers_are_exactly_what_the_web_app_sends() -> None:
    cn = DEFAULT_REGIONS["cn"]
    headers = build_headers(session_id="tok", profile=cn, path="/mweb/v1/generate", now=7)
    assert headers == {
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "zh-CN,zh;q=0.9",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "User-Agent": (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
        ),
        "Sec-Ch-Ua": '"Chromium";v="132", "Google Chrome";v="132", "Not_A Brand";v="99"',
        "Sec-Ch-Ua-Mobile": "?0",
        "Sec-Ch-Ua-Platform": '"Windows"',
        "Sec-Fetch-Dest": "empty",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Site": "same-origin",
        "Origin": "https://jimeng.jianying.com",
        "Referer": "https://jimeng.jianying.com/ai-tool/image/generate",
        "Appid": "513695",
        "Appvr": "8.4.0",
        "Pf": "7",
        "App-Sdk-Version": "48.0.0",
        "Lan": "zh-Hans",
        "Loc": "cn",
        "Tdid": "",
        "Device-Time": "7",
        "Sign": hashlib.md5(b"9e2c|enerate|7|8.4.0|7||11ac").hexdigest(),
        "Sign-Ver": "1",
        "Cookie": build_cookie("tok", cn, 7),
    }
    us = build_headers(
        session_id="t",
        profile=DEFAULT_REGIONS["us"],
        path="/x",
        settings=Settings(app_sdk_version="49.1.0"),
        referer_path="/ai-tool/video/generate",
        now=1,
    )
    assert us["Accept-Language"] == "en-US,en;q=0.9"
    assert us["Origin"] == DEFAULT_REGIONS["us"].origin
    assert us["Referer"] == DEFAULT_REGIONS["us"].origin + "/ai-tool/video/generate"
    assert us["App-Sdk-Version"] == "49.1.0"


def test_device_time_defaults_to_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jimeng_async.auth.time.time", lambda: 1234.9)
    headers = build_headers(session_id="t", profile=DEFAULT_REGIONS["cn"], path="/abcdefgh")
    assert headers["Device-Time"] == "1234"
    assert headers["Sign"] == compute_sign("/abcdefgh", 1234)


def test_cookie_is_exactly_the_web_apps() -> None:
    cookie = build_cookie("sid", DEFAULT_REGIONS["cn"], 0)
    expires = "Mon%2C%2002%20Mar%201970%2000%3A00%3A00%20GMT"  # 60 days after the epoch
    assert cookie == "; ".join(
        [
            f"_tea_web_id={WEB_ID}",
            "is_staff_user=false",
            "store-region=cn-gd",
            "store-region-src=uid",
            f"sid_guard=sid%7C0%7C5184000%7C{expires}",
            f"uid_tt={UID_TT}",
            f"uid_tt_ss={UID_TT}",
            "sid_tt=sid",
            "sessionid=sid",
            "sessionid_ss=sid",
        ]
    )
    assert len(UID_TT) == 32
    int(UID_TT, 16)


def test_default_params_are_exactly_these_in_this_order() -> None:
    settings = Settings(device_platform="web", da_version="3.3.9", web_version="7.5.0")
    cn = default_params(DEFAULT_REGIONS["cn"], settings)
    assert list(cn.items()) == [
        ("aid", "513695"),
        ("device_platform", "web"),
        ("region", "cn"),
        ("webId", WEB_ID),
        ("da_version", "3.3.9"),
        ("os", "windows"),
        ("web_component_open_flag", "1"),
        ("web_version", "7.5.0"),
        ("aigc_features", "app_lip_sync"),
    ]
    other = default_params(DEFAULT_REGIONS["us"], Settings(device_os="mac"))
    assert other["os"] == "mac"


def test_parse_cookie_keeps_named_fields_only() -> None:
    assert parse_cookie(" a=1; b = 2 ;junk; c=x=y;d=") == {
        "a": "1",
        "b ": " 2",
        "c": "x=y",
        "d": "",
    }


@pytest.mark.parametrize(
    ("token", "masked"),
    [
        ("0123456789abcdef0123456789abcdef", "***cdef"),
        ("us-0123456789abcdef0123456789abcdef", "us-***cdef"),
        ("HK-0123456789abcdef", "hk-***cdef"),
        ("0123456789abcdef", "***cdef"),  # 16 characters: the tail is shown
        ("0123456789abcde", "***"),  # 15: too short to show anything
        ("sg-0123456789abcde", "sg-***"),
    ],
)
def test_mask_shows_the_region_and_at_most_the_last_four(token: str, masked: str) -> None:
    assert mask_token(token) == masked


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1))
def test_mask_never_shows_more_than_four_characters_of_the_session_id(token: str) -> None:
    region, session_id = split_token(token)
    prefix = "" if region == "cn" else f"{region}-"
    masked = mask_token(token)
    assert masked.startswith(prefix + "***")
    shown = masked[len(prefix) + 3 :]
    assert len(shown) <= 4
    assert shown == (session_id[-4:] if len(session_id) >= 16 else "")


def test_split_token_strips_whitespace_around_the_token() -> None:
    assert split_token("  us-abc \n") == ("us", "abc")
    assert split_token(" abc ") == ("cn", "abc")


@pytest.mark.parametrize("token", ["a", "~!", "us-x", "x" * MAX_TOKEN_LENGTH])
def test_valid_tokens_pass_unchanged(token: str) -> None:
    assert validate_token(token) is token


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "must be a string, not NoneType"),
        (b"abc", "must be a string, not bytes"),
        ("", "has 0 characters"),
        ("x" * (MAX_TOKEN_LENGTH + 1), f"has {MAX_TOKEN_LENGTH + 1} characters"),
        ("ab;c", "has a forbidden character at position 2"),
        ("a,bc", "has a forbidden character at position 1"),
        ("abc d", "has a forbidden character at position 3"),
        ("\x7fabc", "has a forbidden character at position 0"),
        ("abc\r\n", "has a forbidden character at position 3"),
        ("abcé", "has a forbidden character at position 3"),
        ("us-", "has a region prefix but no token"),
    ],
)
def test_invalid_tokens_are_refused_naming_the_field(token: object, reason: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_token(token, field="token")
    assert info.value.field == "token"
    assert re.search(rf"(^|\W){re.escape(reason)}($|\W)", str(info.value))
    assert info.value.allowed == (
        f"1 to {MAX_TOKEN_LENGTH} printable ASCII characters, no whitespace, ';' or ','"
    )
    if isinstance(token, str) and len(token) > 3:
        assert token not in str(info.value)
    with pytest.raises(InvalidInputError) as default:
        validate_token(token)
    assert default.value.field == "refresh_token"


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://u:p@host/a?b#c", "https://host/a?b#c"),
        ("https://u:p@host", "https://host"),
        ("https://u:p@host?q=1", "https://host?q=1"),
        ("https://u:p@host#f", "https://host#f"),
        ("https://a@b:p@host/x", "https://host/x"),
        ("https://host/path@x", "https://host/path@x"),
        ("https://host?a=b@c", "https://host?a=b@c"),
        ("https://host#a@b", "https://host#a@b"),
        ("no-scheme@host/x", "no-scheme@host/x"),
        ("https://u:p@host/go?to=http://x", "https://host/go?to=http://x"),
        ("https://host/a@b/c", "https://host/a@b/c"),
        ("https://host?a=b@c?d", "https://host?a=b@c?d"),
        ("https://host#a@b#c", "https://host#a@b#c"),
        ("file:///a@b", "file:///a@b"),
    ],
)
def test_strip_credentials_removes_only_the_user_part(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://u:p@cdn/x.png?sig=1&x=2#f", "https://cdn/x.png?…"),
        ("https://cdn/x.png", "https://cdn/x.png"),
        ("https://cdn/x.png#a?b", "https://cdn/x.png"),
        ("https://cdn/x.png#a#b", "https://cdn/x.png"),
        ("https://cdn/x.png?a=1?b=2", "https://cdn/x.png?…"),
    ],
)
def test_redact_url_drops_credentials_query_and_fragment(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_secret_headers_are_these() -> None:
    assert {"cookie", "sign", "authorization", "x-amz-security-token"} == SECRET_HEADERS
