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
from .errors import InvalidInputError

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


#: The longest refresh token accepted (session ids are 32 hex characters).
MAX_TOKEN_LENGTH = 512
_TOKEN_FORBIDDEN = frozenset(";,")


def validate_token(refresh_token: object, *, field: str = "refresh_token") -> str:
    """Return the token if it can go into a Cookie header as it is; else InvalidInputError.

    Allowed: 1 to 512 printable ASCII characters without whitespace, control characters, `;`
    or `,` (which would end or split the Cookie field). The message never contains the token.
    """
    allowed = f"1 to {MAX_TOKEN_LENGTH} printable ASCII characters, no whitespace, ';' or ','"
    if not isinstance(refresh_token, str):
        raise InvalidInputError(
            field, f"must be a string, not {type(refresh_token).__name__}", allowed=allowed
        )
    if not refresh_token or len(refresh_token) > MAX_TOKEN_LENGTH:
        raise InvalidInputError(field, f"has {len(refresh_token)} characters", allowed=allowed)
    for index, char in enumerate(refresh_token):
        if not ("!" <= char <= "~") or char in _TOKEN_FORBIDDEN:
            raise InvalidInputError(
                field, f"has a forbidden character at position {index}", allowed=allowed
            )
    _region, session_id = split_token(refresh_token)
    if not session_id:
        raise InvalidInputError(field, "has a region prefix but no token", allowed=allowed)
    return refresh_token


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


def strip_credentials(url: str) -> str:
    """`url` without a `user:password@` part, for messages and log lines."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    authority = rest if end < 0 else rest[:end]
    if "@" not in authority:
        return url
    host = authority.rsplit("@", 1)[1]
    return f"{scheme}://{host}" + ("" if end < 0 else rest[end:])


def redact_url(url: str) -> str:
    """A URL without credentials and without its query (on signed links, the signature)."""
    bare = strip_credentials(url).split("#", 1)[0]
    return bare.split("?", 1)[0] + ("?…" if "?" in bare else "")


SECRET_HEADERS = frozenset({"cookie", "sign", "authorization", "x-amz-security-token"})
