"""Region profiles and `Settings`, resolved argument > environment > default.

The region table is PROTOCOL.md §1. Every URL must be https, except on loopback hosts where
plain http is allowed (the emulator); anything else is refused when `Settings` is built, with
an error that names the setting or environment variable at fault.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigurationError
from .signer import RequestSigner

RegionName = Literal["cn", "us", "hk", "jp", "sg"]
REGIONS: tuple[RegionName, ...] = ("cn", "us", "hk", "jp", "sg")


@dataclass(frozen=True)
class RegionProfile:
    """Everything that differs between the China site and the international ones."""

    name: RegionName
    token_prefix: str
    base_url: str
    commerce_url: str
    aid: int
    region_param: str
    imagex_url: str
    aws_region: str
    service_id: str
    store_region: str
    origin: str
    commerce_origin: str
    time_zone: str
    lan: str = "en"
    loc: str = ""

    @property
    def international(self) -> bool:
        return self.name != "cn"


_CN_SITE = "https://jimeng.jianying.com"
_INTL_SITE = "https://dreamina.capcut.com"
_SG_API = "https://mweb-api-sg.capcut.com"
_SG_IMAGEX = "https://imagex-normal-sg.capcutapi.com"
_SG_COMMERCE = "https://commerce-api-sg.capcut.com"


def _intl(name: RegionName, region_param: str, tz: str) -> RegionProfile:
    return RegionProfile(
        name=name,
        token_prefix=f"{name}-",
        base_url=_SG_API,
        commerce_url=_SG_COMMERCE,
        aid=513641,
        region_param=region_param,
        imagex_url=_SG_IMAGEX,
        aws_region="ap-southeast-1",
        service_id="wopfjsm1ax",
        store_region=name,
        origin=_INTL_SITE,
        commerce_origin=_SG_COMMERCE,
        time_zone=tz,
        lan="ja" if name == "jp" else "en",
        loc=name,
    )


DEFAULT_REGIONS: dict[RegionName, RegionProfile] = {
    "cn": RegionProfile(
        name="cn",
        token_prefix="",
        base_url=_CN_SITE,
        commerce_url=_CN_SITE,
        aid=513695,
        region_param="cn",
        imagex_url="https://imagex.bytedanceapi.com",
        aws_region="cn-north-1",
        service_id="tb4s082cfz",
        store_region="cn-gd",
        origin=_CN_SITE,
        commerce_origin=_CN_SITE,
        time_zone="Asia/Shanghai",
        lan="zh-Hans",
        loc="cn",
    ),
    "us": RegionProfile(
        name="us",
        token_prefix="us-",
        # The service's own host. The brief's relay (https://api-proxy-1.deno.dev/dreamina/us)
        # is a third party that would see the session cookie: reachable by setting only.
        base_url="https://dreamina-api.us.capcut.com",
        commerce_url="https://commerce.us.capcut.com",
        aid=513641,
        region_param="US",
        imagex_url="https://imagex16-normal-us-ttp.capcutapi.us",
        aws_region="us-east-1",
        service_id="wopfjsm1ax",
        store_region="us",
        origin=_INTL_SITE,
        commerce_origin="https://commerce.us.capcut.com",
        time_zone="America/New_York",
        loc="us",
    ),
    "hk": _intl("hk", "HK", "Asia/Hong_Kong"),
    "jp": _intl("jp", "JP", "Asia/Tokyo"),
    "sg": _intl("sg", "SG", "Asia/Singapore"),
}

_URL_FIELDS = ("base_url", "commerce_url", "imagex_url", "origin", "commerce_origin")
_PROFILE_FIELDS = {f.name for f in fields(RegionProfile)} - {"name", "token_prefix"}


def is_loopback_host(host: str) -> bool:
    """True for localhost and addresses in 127.0.0.0/8 or ::1."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, setting: str, show: bool = True) -> str:
    """Return `url` without a trailing slash if it is https, or http on a loopback host.

    `show=False` keeps the URL itself out of the error (signed links carry secrets).
    """
    parts = urlsplit(url)
    got = f", got {url!r}" if show else ""
    if not parts.hostname:
        raise ConfigurationError(f"{setting} must be an absolute URL{got}")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname)):
        return url.rstrip("/")
    raise ConfigurationError(
        f"{setting} must use https (http is allowed only for loopback hosts){got}"
    )


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Read `JIMENG_<REGION>_{BASE_URL,COMMERCE_URL,IMAGEX_URL,AID}` from the environment."""
    found: dict[str, dict[str, Any]] = {}
    for region in REGIONS:
        prefix = f"JIMENG_{region.upper()}_"
        for key, attr in (
            ("BASE_URL", "base_url"),
            ("COMMERCE_URL", "commerce_url"),
            ("IMAGEX_URL", "imagex_url"),
            ("AID", "aid"),
        ):
            value = env.get(prefix + key)
            if value:
                found.setdefault(region, {})[attr] = (prefix + key, value)
    return found


def _apply(profile: RegionProfile, changes: Mapping[str, tuple[str, Any]]) -> RegionProfile:
    """Apply `{attr: (setting name, value)}` to a profile, validating each value."""
    updates: dict[str, Any] = {}
    for attr, (setting, value) in changes.items():
        if attr not in _PROFILE_FIELDS:
            raise ConfigurationError(
                f"{setting} is not a region setting; allowed: {', '.join(sorted(_PROFILE_FIELDS))}"
            )
        if attr == "aid":
            try:
                updates[attr] = int(value)
            except (TypeError, ValueError):
                raise ConfigurationError(f"{setting} must be an integer, got {value!r}") from None
        elif attr in _URL_FIELDS:
            updates[attr] = check_url(str(value), setting=setting)
        else:
            updates[attr] = value
    # cn's commerce calls go to its web base: moving the base moves commerce unless it is set.
    if profile.name == "cn" and "base_url" in updates and "commerce_url" not in changes:
        updates["commerce_url"] = updates["base_url"]
    return replace(profile, **updates)


def _resolve_profiles(regions: Mapping[str, Any]) -> dict[str, RegionProfile]:
    """Defaults, then environment, then arguments, for every region."""
    for key in regions:
        if key not in REGIONS:
            raise ConfigurationError(
                f"regions[{key!r}] is not a region; allowed: {', '.join(REGIONS)}"
            )
    env_changes = _env_overrides(os.environ)
    profiles: dict[str, RegionProfile] = {}
    for name in REGIONS:
        profile = _apply(DEFAULT_REGIONS[name], env_changes.get(name, {}))
        given = regions.get(name) or {}
        if isinstance(given, RegionProfile):
            given = {f: getattr(given, f) for f in _PROFILE_FIELDS}
        if not isinstance(given, Mapping):
            raise ConfigurationError(f"regions[{name!r}] must be a mapping of region fields")
        profiles[name] = _apply(profile, {k: (f"regions.{name}.{k}", v) for k, v in given.items()})
    return profiles


def _env_name(field: str) -> str:
    return _SCALAR_ENV.get(field, f"JIMENG_{field.upper()}")


def _configuration_error(exc: ValidationError, given: set[str]) -> ConfigurationError:
    """Name the argument or environment variable behind the first invalid field."""
    first = exc.errors(include_url=False)[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    from_env = field not in given and bool(os.environ.get(_env_name(field)))
    source = _env_name(field) if from_env else field
    if field in _SECRET_FIELDS:  # a proxy URL may carry a password: never echo it
        return ConfigurationError(f"{source}: {first['msg']}")
    return ConfigurationError(f"{source}: {first['msg']} (got {first.get('input')!r})")


def _source(field: str, given: set[str]) -> str:
    """The argument or, when it came from there, the environment variable behind a field."""
    if field not in given and os.environ.get(_env_name(field)):
        return _env_name(field)
    return field


def check_version(value: str, *, setting: str) -> str:
    """A version string sent to the service: non-empty printable ASCII without spaces."""
    if not value or len(value) > 32 or not all("!" <= c <= "~" for c in value):
        raise ConfigurationError(
            f"{setting}: must be a version string of 1 to 32 printable ASCII characters "
            f"without spaces (got {value!r})"
        )
    return value


#: Settings sent to the service as version strings (checked by `check_version`).
_VERSION_FIELDS = (
    "device_platform",
    "da_version",
    "web_version",
    "app_version",
    "app_sdk_version",
    "device_os",
)

_SCALAR_ENV = {
    "device_platform": "DEFAULT_DEVICE_PLATFORM",
    "da_version": "DEFAULT_DA_VERSION",
    "web_version": "DEFAULT_WEB_VERSION",
}
#: Settings that cannot come from the environment.
_NO_ENV = frozenset({"regions", "request_signer"})
#: Settings whose value stays out of messages and repr.
_SECRET_FIELDS = frozenset({"proxy"})
PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")


class Settings(BaseModel):
    """Client configuration. Each field: argument > environment variable > default.

    Scalar fields read `JIMENG_<FIELD>` (upper case) from the environment, except the three
    version fields of the brief, which read its `DEFAULT_*` names. The versions the service
    checks (`app_version`, `da_version`, ...) are settings so that users can follow the
    service's next move without a release: it refuses outdated ones with ret 3018. Region URLs
    and aids are given as `regions={"cn": {"base_url": ...}}` or through
    `JIMENG_<REGION>_BASE_URL` and friends.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    regions: dict[str, Any] = Field(default_factory=dict, description="per-region overrides")
    device_platform: str = "web"
    device_os: str = "windows"
    da_version: str = "3.3.9"
    web_version: str = "7.5.0"
    app_version: str = Field("8.4.0", description="Appvr header, part of Sign")
    app_sdk_version: str = "48.0.0"
    draft_version: str | None = Field(None, description="draft `version`; None: da_version")
    request_signer: RequestSigner | None = Field(None, description="see jimeng_async.signer")
    content_check: bool = Field(True, description="algo_proxy check of cn uploads before use")
    hq_video_url: bool = Field(True, description="ask get_local_item_list for the best video URL")
    request_timeout: float = Field(45.0, gt=0)
    generation_timeout: float = Field(1200.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    retry_base_delay: float = Field(0.5, gt=0)
    retry_max_delay: float = Field(8.0, gt=0)
    retry_after_cap: float = Field(60.0, ge=0)
    max_uploads: int = Field(3, ge=1)
    max_queries: int = Field(5, ge=1)
    account_ttl: float = Field(600.0, ge=0)
    credit_ttl: float = Field(30.0, ge=0)
    upload_ttl: float = Field(3600.0, ge=0)
    max_upload_bytes: int = Field(50 * 1024 * 1024, gt=0)
    poll_batch_size: int = Field(10, ge=1)
    poll_first_delay_image: float = Field(0.0, ge=0)
    poll_first_delay_video: float = Field(10.0, ge=0)
    poll_min_interval: float = Field(1.0, gt=0)
    poll_max_interval: float = Field(10.0, gt=0)
    download_concurrency: int = Field(4, ge=1)
    job_not_found_grace: float = Field(60.0, gt=0)
    unknown_status_grace: float = Field(300.0, gt=0)
    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    stall_timeout: float = Field(60.0, gt=0)
    max_download_bytes: int = Field(2 * 1024**3, gt=0)
    source_download_timeout: float = Field(120.0, gt=0)
    proxy: str | None = Field(
        None, repr=False, description="http(s):// or socks5:// proxy for every request"
    )
    trust_env: bool = Field(
        True, description="honour HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE... from the environment"
    )

    _profiles: dict[str, RegionProfile] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        data = dict(data or {})
        env = os.environ
        for name in cls.model_fields:
            if name in _NO_ENV or name in data:
                continue
            var = _env_name(name)
            if env.get(var):
                data[name] = env[var]
        return data

    @field_validator("proxy")
    @classmethod
    def _check_proxy(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(PROXY_SCHEMES):
            raise ValueError("must be an http(s):// or socks5:// proxy URL")
        return value or None

    if not TYPE_CHECKING:
        # Only at run time, so that type checkers see the typed constructor the pydantic plugin
        # synthesises from the fields, while callers get ConfigurationError naming the
        # argument or environment variable at fault instead of a ValidationError.
        def __init__(self, /, **data: Any) -> None:
            given = set(data)
            try:
                super().__init__(**data)
            except ValidationError as exc:
                raise _configuration_error(exc, given) from None
            self._check_values(given)
            self._profiles = _resolve_profiles(self.regions)

    def _check_values(self, given: set[str]) -> None:
        """What field types cannot say: finite numbers, ordered bounds, non-empty versions."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigurationError(
                    f"{_source(name, given)}: must be a finite number (got {value!r})"
                )
        for name in _VERSION_FIELDS:
            check_version(getattr(self, name), setting=_source(name, given))
        if self.draft_version is not None:
            check_version(self.draft_version, setting=_source("draft_version", given))
        if self.poll_min_interval > self.poll_max_interval:
            raise ConfigurationError(
                f"{_source('poll_min_interval', given)}: must not exceed poll_max_interval "
                f"({self.poll_min_interval:g} > {self.poll_max_interval:g})"
            )
        if self.retry_base_delay > self.retry_max_delay:
            raise ConfigurationError(
                f"{_source('retry_base_delay', given)}: must not exceed retry_max_delay "
                f"({self.retry_base_delay:g} > {self.retry_max_delay:g})"
            )

    def profile(self, region: str) -> RegionProfile:
        """The resolved profile of `region` (one of cn, us, hk, jp, sg)."""
        try:
            return self._profiles[region]
        except KeyError:
            raise ConfigurationError(
                f"unknown region {region!r}; allowed: {', '.join(REGIONS)}"
            ) from None

    @property
    def effective_draft_version(self) -> str:
        """The `version` drafts carry: `draft_version`, or `da_version` when it is not set."""
        return self.draft_version or self.da_version

    @property
    def profiles(self) -> dict[str, RegionProfile]:
        return dict(self._profiles)

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied (validated again)."""
        data = self.model_dump()
        data.update(changes)
        return Settings(**data)
