"""The emulated ImageX over real HTTP: the four upload steps, signed by our signer and botocore."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sigv4_reference import botocore_headers

from jimeng_async.auth import build_headers, default_params, split_token
from jimeng_async.config import DEFAULT_REGIONS, RegionProfile, Settings
from jimeng_async.sigv4 import Credentials, sign_request
from jimeng_async.testing import Emulator, EmulatorConfig
from jimeng_async.testing.probe import ImageInfo

pytestmark = pytest.mark.anyio


# -- small valid images, built by hand ---------------------------------------------------------


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def make_png(width: int, height: int) -> bytes:
    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def make_jpeg(width: int, height: int) -> bytes:
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + _jpeg_segment(0xE0, app0) + _jpeg_segment(0xC0, sof0) + b"\xff\xd9"


def make_webp(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)  # VP8L: 14 bits each, then alpha and version 0
    vp8l = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 5
    chunk = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def make_gif(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b"\x3b"


# -- signing helpers ---------------------------------------------------------------------------


Signer = Callable[..., dict[str, str]]
botocore_signer: Signer = botocore_headers


# -- the harness -------------------------------------------------------------------------------


@dataclass
class Upload:
    """One account's view of the ImageX flow, driven with raw httpx."""

    client: httpx.AsyncClient
    base_url: str
    profile: RegionProfile
    credentials: Credentials
    service_id: str
    signer: Signer = sign_request
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)

    def _params(self, action: str, **extra: str) -> dict[str, str]:
        params = {"Action": action, "Version": "2018-08-01", "ServiceId": self.service_id}
        params.update(extra)
        return params

    async def apply(self, size: int, **extra: str) -> httpx.Response:
        params = self._params("ApplyImageUpload", FileSize=str(size), s="k3j9x0")
        if self.profile.international:
            params["device_platform"] = "web"
        params.update(extra)
        headers = self.signer(
            method="GET",
            url=self.base_url + "/",
            params=params,
            body=None,
            credentials=self.credentials,
            region=self.profile.aws_region,
            now=self.now(),
        )
        return await self.client.get(self.base_url + "/", params=params, headers=headers)

    async def put(self, address: dict[str, Any], data: bytes, **headers: str) -> httpx.Response:
        store = address["StoreInfos"][0]
        sent = {
            "Authorization": store["Auth"],
            "Content-CRC32": f"{zlib.crc32(data):08x}",
            "Content-Type": "application/octet-stream",
            "Content-Disposition": 'attachment; filename="undefined"',
        }
        sent.update(headers)
        url = f"http://{address['UploadHosts'][0]}/upload/v1/{store['StoreUri']}"
        return await self.client.post(url, content=data, headers=sent)

    async def commit(self, session_key: str) -> httpx.Response:
        params = self._params("CommitImageUpload")
        body = json.dumps({"SessionKey": session_key}).encode()
        headers = self.signer(
            method="POST",
            url=self.base_url + "/",
            params=params,
            body=body,
            credentials=self.credentials,
            region=self.profile.aws_region,
            now=self.now(),
            include_content_sha256=True,
        )
        headers["Content-Type"] = "application/json"
        return await self.client.post(
            self.base_url + "/", params=params, content=body, headers=headers
        )

    async def full_flow(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Apply, upload and commit `data`; returns (StoreUri, commit Result)."""
        applied = await self.apply(len(data))
        assert applied.status_code == 200, applied.text
        address = applied.json()["Result"]["UploadAddress"]
        put = await self.put(address, data)
        assert put.status_code == 200, put.text
        committed = await self.commit(address["SessionKey"])
        assert committed.status_code == 200, committed.text
        return address["StoreInfos"][0]["StoreUri"], committed.json()["Result"]


def error_code(response: httpx.Response) -> str:
    return str(response.json()["ResponseMetadata"]["Error"]["Code"])


class Env:
    """One running Emulator, driven with a plain httpx client (no jimeng_async client code)."""

    def __init__(self, emulator: Emulator, client: httpx.AsyncClient) -> None:
        self.emulator = emulator
        self.client = client
        self.base_url = emulator.url

    def add_account(self, region: str = "cn") -> str:
        return self.emulator.add_account(region, credits=100)

    async def upload_token(self, token: str) -> dict[str, Any]:
        """Step 1: POST /mweb/v1/get_upload_token as the web app sends it."""
        region, session_id = split_token(token)
        profile = SETTINGS.profile(region)
        path = "/mweb/v1/get_upload_token"
        response = await self.client.post(
            self.base_url + path,
            params=default_params(profile, SETTINGS),
            headers=build_headers(session_id=session_id, profile=profile, path=path),
            json={"scene": 2},
        )
        assert response.status_code == 200, response.text
        envelope = response.json()
        assert envelope["ret"] == "0", envelope
        data: dict[str, Any] = envelope["data"]
        return data

    async def uploader(self, token: str, signer: Signer = sign_request) -> Upload:
        profile = DEFAULT_REGIONS[split_token(token)[0]]
        data = await self.upload_token(token)
        credentials = Credentials(
            data["access_key_id"], data["secret_access_key"], data["session_token"]
        )
        service_id = data["space_name" if profile.international else "service_id"]
        return Upload(self.client, self.base_url, profile, credentials, service_id, signer)

    def committed_image(self, token: str, uri: str) -> ImageInfo | None:
        return self.emulator.imagex.committed_image(token, uri)


SETTINGS = Settings()
MAX_UPLOAD = 1024 * 1024


@asynccontextmanager
async def running(**config: Any) -> AsyncIterator[Env]:
    emulator_config = EmulatorConfig(max_upload_bytes=MAX_UPLOAD, **config)
    async with (
        Emulator(time_scale=0.01, seed=1, config=emulator_config) as emulator,
        httpx.AsyncClient() as client,
    ):
        yield Env(emulator, client)


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with running() as started:
        yield started


# -- the four steps ----------------------------------------------------------------------------


@pytest.mark.parametrize("signer", [sign_request, botocore_signer], ids=["ours", "botocore"])
async def test_full_flow_cn(env: Env, signer: Signer) -> None:
    token = env.add_account("cn")
    data = await env.upload_token(token)
    assert set(data) == {
        "access_key_id",
        "secret_access_key",
        "session_token",
        "service_id",
        "current_time",
        "expired_time",
    }
    assert data["service_id"] == "tb4s082cfz"
    up = await env.uploader(token, signer)
    image = make_png(7, 5)
    uri, result = await up.full_flow(image)
    assert uri.startswith("tos-cn-i-tb4s082cfz/")
    assert result["Results"] == [{"Uri": uri, "UriStatus": 2000}]
    plugin = result["PluginResult"][0]
    assert plugin["ImageUri"] == plugin["SourceUri"] == uri
    assert (plugin["ImageWidth"], plugin["ImageHeight"]) == (7, 5)
    assert plugin["ImageFormat"] == "png"
    assert plugin["ImageSize"] == len(image)
    assert plugin["ImageMd5"] == hashlib.md5(image).hexdigest()
    assert result["RequestId"]
    assert env.committed_image(token, uri) == ImageInfo("png", 7, 5)
    assert env.committed_image(env.add_account("cn"), uri) is None


@pytest.mark.parametrize("signer", [sign_request, botocore_signer], ids=["ours", "botocore"])
async def test_full_flow_us(env: Env, signer: Signer) -> None:
    token = env.add_account("us")
    data = await env.upload_token(token)
    assert data["space_name"] == "wopfjsm1ax"
    assert "service_id" not in data
    up = await env.uploader(token, signer)
    applied = await up.apply(100)
    assert applied.status_code == 200, applied.text
    metadata = applied.json()["ResponseMetadata"]
    assert metadata["Region"] == "us-east-1"
    assert metadata["Action"] == "ApplyImageUpload"
    assert metadata["Service"] == "imagex"
    assert "Error" not in metadata
    uri, result = await up.full_flow(make_jpeg(640, 480))
    assert result["Results"][0]["Uri"] == uri
    assert env.committed_image(token, uri) is not None


async def test_apply_answer_shape(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    response = await up.apply(1234)
    assert response.status_code == 200
    body = response.json()
    metadata = body["ResponseMetadata"]
    assert metadata["RequestId"] == body["Result"]["RequestId"]
    assert (metadata["Version"], metadata["Region"]) == ("2018-08-01", "cn-north-1")
    address = body["Result"]["UploadAddress"]
    store = address["StoreInfos"][0]
    assert all(store[name] for name in ("StoreUri", "Auth", "UploadID"))
    assert len(address["UploadHosts"]) == 1
    assert "://" not in address["UploadHosts"][0]
    assert address["SessionKey"]


async def test_international_apply_needs_device_platform(env: Env) -> None:
    up = await env.uploader(env.add_account("us"))
    response = await up.apply(10, device_platform="app")
    assert response.status_code == 400
    assert error_code(response) == "InvalidParameter"
    assert "device_platform" in response.json()["ResponseMetadata"]["Error"]["Message"]


@pytest.mark.parametrize(
    "image",
    [
        pytest.param((make_png(31, 17), "png", 31, 17), id="png"),
        pytest.param((make_jpeg(1024, 768), "jpeg", 1024, 768), id="jpeg"),
        pytest.param((make_webp(300, 200), "webp", 300, 200), id="webp"),
        pytest.param((make_gif(12, 34), "gif", 12, 34), id="gif"),
    ],
)
async def test_commit_reports_the_image_size(env: Env, image: tuple[bytes, str, int, int]) -> None:
    data, fmt, width, height = image
    token = env.add_account("cn")
    uri, result = await (await env.uploader(token)).full_flow(data)
    plugin = result["PluginResult"][0]
    assert (plugin["ImageFormat"], plugin["ImageWidth"], plugin["ImageHeight"]) == (
        fmt,
        width,
        height,
    )
    assert env.committed_image(token, uri) == ImageInfo(fmt, width, height)


async def test_large_upload_is_streamed_and_hashed(env: Env) -> None:
    image = make_png(3, 3) + bytes(range(256)) * 2048  # 512 KiB of trailing bytes
    token = env.add_account("cn")
    up = await env.uploader(token)
    applied = (await up.apply(len(image))).json()["Result"]["UploadAddress"]
    put = await up.put(applied, image)
    assert put.status_code == 200
    assert put.json() == {
        "code": 2000,
        "apiversion": "v1",
        "message": "Success",
        "data": {
            "crc32": f"{zlib.crc32(image):08x}",
            "etag": hashlib.md5(image).hexdigest(),
            "size": len(image),
        },
    }
    committed = (await up.commit(applied["SessionKey"])).json()["Result"]
    assert committed["PluginResult"][0]["ImageSize"] == len(image)


async def test_commit_twice_gives_the_same_uri(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    image = make_png(2, 2)
    address = (await up.apply(len(image))).json()["Result"]["UploadAddress"]
    assert (await up.put(address, image)).status_code == 200
    first = (await up.commit(address["SessionKey"])).json()["Result"]
    second = (await up.commit(address["SessionKey"])).json()["Result"]
    assert first["Results"] == second["Results"]
    again = await up.put(address, image)
    assert again.status_code == 400


async def test_uploads_count_as_in_flight(env: Env) -> None:
    token = env.add_account("cn")
    await (await env.uploader(token)).full_flow(make_png(4, 4))
    stats = env.emulator.stats
    assert stats.max_in_flight[(token, "upload")] == 1
    assert stats.requests["ApplyImageUpload"] == stats.requests["CommitImageUpload"] == 1
    assert stats.requests["upload"] == 1


# -- signature and credential errors -----------------------------------------------------------


def tampering(signer: Signer) -> Signer:
    def sign(**kwargs: Any) -> dict[str, str]:
        headers = signer(**kwargs)
        signature = headers["Authorization"][-64:]
        flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
        headers["Authorization"] = headers["Authorization"][:-64] + flipped
        return headers

    return sign


async def test_tampered_signature(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"), tampering(sign_request))
    response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "SignatureDoesNotMatch"
    assert response.json()["ResponseMetadata"]["RequestId"]


async def test_wrong_access_key(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    up.credentials = Credentials(
        "AKTP" + "Z" * 40, up.credentials.secret_access_key, up.credentials.session_token
    )
    response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "InvalidAccessKeyId"


async def test_wrong_secret(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    up.credentials = Credentials(
        up.credentials.access_key_id, "not-the-secret", up.credentials.session_token
    )
    response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "SignatureDoesNotMatch"


async def test_wrong_session_token(env: Env) -> None:
    token = env.add_account("cn")
    up = await env.uploader(token)
    other = await env.uploader(token)
    up.credentials = Credentials(
        up.credentials.access_key_id,
        up.credentials.secret_access_key,
        other.credentials.session_token,
    )
    response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"


async def test_wrong_region_in_scope(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    up.profile = dataclasses.replace(up.profile, aws_region="us-east-1")
    response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "SignatureDoesNotMatch"
    assert "region" in response.json()["ResponseMetadata"]["Error"]["Message"]


async def test_expired_credentials() -> None:
    async with running(credential_ttl=1e-6) as env:
        up = await env.uploader(env.add_account("cn"))
        response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "ExpiredToken"
    assert "expired" in response.json()["ResponseMetadata"]["Error"]["Message"]


async def test_credentials_last_their_ttl(env: Env) -> None:
    data = await env.upload_token(env.add_account("cn"))
    issued = datetime.fromisoformat(data["current_time"])
    expires = datetime.fromisoformat(data["expired_time"])
    assert expires - issued == timedelta(seconds=3600)


async def test_skewed_date(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    up.now = lambda: datetime.now(timezone.utc) - timedelta(minutes=20)
    response = await up.apply(100)
    assert response.status_code == 403
    assert error_code(response) == "RequestTimeTooSkewed"


async def test_missing_or_malformed_authorization(env: Env) -> None:
    params = {"Action": "ApplyImageUpload", "Version": "2018-08-01"}
    missing = await env.client.get(env.base_url + "/", params=params)
    assert missing.status_code == 403
    assert error_code(missing) == "MissingAuthenticationToken"
    malformed = await env.client.get(
        env.base_url + "/", params=params, headers={"Authorization": "AWS4-HMAC-SHA256 nonsense"}
    )
    assert malformed.status_code == 400
    assert error_code(malformed) == "IncompleteSignature"


async def test_commit_body_must_match_its_signed_hash(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    params = up._params("CommitImageUpload")
    headers = sign_request(
        method="POST",
        url=env.base_url + "/",
        params=params,
        body=b'{"SessionKey": "a"}',
        credentials=up.credentials,
        region="cn-north-1",
        now=datetime.now(timezone.utc),
        include_content_sha256=True,
    )
    response = await env.client.post(
        env.base_url + "/", params=params, headers=headers, content=b'{"SessionKey": "b"}'
    )
    assert response.status_code == 400
    assert error_code(response) == "XAmzContentSHA256Mismatch"


async def test_commit_must_sign_the_content_hash(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    params = up._params("CommitImageUpload")
    body = b'{"SessionKey": "a"}'
    headers = sign_request(
        method="POST",
        url=env.base_url + "/",
        params=params,
        body=body,
        credentials=up.credentials,
        region="cn-north-1",
        now=datetime.now(timezone.utc),
    )
    response = await env.client.post(
        env.base_url + "/", params=params, headers=headers, content=body
    )
    assert response.status_code == 400
    assert error_code(response) == "IncompleteSignature"
    assert "x-amz-content-sha256" in response.json()["ResponseMetadata"]["Error"]["Message"]


# -- parameter errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code", "status"),
    [
        ({"FileSize": "0"}, "InvalidParameter", 400),
        ({"FileSize": "-5"}, "InvalidParameter", 400),
        ({"FileSize": "12a"}, "InvalidParameter", 400),
        ({"FileSize": str(2**40)}, "InvalidParameter", 400),
        ({"s": ""}, "InvalidParameter", 400),
        ({"Unexpected": "1"}, "InvalidParameter", 400),
        ({"device_platform": "web"}, "InvalidParameter", 400),  # cn sends none
        ({"ServiceId": "someoneelse"}, "AccessDenied", 403),
        ({"ServiceId": ""}, "InvalidParameter", 400),
        ({"Version": "2023-01-01"}, "InvalidActionOrVersion", 400),
        ({"Action": "DeleteImage"}, "InvalidActionOrVersion", 400),
    ],
)
async def test_apply_parameter_errors(
    env: Env, extra: dict[str, str], code: str, status: int
) -> None:
    up = await env.uploader(env.add_account("cn"))
    response = await up.apply(100, **extra)
    assert response.status_code == status, response.text
    assert error_code(response) == code


async def test_file_size_limit(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    assert (await up.apply(MAX_UPLOAD)).status_code == 200
    too_big = await up.apply(MAX_UPLOAD + 1)
    assert too_big.status_code == 400
    assert "limit" in too_big.json()["ResponseMetadata"]["Error"]["Message"]


# -- upload errors -----------------------------------------------------------------------------


async def applied(env: Env, image: bytes) -> tuple[Upload, dict[str, Any]]:
    up = await env.uploader(env.add_account("cn"))
    response = await up.apply(len(image))
    assert response.status_code == 200
    return up, response.json()["Result"]["UploadAddress"]


async def test_wrong_crc_is_400_and_not_stored(env: Env) -> None:
    image = make_png(5, 5)
    up, address = await applied(env, image)
    wrong = f"{(zlib.crc32(image) + 1) & 0xFFFFFFFF:08x}"
    response = await up.put(address, image, **{"Content-CRC32": wrong})
    assert response.status_code == 400
    assert response.json()["message"] == "crc32 mismatch"
    commit = await up.commit(address["SessionKey"])
    assert commit.status_code == 400
    assert error_code(commit) == "UploadNotComplete"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-CRC32": "ABCDEF01"}, 400),
        ({"Content-CRC32": "1234"}, 400),
        ({"Content-Type": "image/png"}, 400),
        ({"Content-Disposition": ""}, 400),
        ({"Authorization": "SpaceKey/nope"}, 403),
        ({"Authorization": ""}, 401),
    ],
)
async def test_upload_header_errors(env: Env, headers: dict[str, str], status: int) -> None:
    image = make_png(5, 5)
    up, address = await applied(env, image)
    response = await up.put(address, image, **headers)
    assert response.status_code == status
    assert response.json()["code"] != 2000


async def test_upload_of_another_size_is_refused(env: Env) -> None:
    image = make_png(5, 5)
    up, address = await applied(env, image)
    response = await up.put(address, image + b"\x00")
    assert response.status_code == 400
    assert "FileSize" in response.json()["message"]
    assert (await up.put(address, image[:-1])).status_code == 400


async def test_upload_to_an_unknown_store_uri(env: Env) -> None:
    image = make_png(5, 5)
    up, address = await applied(env, image)
    address["StoreInfos"][0]["StoreUri"] = "tos-cn-i-tb4s082cfz/unknown"
    assert (await up.put(address, image)).status_code == 404


async def test_commit_before_upload_is_refused(env: Env) -> None:
    up, address = await applied(env, make_png(5, 5))
    response = await up.commit(address["SessionKey"])
    assert response.status_code == 400
    assert error_code(response) == "UploadNotComplete"


async def test_commit_of_unknown_session(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    response = await up.commit("no-such-session")
    assert response.status_code == 400
    assert error_code(response) == "InvalidParameter"


async def test_commit_by_another_account_is_refused(env: Env) -> None:
    image = make_png(5, 5)
    up, address = await applied(env, image)
    assert (await up.put(address, image)).status_code == 200
    intruder = await env.uploader(env.add_account("cn"))
    response = await intruder.commit(address["SessionKey"])
    assert response.status_code == 403
    assert error_code(response) == "AccessDenied"


async def test_commit_of_a_non_image(env: Env) -> None:
    data = b"this is not an image at all" * 10
    up, address = await applied(env, data)
    assert (await up.put(address, data)).status_code == 200
    response = await up.commit(address["SessionKey"])
    assert response.status_code == 400
    assert error_code(response) == "InvalidImageFormat"


async def test_commit_with_a_malformed_body(env: Env) -> None:
    up = await env.uploader(env.add_account("cn"))
    params = up._params("CommitImageUpload")
    for body in (b"not json", b"[1, 2]", b'{"SessionKey": 5}'):
        headers = sign_request(
            method="POST",
            url=env.base_url + "/",
            params=params,
            body=body,
            credentials=up.credentials,
            region="cn-north-1",
            now=datetime.now(timezone.utc),
            include_content_sha256=True,
        )
        response = await env.client.post(
            env.base_url + "/", params=params, headers=headers, content=body
        )
        assert response.status_code == 400
        assert error_code(response) == "InvalidParameter"


async def test_an_internal_failure_is_a_json_error(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_png(5, 5)
    up, address = await applied(env, image)

    def broken(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(env.emulator.imagex, "_open_session", broken)
    monkeypatch.setattr(env.emulator.imagex, "_receive", broken)
    for response in (await up.apply(len(image)), await up.put(address, image)):
        assert response.status_code == 500
        error = response.json()["ResponseMetadata"]["Error"]
        assert error["Code"] == "InternalError"
        assert "boom" not in response.text
        assert "Traceback" not in response.text
