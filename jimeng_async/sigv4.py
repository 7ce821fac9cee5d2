"""AWS Signature Version 4 for ImageX (PROTOCOL.md §4), computed exactly as botocore does. No I/O.

The client signs with `sign_request`; the emulator checks what it receives with
`parse_authorization` and `verify_request`, which raise a `SigV4Error` naming what is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TypeAlias
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: How far x-amz-date may be from the server's clock, as on AWS.
MAX_CLOCK_SKEW = 15 * 60

GET_SIGNED_HEADERS = ("x-amz-date", "x-amz-security-token")
POST_SIGNED_HEADERS = ("x-amz-content-sha256", "x-amz-date", "x-amz-security-token")

#: Query parameters: a mapping, or (name, value) pairs when a name may repeat.
Params: TypeAlias = "Mapping[str, str] | Iterable[tuple[str, str]]"


@dataclass(frozen=True)
class Credentials:
    """Temporary ImageX credentials from get_upload_token; the repr hides the secret parts."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)


@dataclass(frozen=True)
class Authorization:
    """The parts of a received `Authorization: AWS4-HMAC-SHA256 ...` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)


class SigV4Error(ValueError):
    """A request's signature is missing, malformed or wrong; `code` is the AWS error code."""

    code = "SignatureDoesNotMatch"


class MissingAuthorizationError(SigV4Error):
    code = "MissingAuthenticationToken"


class MalformedAuthorizationError(SigV4Error):
    code = "IncompleteSignature"


class CredentialScopeError(SigV4Error):
    """The credential scope names another region or service than the endpoint's."""


class RequestTimeTooSkewedError(SigV4Error):
    code = "RequestTimeTooSkewed"


class ContentHashMismatchError(SigV4Error):
    code = "XAmzContentSHA256Mismatch"


class SignatureMismatchError(SigV4Error):
    """The recomputed signature differs from the one sent."""


def amz_date(now: datetime) -> str:
    """`now` as YYYYMMDD'T'HHMMSS'Z' in UTC (a naive datetime is taken as UTC)."""
    if now.tzinfo is not None:
        now = now.astimezone(timezone.utc)
    return now.strftime(AMZ_DATE_FORMAT)


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(k), str(v)) for k, v in items]


def canonical_query(params: Params) -> str:
    """Parameters RFC 3986-encoded (unreserved: A-Z a-z 0-9 - _ . ~), sorted by encoded name."""
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in _pairs(params))
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_uri(path: str) -> str:
    """The path with dot segments and empty segments removed, then percent-encoded."""
    if not path:
        return "/"
    segments: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if segments:
                segments.pop()
        elif part and part != ".":
            segments.append(part)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and segments else ""
    return quote(first + "/".join(segments) + last, safe="/~")


def _trim(value: str) -> str:
    return " ".join(value.split())


def canonical_request(
    *,
    method: str,
    path: str,
    params: Params,
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """(canonical request, signed header list) over exactly `headers` (names any case)."""
    lowered = {name.lower().strip(): _trim(value) for name, value in headers.items()}
    names = sorted(lowered)
    signed = ";".join(names)
    header_block = "\n".join(f"{name}:{lowered[name]}" for name in names) + "\n"
    parts = [method.upper(), canonical_uri(path), canonical_query(params), header_block, signed]
    return "\n".join([*parts, payload_hash]), signed


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """The derived key: HMAC chain over date, region, service and "aws4_request"."""
    key = f"AWS4{secret_access_key}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def compute_signature(
    *,
    method: str,
    path: str,
    params: Params,
    headers: Mapping[str, str],
    payload_hash: str,
    secret_access_key: str,
    region: str,
    service: str,
    timestamp: str,
) -> tuple[str, str]:
    """(signature hex, signed header list) of a request signed over exactly `headers`."""
    request, signed = canonical_request(
        method=method, path=path, params=params, headers=headers, payload_hash=payload_hash
    )
    scope = f"{timestamp[:8]}/{region}/{service}/{TERMINATOR}"
    digest = hashlib.sha256(request.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    key = signing_key(secret_access_key, timestamp[:8], region, service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest(), signed


def sign_request(
    *,
    method: str,
    url: str,
    params: Mapping[str, str],
    body: bytes | None,
    credentials: Credentials,
    region: str,
    now: datetime,
    service: str = "imagex",
    include_content_sha256: bool = False,
) -> dict[str, str]:
    """The headers that sign one ImageX request: x-amz-date, x-amz-security-token,
    x-amz-content-sha256 (when asked) and Authorization. `url` carries no query."""
    parts = urlsplit(url)
    if parts.query:
        raise ValueError("pass the query as params, not inside the url")
    payload_hash = hashlib.sha256(body or b"").hexdigest()
    timestamp = amz_date(now)
    headers = {"x-amz-date": timestamp, "x-amz-security-token": credentials.session_token}
    if include_content_sha256:
        headers["x-amz-content-sha256"] = payload_hash
    signature, signed = compute_signature(
        method=method,
        path=parts.path,
        params=params,
        headers=headers,
        payload_hash=payload_hash,
        secret_access_key=credentials.secret_access_key,
        region=region,
        service=service,
        timestamp=timestamp,
    )
    scope = f"{credentials.access_key_id}/{timestamp[:8]}/{region}/{service}/{TERMINATOR}"
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def parse_authorization(header: str | None) -> Authorization:
    """Split `AWS4-HMAC-SHA256 Credential=k/d/r/s/aws4_request, SignedHeaders=.., Signature=..`."""
    if not header:
        raise MissingAuthorizationError("the request has no Authorization header")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise MalformedAuthorizationError(f"Authorization must start with {ALGORITHM}")
    fields_: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep or name in fields_:
            raise MalformedAuthorizationError(f"Authorization has a malformed part {name!r}")
        fields_[name] = value
    missing = {"Credential", "SignedHeaders", "Signature"} - fields_.keys()
    if missing or len(fields_) != 3:
        raise MalformedAuthorizationError(
            "Authorization needs exactly Credential, SignedHeaders and Signature"
        )
    scope = fields_["Credential"].split("/")
    if len(scope) != 5 or scope[4] != TERMINATOR or not all(scope):
        raise MalformedAuthorizationError(
            "Credential must be <key>/<YYYYMMDD>/<region>/<service>/aws4_request"
        )
    signed = tuple(fields_["SignedHeaders"].split(";"))
    if (
        not all(signed)
        or list(signed) != sorted(set(signed))
        or signed != tuple(h.lower() for h in signed)
    ):
        raise MalformedAuthorizationError("SignedHeaders must be sorted lower-case header names")
    signature = fields_["Signature"]
    if len(signature) != 64 or any(c not in "0123456789abcdef" for c in signature):
        raise MalformedAuthorizationError("Signature must be 64 lower-case hex digits")
    key, date, region, service, _ = scope
    return Authorization(key, date, region, service, signed, signature)


def _parse_amz_date(value: str) -> datetime:
    try:
        parsed = datetime.strptime(value, AMZ_DATE_FORMAT)
    except ValueError:
        raise MalformedAuthorizationError("x-amz-date must be YYYYMMDD'T'HHMMSS'Z'") from None
    if amz_date(parsed) != value:
        raise MalformedAuthorizationError("x-amz-date must be YYYYMMDD'T'HHMMSS'Z'")
    return parsed.replace(tzinfo=timezone.utc)


def verify_request(
    *,
    method: str,
    path: str,
    params: Params,
    headers: Mapping[str, str],
    body: bytes,
    secret_access_key: str,
    region: str,
    service: str = "imagex",
    now: datetime | None = None,
    max_skew: float = MAX_CLOCK_SKEW,
    required_headers: Iterable[str] = GET_SIGNED_HEADERS,
) -> Authorization:
    """Check a received request's SigV4 signature against `secret_access_key`.

    `headers` are the request's headers as received (any case). Raises a `SigV4Error` subclass
    naming the first problem; returns the parsed Authorization when everything matches.
    """
    received = {name.lower(): value for name, value in headers.items()}
    auth = parse_authorization(received.get("authorization"))
    if auth.service != service:
        raise CredentialScopeError(
            f"Credential should be scoped to the correct service: {service!r}, not {auth.service!r}"
        )
    if auth.region != region:
        raise CredentialScopeError(
            f"Credential should be scoped to a valid region: {region!r}, not {auth.region!r}"
        )
    unsigned = [h for h in required_headers if h not in auth.signed_headers]
    if unsigned:
        raise MalformedAuthorizationError(f"SignedHeaders must include {', '.join(unsigned)}")
    absent = [h for h in auth.signed_headers if h not in received]
    if absent:
        raise MalformedAuthorizationError(f"signed header(s) not sent: {', '.join(absent)}")
    timestamp = received.get("x-amz-date")
    if timestamp is None:
        raise MalformedAuthorizationError("the request has no x-amz-date header")
    sent_at = _parse_amz_date(timestamp)
    if timestamp[:8] != auth.date:
        raise CredentialScopeError(
            "the date in the Credential scope does not match the date of x-amz-date"
        )
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    if now is not None and abs(sent_at - now) > timedelta(seconds=max_skew):
        raise RequestTimeTooSkewedError(
            f"x-amz-date {timestamp} is more than {max_skew:g} s from the server time "
            f"{amz_date(now)}"
        )
    payload_hash = hashlib.sha256(body).hexdigest()
    claimed = received.get("x-amz-content-sha256")
    if claimed is not None and claimed != payload_hash:
        raise ContentHashMismatchError(
            "x-amz-content-sha256 does not match the SHA-256 of the body"
        )
    expected, _ = compute_signature(
        method=method,
        path=path,
        params=params,
        headers={h: received[h] for h in auth.signed_headers},
        payload_hash=payload_hash,
        secret_access_key=secret_access_key,
        region=region,
        service=service,
        timestamp=timestamp,
    )
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureMismatchError(
            "the request signature we calculated does not match the signature you provided"
        )
    return auth
