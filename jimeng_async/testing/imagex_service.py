"""The emulated ImageX: ApplyImageUpload, the upload itself and CommitImageUpload (PROTOCOL.md §4).

As strict as the real service: every ImageX call must carry a valid SigV4 signature made with
credentials from get_upload_token, uploads need the StoreInfos Auth, the right size and CRC32,
and only a complete upload of a real image can be committed. Errors never leak a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import string
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..sigv4 import (
    GET_SIGNED_HEADERS,
    POST_SIGNED_HEADERS,
    Credentials,
    SigV4Error,
    parse_authorization,
    verify_request,
)
from .probe import HEADER_BYTES, ImageInfo, NotAnImageError, read_header
from .stats import EmulatorStats
from .tables import Region

API_VERSION = "2018-08-01"
SERVICE = "imagex"
UPLOAD_OK = 2000
URI_OK = 2000
MAX_COMMIT_BODY = 64 * 1024
_DEFAULT_REGION = "cn-north-1"
#: Bytes that make an upload risky (in its first 256 KB, e.g. a PNG text chunk): a test's way to
#: have the content check refuse an image without reaching into the emulator.
RISKY_MARKER = b"jimeng-emulator:risky"
_ALNUM = string.ascii_letters + string.digits
_CRC_RE = re.compile(r"[0-9a-f]{8}")
_DIGITS_RE = re.compile(r"[0-9]{1,15}")
# AWS answers these with 400; every other signature problem is a 403.
_BAD_REQUEST_CODES = frozenset({"IncompleteSignature", "XAmzContentSHA256Mismatch"})


class ImageXError(Exception):
    """An error ImageX answers in its ResponseMetadata form."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class UploadFailure(Exception):
    """An error the upload host answers in its {"code", "message"} form."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Grant:
    """Temporary credentials issued to one account by get_upload_token."""

    account: str
    profile: Region
    credentials: Credentials
    expires_at: float


@dataclass
class _UploadSession:
    """One ApplyImageUpload: what may be uploaded where, and what arrived."""

    account: str
    profile: Region
    service_id: str
    size: int
    store_uri: str
    auth: str
    session_key: str
    uploaded: bool = False
    image: ImageInfo | None = None
    image_error: str = ""
    md5: str = ""
    committed: ImageInfo | None = None
    risky: bool = False


@dataclass
class _Call:
    """What the ResponseMetadata of one ImageX call reports; filled in as the call is read."""

    request_id: str
    action: str
    region: str = _DEFAULT_REGION


@dataclass
class _State:
    grants: dict[str, _Grant] = field(default_factory=dict)
    sessions: dict[str, _UploadSession] = field(default_factory=dict)
    stores: dict[str, _UploadSession] = field(default_factory=dict)
    committed: dict[tuple[str, str], ImageInfo] = field(default_factory=dict)
    risky: set[str] = field(default_factory=set)


class ImageXService:
    """ImageX as strict as the real one: SigV4, upload auth, CRC32 and size are all checked."""

    def __init__(
        self,
        *,
        stats: EmulatorStats,
        clock: Callable[[], float],
        credential_ttl: float,
        max_upload_bytes: int,
        upload_host: Callable[[], str],
        rng: random.Random,
        upload_pace: Callable[[], float] = lambda: 0.0,
    ) -> None:
        #: Real seconds to pause between chunks of an upload body: a slow link.
        self._upload_pace = upload_pace
        self._stats = stats
        self._clock = clock
        self._credential_ttl = credential_ttl
        self._max_upload_bytes = max_upload_bytes
        self._upload_host = upload_host
        self._rng = rng
        self._state = _State()
        self._expire_next = 0

    # -- interface for the emulator -------------------------------------------------------

    def issue_credentials(self, token: str, profile: Region) -> dict[str, Any]:
        """The `data` of get_upload_token for the account `token`: fresh temporary credentials."""
        now = self._clock()
        credentials = Credentials(
            access_key_id="AKTP" + self._text(40),
            secret_access_key=self._text(40),
            session_token="STS2" + self._text(300),
        )
        expires_at = now + self._credential_ttl
        if self._expire_next > 0:  # a test asked for credentials that are already stale
            self._expire_next -= 1
            expires_at = now - 1.0
        self._state.grants[credentials.access_key_id] = _Grant(
            token, profile, credentials, expires_at
        )
        id_key = "space_name" if profile.international else "service_id"
        return {
            "access_key_id": credentials.access_key_id,
            "secret_access_key": credentials.secret_access_key,
            "session_token": credentials.session_token,
            id_key: profile.service_id,
            "current_time": _iso(now),
            "expired_time": _iso(expires_at),
        }

    def expire_next_credentials(self, count: int = 1) -> None:
        """Issue the next `count` credentials already expired (ImageX then says ExpiredToken)."""
        self._expire_next = count

    def committed_image(self, token: str, uri: str) -> ImageInfo | None:
        """The header of an image the account `token` committed under `uri`, else None."""
        return self._state.committed.get((token, uri))

    def mark_risky(self, uri: str) -> None:
        """Flag an uploaded image as risky: algo_proxy and generation refuse it (ret 2003)."""
        self._state.risky.add(uri)

    def is_risky(self, uri: str) -> bool:
        return uri in self._state.risky

    def routes(self) -> list[BaseRoute]:
        """Starlette routes: "/" (GET and POST, by ?Action=) and "/upload/v1/{store_uri:path}"."""
        return [
            Route("/", self._openapi, methods=["GET", "POST"]),
            Route("/upload/v1/{store_uri:path}", self._upload, methods=["POST"]),
        ]

    def reset(self) -> None:
        """Forget every credential, upload session and committed image."""
        self._state = _State()
        self._expire_next = 0

    # -- the OpenAPI actions --------------------------------------------------------------

    async def _openapi(self, request: Request) -> Response:
        action = request.query_params.get("Action", "")
        call = _Call(self._request_id(), action)
        try:
            if request.query_params.get("Version") != API_VERSION:
                raise ImageXError(400, "InvalidActionOrVersion", f"Version must be {API_VERSION}")
            if action == "ApplyImageUpload" and request.method == "GET":
                result = await self._apply(request, call)
            elif action == "CommitImageUpload" and request.method == "POST":
                result = await self._commit(request, call)
            else:
                raise ImageXError(
                    400,
                    "InvalidActionOrVersion",
                    f"{request.method} ?Action={action or '(none)'} is not an ImageX action "
                    "(GET ApplyImageUpload, POST CommitImageUpload)",
                )
        except ImageXError as exc:
            return _metadata_error(call, exc.status, exc.code, exc.message)
        except ClientDisconnect:
            return _metadata_error(call, 400, "InvalidParameter", "the client disconnected")
        except Exception:
            return _metadata_error(call, 500, "InternalError", "internal error, try again")
        return JSONResponse({"ResponseMetadata": _metadata(call), "Result": result})

    async def _apply(self, request: Request, call: _Call) -> dict[str, Any]:
        body = await _read_small_body(request)
        grant = self._authenticate(request, body, call, GET_SIGNED_HEADERS)
        with self._stats.in_flight(grant.account, "upload"):
            profile = grant.profile
            allowed = {"Action", "Version", "ServiceId", "FileSize", "s"}
            if profile.international:
                allowed.add("device_platform")
            params = _single_params(request, allowed)
            self._check_service_id(params, grant)
            size = self._file_size(params.get("FileSize"))
            if not params.get("s"):
                raise ImageXError(
                    400, "InvalidParameter", "parameter s (a random string) is missing"
                )
            if profile.international and params.get("device_platform") != "web":
                raise ImageXError(
                    400, "InvalidParameter", "device_platform=web is required on this region"
                )
            session = self._open_session(grant, size)
            return {
                "UploadAddress": {
                    "StoreInfos": [
                        {
                            "StoreUri": session.store_uri,
                            "Auth": session.auth,
                            "UploadID": self._hex(32),
                        }
                    ],
                    "UploadHosts": [self._upload_host()],
                    "SessionKey": session.session_key,
                },
                "RequestId": call.request_id,
            }

    async def _commit(self, request: Request, call: _Call) -> dict[str, Any]:
        body = await _read_small_body(request)
        grant = self._authenticate(request, body, call, POST_SIGNED_HEADERS)
        with self._stats.in_flight(grant.account, "upload"):
            allowed = {"Action", "Version", "ServiceId"}
            if grant.profile.international:
                allowed.add("device_platform")
            params = _single_params(request, allowed)
            self._check_service_id(params, grant)
            session = self._session_of(body, grant)
            if not session.uploaded:
                raise ImageXError(
                    400,
                    "UploadNotComplete",
                    "the file of this SessionKey has not been uploaded completely",
                )
            header = session.image
            if header is None:
                raise ImageXError(400, "InvalidImageFormat", session.image_error)
            session.committed = header
            self._state.committed[(session.account, session.store_uri)] = header
            if session.risky:
                self._state.risky.add(session.store_uri)
            return {
                "Results": [{"Uri": session.store_uri, "UriStatus": URI_OK}],
                "RequestId": call.request_id,
                "PluginResult": [
                    {
                        "FileName": session.store_uri.rsplit("/", 1)[-1],
                        "SourceUri": session.store_uri,
                        "ImageUri": session.store_uri,
                        "ImageWidth": header.width,
                        "ImageHeight": header.height,
                        "ImageMd5": session.md5,
                        "ImageFormat": header.format,
                        "ImageSize": session.size,
                        "FrameCnt": 1,
                    }
                ],
            }

    def _authenticate(
        self, request: Request, body: bytes, call: _Call, required: tuple[str, ...]
    ) -> _Grant:
        """The grant whose credentials signed this request, or an ImageXError saying why not."""
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        try:
            auth = parse_authorization(headers.get("authorization"))
        except SigV4Error as exc:
            raise _signature_error(exc) from None
        call.region = auth.region
        grant = self._state.grants.get(auth.access_key_id)
        if grant is None:
            raise ImageXError(
                403, "InvalidAccessKeyId", "the access key id does not exist in our records"
            )
        call.region = grant.profile.aws_region
        now = self._clock()
        if now >= grant.expires_at:
            raise ImageXError(
                403, "ExpiredToken", "the security token included in the request is expired"
            )
        sent_token = headers.get("x-amz-security-token", "").encode()
        if not hmac.compare_digest(sent_token, grant.credentials.session_token.encode()):
            raise ImageXError(
                403, "AccessDenied", "x-amz-security-token does not belong to this access key"
            )
        try:
            verify_request(
                method=request.method,
                path=request.url.path,
                params=request.query_params.multi_items(),
                headers=headers,
                body=body,
                secret_access_key=grant.credentials.secret_access_key,
                region=grant.profile.aws_region,
                service=SERVICE,
                now=datetime.fromtimestamp(now, timezone.utc),
                required_headers=required,
            )
        except SigV4Error as exc:
            raise _signature_error(exc) from None
        return grant

    def _check_service_id(self, params: dict[str, str], grant: _Grant) -> None:
        service_id = params.get("ServiceId")
        if not service_id:
            raise ImageXError(400, "InvalidParameter", "parameter ServiceId is missing")
        if service_id != grant.profile.service_id:
            raise ImageXError(
                403, "AccessDenied", f"these credentials are not valid for ServiceId {service_id}"
            )

    def _file_size(self, raw: str | None) -> int:
        if raw is None or not _DIGITS_RE.fullmatch(raw) or int(raw) <= 0:
            raise ImageXError(
                400, "InvalidParameter", "FileSize must be a positive integer number of bytes"
            )
        size = int(raw)
        if size > self._max_upload_bytes:
            raise ImageXError(
                400,
                "InvalidParameter",
                f"FileSize {size} exceeds the limit of {self._max_upload_bytes} bytes",
            )
        return size

    def _open_session(self, grant: _Grant, size: int) -> _UploadSession:
        profile = grant.profile
        cluster = "tos-cn-i" if profile.name == "cn" else "tos-alisg-i"
        session = _UploadSession(
            account=grant.account,
            profile=profile,
            service_id=profile.service_id,
            size=size,
            store_uri=f"{cluster}-{profile.service_id}/{self._hex(32)}",
            auth=f"SpaceKey/{profile.service_id}/1/:version:v2:{self._text(120)}",
            session_key=self._text(160),
        )
        self._state.sessions[session.session_key] = session
        self._state.stores[session.store_uri] = session
        return session

    def _session_of(self, body: bytes, grant: _Grant) -> _UploadSession:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        key = payload.get("SessionKey") if isinstance(payload, dict) else None
        if not isinstance(key, str) or not key:
            raise ImageXError(
                400, "InvalidParameter", 'the body must be JSON {"SessionKey": "<from Apply>"}'
            )
        session = self._state.sessions.get(key)
        if session is None:
            raise ImageXError(400, "InvalidParameter", "SessionKey is unknown")
        if session.account != grant.account or session.service_id != grant.profile.service_id:
            raise ImageXError(403, "AccessDenied", "this SessionKey belongs to another account")
        return session

    # -- the upload host --------------------------------------------------------------------

    async def _upload(self, request: Request) -> Response:
        try:
            session = self._state.stores.get(request.path_params.get("store_uri", ""))
            if session is None:
                raise UploadFailure(404, 4004, "unknown StoreUri")
            with self._stats.in_flight(session.account, "upload"):
                result = await self._receive(request, session)
        except UploadFailure as exc:
            return JSONResponse(
                {"code": exc.code, "apiversion": "v1", "message": exc.message, "data": {}},
                status_code=exc.status,
            )
        except ClientDisconnect:
            return JSONResponse(
                {"code": 4000, "apiversion": "v1", "message": "client disconnected", "data": {}},
                status_code=400,
            )
        except Exception:
            call = _Call(self._request_id(), "upload")
            return _metadata_error(call, 500, "InternalError", "internal error, try again")
        return JSONResponse(
            {"code": UPLOAD_OK, "apiversion": "v1", "message": "Success", "data": result}
        )

    async def _receive(self, request: Request, session: _UploadSession) -> dict[str, Any]:
        """Check the upload headers, then stream the body, keeping only the image header."""
        sent_auth = request.headers.get("authorization")
        if not sent_auth:
            raise UploadFailure(401, 4001, "Authorization (the StoreInfos Auth) is missing")
        if not hmac.compare_digest(sent_auth.encode(), session.auth.encode()):
            raise UploadFailure(403, 4003, "Authorization does not match this StoreUri")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/octet-stream":
            raise UploadFailure(400, 4000, "Content-Type must be application/octet-stream")
        if not request.headers.get("content-disposition"):
            raise UploadFailure(400, 4000, "Content-Disposition is missing")
        crc_sent = request.headers.get("content-crc32", "")
        if not _CRC_RE.fullmatch(crc_sent):
            raise UploadFailure(400, 4000, "Content-CRC32 must be 8 lower-case hex digits")
        length = request.headers.get("content-length", "")
        if not _DIGITS_RE.fullmatch(length):
            raise UploadFailure(400, 4000, "Content-Length is required")
        if int(length) != session.size:
            raise UploadFailure(
                400,
                4000,
                f"Content-Length {int(length)} is not the FileSize {session.size} applied for",
            )
        if session.committed is not None:
            raise UploadFailure(400, 4000, "this upload is already committed")

        crc = 0
        md5 = hashlib.md5()
        head = bytearray()
        received = 0
        pace = self._upload_pace()
        async for chunk in request.stream():
            if pace:
                await anyio.sleep(pace)
            received += len(chunk)
            if received > session.size:
                raise UploadFailure(400, 4000, "the body is longer than Content-Length")
            crc = zlib.crc32(chunk, crc)
            md5.update(chunk)
            if len(head) < HEADER_BYTES:
                head += chunk[: HEADER_BYTES - len(head)]
        if received != session.size:
            raise UploadFailure(400, 4000, f"the body has {received} of {session.size} bytes")
        crc_hex = f"{crc:08x}"
        if crc_hex != crc_sent:
            raise UploadFailure(400, 4002, "crc32 mismatch")
        # Probe now so that only the header's result is kept, not the leading bytes.
        try:
            session.image, session.image_error = read_header(bytes(head)), ""
        except NotAnImageError as exc:
            session.image, session.image_error = None, str(exc)
        session.uploaded = True
        session.risky = RISKY_MARKER in head
        session.md5 = md5.hexdigest()
        return {"crc32": crc_hex, "etag": session.md5, "size": received}

    # -- small helpers ------------------------------------------------------------------------

    def _hex(self, n: int) -> str:
        return f"{self._rng.getrandbits(4 * n):0{n}x}"

    def _text(self, n: int) -> str:
        return "".join(self._rng.choices(_ALNUM, k=n))

    def _request_id(self) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(self._clock()))
        return stamp + self._hex(20).upper()


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _signature_error(exc: SigV4Error) -> ImageXError:
    status = 400 if exc.code in _BAD_REQUEST_CODES else 403
    return ImageXError(status, exc.code, str(exc))


def _single_params(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query as a dict; a repeated or unexpected parameter is an InvalidParameter."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise ImageXError(400, "InvalidParameter", f"unexpected parameter {name}")
        if name in params:
            raise ImageXError(400, "InvalidParameter", f"parameter {name} is repeated")
        params[name] = value
    return params


async def _read_small_body(request: Request) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_COMMIT_BODY:
        raise ImageXError(400, "InvalidParameter", "the request body is too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_COMMIT_BODY:
            raise ImageXError(400, "InvalidParameter", "the request body is too large")
    return bytes(body)


def _metadata(call: _Call) -> dict[str, Any]:
    return {
        "RequestId": call.request_id,
        "Action": call.action,
        "Version": API_VERSION,
        "Service": SERVICE,
        "Region": call.region,
    }


def _metadata_error(call: _Call, status: int, code: str, message: str) -> JSONResponse:
    metadata = _metadata(call)
    metadata["Error"] = {"Code": code, "Message": message}
    return JSONResponse({"ResponseMetadata": metadata}, status_code=status)
