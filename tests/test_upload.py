"""Image upload through the four ImageX steps, against the emulator."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import anyio
import pytest

import jimeng_async as jm
from jimeng_async.testing import Emulator, FaultConfig
from jimeng_async.testing.media import png

pytestmark = pytest.mark.anyio


def _jpeg(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return (
        b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9 + sof + b"\xff\xd9"
    )


def _gif(width: int, height: int) -> bytes:
    """A whole (one-pixel-data) GIF: ImageX decodes what it stores, a bare header is refused."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b";"


@pytest.mark.parametrize("region", ["cn", "us"])
async def test_upload_flow_in_both_regions(jimeng_emulator: Emulator, region: str) -> None:
    token = jimeng_emulator.add_account(region=region)
    data = png(64, 48, f"upload-{region}")
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        ref = await s.upload_image(data)
    assert (ref.width, ref.height, ref.format, ref.size) == (64, 48, "png", len(data))
    header = jimeng_emulator.imagex.committed_image(token, ref.uri)
    assert header is not None
    assert (header.width, header.height) == (64, 48)
    for step in ("get_upload_token", "ApplyImageUpload", "upload", "CommitImageUpload"):
        assert jimeng_emulator.stats.requests[step] == 1, step


async def test_sources_path_file_and_ref(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(_jpeg(300, 200))
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        from_path = await s.upload_image(path)
        from_str = await s.upload_image(str(path))
        from_file = await s.upload_image(io.BytesIO(_gif(7, 9)))
        assert await s.upload_image(from_path) is from_path
    assert (from_path.width, from_path.height, from_path.format) == (300, 200, "jpeg")
    assert from_str.uri == from_path.uri  # same content: uploaded once
    assert (from_file.width, from_file.height, from_file.format) == (7, 9, "gif")
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 2


async def test_a_file_is_uploaded_once_until_it_changes(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    """A file is known by its identity, size and CRC32: the same file twice is one upload; the
    same file rewritten in place (same size, same inode, maybe the same modification time) and
    a copy elsewhere are new uploads; equal bytes are one upload."""
    path = tmp_path / "a.jpg"
    first, second = _jpeg(300, 200), _jpeg(200, 300)
    assert len(first) == len(second)
    path.write_bytes(first)
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        before = await s.upload_image(path)
        again = await s.upload_image(path)
        path.write_bytes(second)  # in place: the same inode
        rewritten = await s.upload_image(path)
        copy = tmp_path / "copy.jpg"
        copy.write_bytes(second)
        copied = await s.upload_image(copy)
        from_bytes = await s.upload_image(second)
        from_bytes_again = await s.upload_image(bytearray(second))
    assert again.uri == before.uri
    assert (rewritten.width, rewritten.height) == (200, 300)
    assert len({before.uri, rewritten.uri, copied.uri, from_bytes.uri}) == 4
    assert from_bytes_again.uri == from_bytes.uri
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 4


async def test_bad_sources_fail_before_any_request(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    settings = jimeng_emulator.settings(max_upload_bytes=10_000)
    big = tmp_path / "big.png"
    big.write_bytes(png(8, 8, "x") + b"\0" * 20_000)
    cases: list[tuple[Any, str]] = [
        (big, "larger than the upload limit of 10000 bytes"),
        (b"", "empty"),
        (b"%PDF-1.4 not an image", "not a supported image"),
        (tmp_path / "missing.png", "cannot read"),
        (12345, "cannot upload a int"),
        (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 20_000), "larger than the upload limit"),
    ]
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        for source, message in cases:
            with pytest.raises(jm.UploadError, match=message):
                await s.upload_image(source)
    assert sum(jimeng_emulator.stats.requests.values()) == 0


async def test_signature_mismatch_is_a_clear_error_after_one_fresh_try(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    # Signing for the wrong AWS region is what a broken signer looks like to ImageX.
    settings = jimeng_emulator.settings(
        regions={"cn": {**_emulator_urls(jimeng_emulator), "aws_region": "us-east-1"}}
    )
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        with pytest.raises(jm.UploadError) as info:
            await s.upload_image(png(8, 8, "sig"))
    assert info.value.code == "UPLOAD_FAILED"
    assert info.value.reason in {"SignatureDoesNotMatch", "AccessDenied", "InvalidCredentialScope"}
    assert info.value.endpoint == "ApplyImageUpload"
    assert info.value.request_id  # ImageX's RequestId, to quote
    assert "ApplyImageUpload" in str(info.value)
    assert jimeng_emulator.stats.requests["get_upload_token"] == 2  # restarted once, then gave up


def _emulator_urls(emulator: Emulator) -> dict[str, str]:
    return {"base_url": emulator.url, "commerce_url": emulator.url, "imagex_url": emulator.url}


class _ChangingFile(io.BytesIO):
    """A file that changes between the checking pass and the upload pass."""

    def __init__(self, first: bytes, second: bytes) -> None:
        super().__init__(first)
        self._second = second
        self.seeks = 0

    def seek(self, offset: int, whence: int = 0) -> int:
        self.seeks += 1
        if self.seeks == 2:
            self.__init__(self._second, self._second)  # type: ignore[misc]
            self.seeks = 2
        return super().seek(offset, whence)


async def test_wrong_crc_is_refused(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    first = png(16, 16, "before")
    second = bytearray(first)
    second[-20] ^= 0xFF  # same size, different bytes
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.UploadError, match="upload refused") as info:
            await s.upload_image(_ChangingFile(first, bytes(second)))
    assert info.value.code == "UPLOAD_FAILED"
    assert info.value.reason == "upload"
    assert info.value.endpoint == "upload"
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 0


async def test_twelve_uploads_never_exceed_three_in_flight(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(slow_rate=1.0, slow_seconds=0.03, endpoints={"upload"})
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        refs: list[jm.ImageRef] = []

        async def one(i: int) -> None:
            refs.append(await s.upload_image(png(10 + i, 10, f"n{i}")))

        async with anyio.create_task_group() as group:
            for i in range(12):
                group.start_soon(one, i)
    assert len({r.uri for r in refs}) == 12
    assert jimeng_emulator.stats.requests["upload"] == 12
    assert jimeng_emulator.stats.max_in_flight[(jimeng_token, "upload")] == 3


async def test_same_bytes_concurrently_upload_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    data = png(20, 20, "twice")
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        refs: list[jm.ImageRef] = []

        async def one() -> None:
            refs.append(await s.upload_image(data))

        async with anyio.create_task_group() as group:
            group.start_soon(one)
            group.start_soon(one)
        again = await s.upload_image(bytearray(data))
    assert refs[0].uri == refs[1].uri == again.uri
    assert jimeng_emulator.stats.requests["ApplyImageUpload"] == 1
    assert jimeng_emulator.stats.requests["upload"] == 1


async def test_upload_retries_to_the_same_store_uri(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(error_rate=0.5, seed=7, endpoints={"upload"})
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=8)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        for i in range(4):
            await s.upload_image(png(9, 9 + i, f"retry{i}"))
    assert jimeng_emulator.stats.faults_injected["error"] > 0
    assert jimeng_emulator.stats.requests["ApplyImageUpload"] == 4  # never a fresh address
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 4


async def test_forty_megabytes_upload_in_bounded_memory(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    path = tmp_path / "large.png"
    with path.open("wb") as out:
        out.write(png(32, 32, "large"))
        block = os.urandom(1024 * 1024)
        for _ in range(40):
            out.write(block)
    size = path.stat().st_size
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        tracemalloc.start()
        try:
            ref = await s.upload_image(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert ref.size == size
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak / 1e6:.1f} MB"


async def test_refused_credentials_restart_the_flow_once(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.imagex.expire_next_credentials(1)
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        ref = await s.upload_image(png(12, 12, "stale"))
    assert jimeng_emulator.imagex.committed_image(jimeng_token, ref.uri) is not None
    assert jimeng_emulator.stats.requests["get_upload_token"] == 2
    assert jimeng_emulator.stats.requests["ApplyImageUpload"] == 2
    assert jimeng_emulator.stats.requests["CommitImageUpload"] == 1
