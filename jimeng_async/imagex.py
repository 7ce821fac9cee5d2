"""The four-step ImageX upload (PROTOCOL.md §4): token, apply, upload, commit.

Signing is `sigv4.py` (pure). Each step follows the session's retry policy; the upload itself
is retried to the same StoreUri. If ImageX refuses the temporary credentials (expired, unknown
or denied), the whole flow starts once more with a fresh token.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx

from .config import RegionProfile, check_url
from .errors import ConfigurationError, UploadError
from .models import ImageRef
from .sigv4 import Credentials, sign_request
from .sources import PreparedUpload
from .transport import (
    UPLOAD_TOKEN,
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
        try:
            credentials = Credentials(
                access_key_id=str(data["access_key_id"]),
                secret_access_key=str(data["secret_access_key"]),
                session_token=str(data["session_token"]),
            )
        except KeyError as exc:
            raise UploadError(f"upload token: field {exc.args[0]!r} is missing") from None
        service_id = data.get("space_name" if profile.international else "service_id")
        return cls(credentials, str(service_id or profile.service_id))


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
        result = await self._imagex("GET", params, None, token)
        address: Any = result.get("UploadAddress")
        try:
            store = address["StoreInfos"][0]
            return _Address(
                session_key=str(address["SessionKey"]),
                store_uri=str(store["StoreUri"]),
                auth=str(store["Auth"]),
                host=str(address["UploadHosts"][0]),
            )
        except (KeyError, IndexError, TypeError):
            raise UploadError("ApplyImageUpload: the answer lacks an upload address") from None

    async def _put(self, address: _Address, prepared: PreparedUpload) -> None:
        scheme = self._profile.imagex_url.split("://", 1)[0]
        url = f"{scheme}://{address.host}/upload/v1/{address.store_uri}"
        try:
            check_url(url, setting="ImageX upload host")
        except ConfigurationError as exc:
            raise UploadError(str(exc)) from None
        headers = {
            "Authorization": address.auth,
            "Content-CRC32": prepared.crc32,
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="undefined"',
            "Content-Length": str(prepared.size),
        }

        async def attempt(_number: int) -> None:
            response = await self._send("upload", "POST", url, headers, prepared.chunks())
            if response.status_code == 400:
                raise UploadError(f"upload refused: {_short(response)}", code="upload")
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
        try:
            committed = result["Results"][0]
            uri = str(committed["Uri"])
        except (KeyError, IndexError, TypeError):
            raise UploadError("CommitImageUpload: the answer lacks Results[0].Uri") from None
        if committed.get("UriStatus") not in (None, 2000):
            raise UploadError(f"CommitImageUpload: UriStatus {committed.get('UriStatus')}")
        plugin = (result.get("PluginResult") or [{}])[0]
        header = prepared.header
        return ImageRef(
            uri=uri,
            width=int(plugin.get("ImageWidth") or header.width),
            height=int(plugin.get("ImageHeight") or header.height),
            format=header.format,
            size=prepared.size,
        )

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

    async def _send(
        self,
        name: str,
        method: str,
        url: str,
        headers: dict[str, str],
        content: Any,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with measured(
            self._transport.metrics,
            name,
            label=f"{method} {name}",
            limit=self._settings.request_timeout,
            context={"endpoint": name},
            detail=False,  # the upload URL and its Auth are the flow's own secrets
        ) as attempt:
            response = await self._client.request(
                method, url, params=params, headers=headers, content=content
            )
            attempt.ok = response.status_code < 400
            return response


def _short(response: httpx.Response) -> str:
    text = response.text[:200]
    return text or f"HTTP {response.status_code}"


def _imagex_result(response: httpx.Response, action: str) -> dict[str, Any]:
    """`Result` of an ImageX answer, or the error its ResponseMetadata names."""
    context: dict[str, Any] = {"endpoint": action, "status": response.status_code}
    if response.status_code == 429 or response.status_code >= 500:
        raise_for_status(response, context)
    try:
        payload = response.json()
    except ValueError:
        if response.status_code >= 400:
            raise_for_status(response, context)
        raise UploadError(f"{action}: the answer is not JSON") from None
    meta = payload.get("ResponseMetadata") if isinstance(payload, dict) else None
    request_id = meta.get("RequestId") if isinstance(meta, dict) else None
    request_id = request_id if isinstance(request_id, str) and request_id else None
    context["request_id"] = request_id
    error = meta.get("Error") if isinstance(meta, dict) else None
    if isinstance(error, dict) and error.get("Code"):
        code = str(error["Code"])
        message = f"{action}: {code}: {error.get('Message', '')}".rstrip(": ")
        if code in CREDENTIAL_ERRORS:
            raise _CredentialsRefused(message, code=code, request_id=request_id)
        raise UploadError(message, code=code, request_id=request_id)
    if response.status_code >= 400:
        raise_for_status(response, context)
    result = payload.get("Result") if isinstance(payload, dict) else None
    if not isinstance(result, dict):
        raise UploadError(f"{action}: the answer has no Result")
    return result
