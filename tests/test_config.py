"""Settings: region table, argument > environment > default, and the https rule."""

from __future__ import annotations

import pytest

from jimeng_async import ConfigurationError, Settings
from jimeng_async.config import DEFAULT_REGIONS, REGIONS, check_url, is_loopback_host


def test_region_table_matches_protocol() -> None:
    cn, us, hk = DEFAULT_REGIONS["cn"], DEFAULT_REGIONS["us"], DEFAULT_REGIONS["hk"]
    assert (cn.aid, cn.region_param, cn.aws_region, cn.service_id) == (
        513695,
        "cn",
        "cn-north-1",
        "tb4s082cfz",
    )
    assert cn.commerce_url == cn.base_url == "https://jimeng.jianying.com"
    assert (us.aid, us.region_param, us.aws_region, us.service_id) == (
        513641,
        "US",
        "us-east-1",
        "wopfjsm1ax",
    )
    assert us.imagex_url == "https://imagex16-normal-us-ttp.capcutapi.us"
    assert us.commerce_url == "https://commerce.us.capcut.com"
    for name in ("hk", "jp", "sg"):
        profile = DEFAULT_REGIONS[name]
        assert profile.base_url == hk.base_url == "https://mweb-api-sg.capcut.com"
        assert profile.aws_region == "ap-southeast-1"
        assert profile.region_param == name.upper()
    assert set(REGIONS) == set(DEFAULT_REGIONS)


def test_defaults() -> None:
    s = Settings()
    assert (s.request_timeout, s.generation_timeout, s.max_retries) == (45.0, 1200.0, 3)
    assert (s.max_uploads, s.max_queries, s.account_ttl, s.credit_ttl) == (3, 5, 600.0, 30.0)
    assert (s.device_platform, s.da_version, s.web_version) == ("web", "3.3.9", "7.5.0")


def test_environment_overrides_default_and_argument_overrides_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JIMENG_CN_BASE_URL", "https://cn.example.test")
    monkeypatch.setenv("JIMENG_US_AID", "42")
    monkeypatch.setenv("DEFAULT_WEB_VERSION", "9.9.9")
    monkeypatch.setenv("JIMENG_MAX_QUERIES", "7")
    s = Settings()
    assert s.profile("cn").base_url == "https://cn.example.test"
    assert s.profile("cn").commerce_url == "https://cn.example.test"  # moves with the base
    assert s.profile("us").aid == 42
    assert s.web_version == "9.9.9"
    assert s.max_queries == 7
    s2 = Settings(
        max_queries=2, web_version="1.0", regions={"cn": {"base_url": "https://arg.example.test"}}
    )
    assert s2.max_queries == 2
    assert s2.web_version == "1.0"
    assert s2.profile("cn").base_url == "https://arg.example.test"


def test_cn_commerce_override_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_CN_BASE_URL", "https://cn.example.test")
    monkeypatch.setenv("JIMENG_CN_COMMERCE_URL", "https://pay.example.test")
    s = Settings()
    assert s.profile("cn").commerce_url == "https://pay.example.test"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:9", "http://127.5.0.1"]
)
def test_http_allowed_on_loopback(url: str) -> None:
    assert check_url(url, setting="x") == url


def test_plain_http_elsewhere_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_US_IMAGEX_URL", "http://imagex.example.test")
    with pytest.raises(ConfigurationError, match="JIMENG_US_IMAGEX_URL"):
        Settings()


def test_plain_http_argument_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigurationError, match=r"regions\.hk\.base_url"):
        Settings(regions={"hk": {"base_url": "http://10.0.0.1"}})


def test_unknown_region_and_bad_aid_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="xx"):
        Settings(regions={"xx": {}})
    monkeypatch.setenv("JIMENG_CN_AID", "abc")
    with pytest.raises(ConfigurationError, match="JIMENG_CN_AID"):
        Settings()


def test_loopback_detection() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("[::1]")
    assert not is_loopback_host("192.168.1.1")
    assert not is_loopback_host("example.com")


def test_bad_scalar_from_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_MAX_QUERIES", "lots")
    with pytest.raises(ConfigurationError, match="JIMENG_MAX_QUERIES"):
        Settings()
    with pytest.raises(ConfigurationError, match="max_uploads"):
        Settings(max_uploads=0)
