"""The four-step ImageX upload (PROTOCOL.md §4): token, apply, upload, commit.

Signing is `sigv4.py` (pure). Each step follows the session's retry policy; the upload itself
is retried to the same StoreUri. If ImageX refuses the temporary credentials (expired, unknown
or denied), the whole flow starts once more with a fresh token.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx

from ._decode import first_obj, load_json, obj, opt_int, opt_str
from .config import RegionProfile, check_url
from .errors import ConfigurationError, MalformedResponseError, RequestTimeoutError, UploadError
from .images import MAX_DIMENSION, ImageHeader
from .models import ImageRef
from .sigv4 import Credentials, sign_request
from .sources import PreparedUpload
from .transport import (
    UPLOAD_TOKEN,
    StreamBounds,
    Transport,
    call_with_retries,
    measured,
    raise_for_status,
)

API_VERSION = "2018-08-01"
UPLOAD_SCENE = 2
#: ImageX error codes that mean "these temporary credentials will not do": get new ones.
CREDENTIAL_ERRORS = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"}
)


class _CredentialsRefused(UploadError):
    """ImageX refused the temporary credentials; the flow may restart with fresh ones."""


@dataclass(frozen=True)
class UploadToken:
    """What get_upload_token gives: credentials for one upload flow and the service id."""

    credentials: Credentials
    service_id: str

    @classmethod
    def from_data(cls, data: dict[str, Any], profile: RegionProfile) -> UploadToken:
        """Read get_upload_token's data; a missing or non-string credential is an UploadError."""
        values: dict[str, str] = {}
        for key in ("access_key_id", "secret_access_key", "session_token"):
            value = opt_str(data.get(key))
            if value is None:
                raise UploadError(f"upload token: field {key!r} is missing or not a string")
            values[key] = value
        service_id = opt_str(data.get("space_name" if profile.international else "service_id"))
        return cls(Credentials(**values), service_id or profile.service_id)


@dataclass(frozen=True)
class _Address:
    session_key: str
    store_uri: str
    auth: str
    host: str


class ImageXUploader:
    """Runs the four steps for one account (the caller holds an upload slot)."""

    def __init__(self, *, transport: Transport, client: httpx.AsyncClient) -> None:
        self._transport = transport
        self._client = client
        self._profile = transport.profile
        self._settings = transport.settings
        self._policy = transport.policy

    async def upload(self, prepared: PreparedUpload) -> ImageRef:
        """Upload prepared content; one restart with fresh credentials if ImageX refuses them."""
        try:
            return await self._flow(prepared)
        except _CredentialsRefused:
            return await self._flow(prepared)

    async def _flow(self, prepared: PreparedUpload) -> ImageRef:
        data = await self._transport.call(UPLOAD_TOKEN, {"scene": UPLOAD_SCENE})
        token = UploadToken.from_data(data, self._profile)
        address = await self._apply(token, prepared)
        await self._put(address, prepared)
        return await self._commit(token, address, prepared)

    async def _apply(self, token: UploadToken, prepared: PreparedUpload) -> _Address:
        params = {
            "Action": "ApplyImageUpload",
            "Version": API_VERSION,
            "ServiceId": token.service_id,
            "FileSize": str(prepared.size),
            "s": secrets.token_hex(5),
        }
        if self._profile.international:
            params["device_platform"] = "web"
        return parse_apply(await self._imagex("GET", params, None, token))

    async def _put(self, address: _Address, prepared: PreparedUpload) -> None:
        scheme = self._profile.imagex_url.split("://", 1)[0]
        url = f"{scheme}://{address.host}/upload/v1/{address.store_uri}"
        try:
            check_url(url, setting="ImageX upload host")
        except ConfigurationError as exc:
            raise UploadError(exc.message, endpoint="upload") from None
        headers = {
            "Authorization": address.auth,
            "Content-CRC32": prepared.crc32,
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="undefined"',
            "Content-Length": str(prepared.size),
        }

        async def attempt(_number: int) -> None:
            response = await self._send_body(url, headers, prepared)
            if response.status_code == 400:
                raise UploadError(
                    f"upload refused: {_short(response)}", reason="upload", endpoint="upload"
                )
            raise_for_status(response, {"endpoint": "upload", "status": response.status_code})

        await call_with_retries(
            attempt, policy=self._policy, endpoint="upload", metrics=self._transport.metrics
        )

    async def _commit(
        self, token: UploadToken, address: _Address, prepared: PreparedUpload
    ) -> ImageRef:
        params = {
            "Action": "CommitImageUpload",
            "Version": API_VERSION,
            "ServiceId": token.service_id,
        }
        body = json.dumps({"SessionKey": address.session_key}).encode()
        result = await self._imagex("POST", params, body, token)
        return parse_commit(result, prepared.header, prepared.size)

    async def _imagex(
        self, method: str, params: dict[str, str], body: bytes | None, token: UploadToken
    ) -> dict[str, Any]:
        """One signed ImageX API call (with retries); returns its `Result`."""
        action = params["Action"]
        url = self._profile.imagex_url + "/"

        async def attempt(_number: int) -> dict[str, Any]:
            headers = sign_request(
                method=method,
                url=url,
                params=params,
                body=body,
                credentials=token.credentials,
                region=self._profile.aws_region,
                now=datetime.now(timezone.utc),
                include_content_sha256=method == "POST",
            )
            if body is not None:
                headers["Content-Type"] = "application/json"
            response = await self._send(action, method, url, headers, body, params)
            return _imagex_result(response, action)

        return await call_with_retries(
            attempt, policy=self._policy, endpoint=action, metrics=self._transport.metrics
        )

    async def _send_body(
        self, url: str, headers: dict[str, str], prepared: PreparedUpload
    ) -> httpx.Response:
        """Step 3: the file's bytes, bounded by progress (connect, each write, time without a
        new chunk sent or, once all is sent, without the answer), not by a total: a large
        file on a slow link completes instead of failing at `request_timeout`."""
        bounds = StreamBounds.from_settings(self._settings)
        context: dict[str, Any] = {"endpoint": "upload"}
        with anyio.CancelScope(deadline=anyio.current_time() + bounds.stall) as progress:

            async def paced() -> AsyncIterator[bytes]:
                async for chunk in prepared.chunks():
                    progress.deadline = anyio.current_time() + bounds.stall
                    yield chunk

            return await self._send(
                "upload",
                "POST",
                url,
                headers,
                paced(),
                limit=math.inf,
                stream_bounds=bounds.httpx_timeout(),
            )
        raise RequestTimeoutError(f"no upload progress within {bounds.stall:g}s", context=context)

    async def _send(
        self,
        name: str,
        method: str,
        url: str,
        headers: dict[str, str],
        content: Any,
        params: dict[str, str] | None = None,
        *,
        limit: float | None = None,
        stream_bounds: httpx.Timeout | None = None,
    ) -> httpx.Response:
        async with measured(
            self._transport.metrics,
            name,
            label=f"{method} {name}",
            limit=self._settings.request_timeout if limit is None else limit,
            context={"endpoint": name},
            detail=False,  # the upload URL and its Auth are the flow's own secrets
        ) as attempt:
            response = await self._client.request(
                method,
                url,
                params=params,
                headers=headers,
                content=content,
                timeout=httpx.USE_CLIENT_DEFAULT if stream_bounds is None else stream_bounds,
            )
            attempt.ok = response.status_code < 400
            return response


def parse_apply(result: dict[str, Any]) -> _Address:
    """The upload address of an ApplyImageUpload `Result`; UploadError if any part is missing."""
    address = obj(result.get("UploadAddress"))
    store = first_obj(address.get("StoreInfos"))
    hosts = address.get("UploadHosts")
    parts = {
        "session_key": opt_str(address.get("SessionKey")),
        "store_uri": opt_str(store.get("StoreUri")),
        "auth": opt_str(store.get("Auth")),
        "host": opt_str(hosts[0]) if isinstance(hosts, list) and hosts else None,
    }
    if any(value is None for value in parts.values()):
        raise UploadError("ApplyImageUpload: the answer lacks an upload address")
    return _Address(**{key: str(value) for key, value in parts.items()})


def parse_commit(result: dict[str, Any], header: ImageHeader, size: int) -> ImageRef:
    """The ImageRef of a CommitImageUpload `Result`.

    `Results[0].Uri` must be a non-empty string. `PluginResult[0]`'s width and height are used
    only when they are whole numbers within the image bounds; otherwise the header's stand.
    """
    committed = first_obj(result.get("Results"))
    uri = committed.get("Uri")
    if not isinstance(uri, str) or not uri:
        raise UploadError("CommitImageUpload: the answer lacks Results[0].Uri")
    status = committed.get("UriStatus")
    if status is not None and opt_int(status) != 2000:
        raise UploadError(f"CommitImageUpload: UriStatus {str(status)[:40]}")
    plugin = first_obj(result.get("PluginResult"))
    width = opt_int(plugin.get("ImageWidth"), low=1, high=MAX_DIMENSION)
    height = opt_int(plugin.get("ImageHeight"), low=1, high=MAX_DIMENSION)
    return ImageRef(
        uri=uri,
        width=width or header.width,
        height=height or header.height,
        format=header.format,
        size=size,
    )


def _short(response: httpx.Response) -> str:
    text = response.text[:200]
    return text or f"HTTP {response.status_code}"


def _imagex_result(response: httpx.Response, action: str) -> dict[str, Any]:
    """`Result` of an ImageX answer, or the error its ResponseMetadata names."""
    context: dict[str, Any] = {"endpoint": action, "status": response.status_code}
    if response.status_code == 429 or response.status_code >= 500:
        raise_for_status(response, context)
    try:
        payload = load_json(response.content, context=context)
    except MalformedResponseError:
        if response.status_code >= 400:
            raise_for_status(response, context)
        raise  # a truncated or garbled answer: retried like the same fault on a web call
    meta = obj(obj(payload).get("ResponseMetadata"))
    request_id = (opt_str(meta.get("RequestId")) or "")[:128] or None
    context["request_id"] = request_id
    error = obj(meta.get("Error"))
    code = opt_str(error.get("Code"))
    if code:
        code = code[:64]
        detail = (opt_str(error.get("Message")) or "")[:300]
        message = f"{action}: {code}: {detail}".rstrip(": ")
        if code in CREDENTIAL_ERRORS:
            raise _CredentialsRefused(message, reason=code, request_id=request_id, context=context)
        raise UploadError(message, reason=code, request_id=request_id, context=context)
    if response.status_code >= 400:
        raise_for_status(response, context)
    result = obj(payload).get("Result")
    if not isinstance(result, dict):
        raise MalformedResponseError(f"{action}: the answer has no Result", context=context)
    return result
