"""The checking pass over an upload source: the key a session's upload cache knows it by, its
CRC32 and the bytes kept for the integrity checks, whatever the chunks."""

from __future__ import annotations

import hashlib
import io
import os
import random
import zlib
from pathlib import Path

import httpx
import pytest

from jimeng_async import InvalidSourceError, sources
from jimeng_async.images import HEADER_BYTES, PNG_END, SUPPORTED_FORMATS, TAIL_BYTES
from jimeng_async.testing.media import png

pytestmark = pytest.mark.anyio

LIMIT = 10**8
IMAGE = png(40, 30, "sources")


def crc(data: bytes) -> str:
    return f"{zlib.crc32(data):08x}"


async def streamed(prepared: sources.PreparedUpload) -> bytes:
    return b"".join([chunk async for chunk in prepared.chunks()])


async def test_bytes_and_file_objects_are_known_by_their_sha256() -> None:
    async with httpx.AsyncClient() as client:
        from_bytes = await sources.prepare(IMAGE, max_bytes=LIMIT, client=client)
        from_file = await sources.prepare(io.BytesIO(IMAGE), max_bytes=LIMIT, client=client)
    for prepared in (from_bytes, from_file):
        assert prepared.key == "sha256:" + hashlib.sha256(IMAGE).hexdigest()
        assert (prepared.size, prepared.crc32) == (len(IMAGE), crc(IMAGE))
        assert await streamed(prepared) == IMAGE


async def test_a_path_is_known_by_its_identity_size_and_crc32(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(IMAGE)
    info = os.stat(path)
    async with httpx.AsyncClient() as client:
        prepared = await sources.prepare(path, max_bytes=LIMIT, client=client)
    identity = f"{info.st_dev}:{info.st_ino}:{info.st_mtime_ns}:{info.st_ctime_ns}"
    assert prepared.key == f"file:{identity}:{len(IMAGE)}:{crc(IMAGE)}"
    assert (prepared.name, prepared.size, prepared.crc32) == ("a.png", len(IMAGE), crc(IMAGE))
    assert await streamed(prepared) == IMAGE


async def test_a_downloaded_url_is_known_by_its_content_not_its_temporary_file() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=IMAGE, headers={"Content-Type": "image/png"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
        prepared = await sources.prepare("https://media.test/a.png", max_bytes=LIMIT, client=client)
    try:
        assert prepared.key == "sha256:" + hashlib.sha256(IMAGE).hexdigest()
        assert (prepared.name, prepared.size, prepared.crc32) == (
            "image URL",
            len(IMAGE),
            crc(IMAGE),
        )
        assert await streamed(prepared) == IMAGE
    finally:
        prepared.cleanup()


def test_the_digest_keeps_the_first_and_last_bytes_and_the_crc32_whatever_the_chunks() -> None:
    data = random.Random(7).randbytes(HEADER_BYTES + 6000)
    digest = sources._Digest("source", LIMIT, content_hash=False)
    assert digest.sha is None
    fed = 0
    sizes = (3, 2000, 5, TAIL_BYTES, HEADER_BYTES - 3000, 1500, 1, TAIL_BYTES + 1, 2400, 400)
    for size in sizes:
        digest.feed(data[fed : fed + size])
        fed += size
        assert digest.head == data[:fed][:HEADER_BYTES]
        assert digest.tail == data[:fed][-TAIL_BYTES:]
        assert digest.size == fed
        assert f"{digest.crc:08x}" == crc(data[:fed])
    hashed = sources._Digest("source", LIMIT)
    hashed.feed(data)
    assert hashed.sha is not None
    assert hashed.sha.hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_source_of_exactly_the_limit_passes_one_byte_more_is_refused() -> None:
    data = bytes(100)
    digest = sources._Digest("source", 100)
    digest.feed(data[:60])
    digest.feed(data[60:])
    assert digest.size == 100
    over = sources._Digest("source", 99)
    over.feed(data[:60])
    with pytest.raises(InvalidSourceError) as caught:
        over.feed(data[60:])
    assert (caught.value.field, caught.value.reason) == ("source", "too_large")
    assert caught.value.args[0].startswith("source: is larger than the upload limit of 99 bytes")


class _TextReader:
    """A seekable object whose read() gives text: refused while it is read."""

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0

    def seek(self, offset: int) -> int:
        return offset

    def read(self, size: int = -1) -> str:
        return "not bytes"


async def test_each_refusal_names_the_argument_its_reason_and_what_is_allowed() -> None:
    allowed = ", ".join(SUPPORTED_FORMATS)
    cases: list[tuple[object, int, str, str]] = [
        (b"", 100, "empty", "image: is empty"),
        (bytes(101), 100, "too_large", "image: is larger than the upload limit of 100 bytes"),
        (_TextReader(), 100, "source", "image: is not a binary source (it reads text)"),
    ]
    async with httpx.AsyncClient() as client:
        for source, limit, reason, text in cases:
            with pytest.raises(InvalidSourceError) as caught:
                await sources.prepare(source, max_bytes=limit, client=client, field="image")
            assert (caught.value.field, caught.value.reason) == ("image", reason)
            assert caught.value.args[0].startswith(text)
        with pytest.raises(InvalidSourceError) as caught:
            await sources.prepare(b"not an image", max_bytes=100, client=client, field="image")
        named = await sources.prepare(IMAGE, max_bytes=len(IMAGE), client=client)  # at the limit
    assert (caught.value.field, caught.value.reason) == ("image", "format")
    assert caught.value.allowed == allowed
    assert named.name == "image bytes"


def test_the_png_end_is_seen_wherever_the_chunks_split_it() -> None:
    end = len(IMAGE)
    assert IMAGE.endswith(PNG_END)
    for cut in range(end - len(PNG_END), end + 1):
        digest = sources._Digest("source", LIMIT)
        digest.feed(IMAGE[:cut])
        digest.feed(IMAGE[cut:] + b"trailing bytes")  # data after IEND is tolerated
        assert digest.png_end_seen, cut
    cut_short = sources._Digest("source", LIMIT)
    cut_short.feed(IMAGE[:-1])
    assert not cut_short.png_end_seen
