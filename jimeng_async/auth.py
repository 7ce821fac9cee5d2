"""Refresh token -> region and session id; Cookie, Sign, headers and default params.

Pure functions (PROTOCOL.md §1 and §2): the clock and the per-process ids are arguments or
module constants, so every value here is tested without a server. `mask_token` is the only way
a token may ever reach a log line, a repr or an error message.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from email.utils import formatdate
from urllib.parse import quote

from .config import DEFAULT_REGIONS, RegionName, RegionProfile, Settings

#: The web app's version (the `Appvr` header and part of Sign) as of 2026; the service answers
#: older ones with ret 3018. `Settings.app_version` overrides it.
APP_VERSION = "8.4.0"
APP_SDK_VERSION = "48.0.0"
PLATFORM_CODE = "7"
SIGN_VERSION = "1"
SID_LIFETIME = 5_184_000  # 60 days, as the web app writes it into sid_guard

#: A random 19-digit web id and a random user id, fixed for this process (PROTOCOL.md §2).
WEB_ID = str(secrets.randbelow(9 * 10**18) + 10**18)
UID_TT = secrets.token_hex(16)

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
)


def split_token(refresh_token: str) -> tuple[RegionName, str]:
    """Return (region, session id): the prefix `us-`, `hk-`, ... picks the region, any case."""
    token = refresh_token.strip()
    lowered = token.lower()
    for name, profile in DEFAULT_REGIONS.items():
        prefix = profile.token_prefix
        if prefix and lowered.startswith(prefix):
            return name, token[len(prefix) :]
    return "cn", token


def mask_token(refresh_token: str) -> str:
    """A form of the token safe for logs and reprs: region prefix and the last 4 characters."""
    region, session_id = split_token(refresh_token)
    prefix = "" if region == "cn" else f"{region}-"
    tail = session_id[-4:] if len(session_id) >= 16 else ""
    return f"{prefix}***{tail}"


def compute_sign(
    uri_path: str,
    device_time: int | str,
    *,
    platform: str = PLATFORM_CODE,
    app_version: str = APP_VERSION,
) -> str:
    """md5("9e2c|" + last 7 chars of the path + "|" + Pf + "|" + Appvr + "|" + time + "||11ac")."""
    raw = f"9e2c|{uri_path[-7:]}|{platform}|{app_version}|{device_time}||11ac"
    return hashlib.md5(raw.encode()).hexdigest()


def build_cookie(session_id: str, profile: RegionProfile, now: int) -> str:
    """The Cookie header the web app sends, built from the stripped token."""
    expires = quote(formatdate(now + SID_LIFETIME, usegmt=True))
    parts = [
        f"_tea_web_id={WEB_ID}",
        "is_staff_user=false",
        f"store-region={profile.store_region}",
        "store-region-src=uid",
        f"sid_guard={session_id}%7C{now}%7C{SID_LIFETIME}%7C{expires}",
        f"uid_tt={UID_TT}",
        f"uid_tt_ss={UID_TT}",
        f"sid_tt={session_id}",
        f"sessionid={session_id}",
        f"sessionid_ss={session_id}",
    ]
    return "; ".join(parts)


def default_params(profile: RegionProfile, settings: Settings) -> dict[str, str]:
    """The query parameters every web API call carries (not the two commerce calls)."""
    params = {
        "aid": str(profile.aid),
        "device_platform": settings.device_platform,
        "region": profile.region_param,
    }
    if profile.name == "cn":
        params["webId"] = WEB_ID
    params.update(
        {
            "da_version": settings.da_version,
            "os": settings.device_os,
            "web_component_open_flag": "1",
            "web_version": settings.web_version,
            "aigc_features": "app_lip_sync",
        }
    )
    return params


def build_headers(
    *,
    session_id: str,
    profile: RegionProfile,
    path: str,
    settings: Settings | None = None,
    commerce: bool = False,
    referer_path: str = "/ai-tool/image/generate",
    now: int | None = None,
) -> dict[str, str]:
    """Browser-like headers plus Appid, Appvr, Device-Time, Sign and the Cookie for one request.

    Sign is computed with the `Appvr` sent (`settings.app_version`), as the service checks it.
    """
    device_time = int(time.time()) if now is None else now
    origin = profile.commerce_origin if commerce else profile.origin
    app_version = settings.app_version if settings is not None else APP_VERSION
    sdk_version = settings.app_sdk_version if settings is not None else APP_SDK_VERSION
    return {
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "zh-CN,zh;q=0.9" if profile.name == "cn" else "en-US,en;q=0.9",
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "User-Agent": USER_AGENT,
        "Sec-Ch-Ua": '"Chromium";v="132", "Google Chrome";v="132", "Not_A Brand";v="99"',
        "Sec-Ch-Ua-Mobile": "?0",
        "Sec-Ch-Ua-Platform": '"Windows"',
        "Sec-Fetch-Dest": "empty",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Site": "same-origin",
        "Origin": origin,
        "Referer": origin + referer_path,
        "Appid": str(profile.aid),
        "Appvr": app_version,
        "Pf": PLATFORM_CODE,
        "App-Sdk-Version": sdk_version,
        "Lan": profile.lan,
        "Loc": profile.loc,
        "Tdid": "",
        "Device-Time": str(device_time),
        "Sign": compute_sign(path, device_time, app_version=app_version),
        "Sign-Ver": SIGN_VERSION,
        "Cookie": build_cookie(session_id, profile, device_time),
    }


def parse_cookie(header: str) -> dict[str, str]:
    """Split a Cookie header into a dict (the emulator reads the sessionid with it)."""
    jar: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            jar[name] = value
    return jar


def redact_url(url: str) -> str:
    """A URL without its query, which on signed CDN and upload links carries the signature."""
    return url.split("?", 1)[0] + ("?…" if "?" in url else "")


SECRET_HEADERS = frozenset({"cookie", "sign", "authorization", "x-amz-security-token"})
