"""Result files: signed CDN URLs, real PNG bytes per prompt, tiny MP4s, expiry."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from test_emulator_web import image_body, ok, video_body

from jimeng_async.images import probe
from jimeng_async.testing import EmulatorConfig, media
from jimeng_async.testing.server import Emulator

pytestmark = pytest.mark.anyio

CONFIG = EmulatorConfig(web_latency=(0.0, 0.0))
EPSILON = 1e-6  # past a phase boundary despite float rounding


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(time_scale=1.0, seed=11, config=CONFIG) as emu:
        emu.freeze_clock()
        yield emu


async def finished(
    emulator: Emulator, client: httpx.AsyncClient, token: str, body: dict[str, object]
) -> dict[str, object]:
    data = await ok(client, token, "generate", body)
    history_id = data["aigc_data"]["history_record_id"]
    emulator.advance(emulator.records[history_id].phases.finish + EPSILON)
    records = await ok(client, token, "get_history_by_ids", {"history_ids": [history_id]})
    record: dict[str, object] = records[history_id]
    assert record["status"] == 50
    return record


def image_urls(record: dict[str, object]) -> list[str]:
    items = record["item_list"]
    assert isinstance(items, list)
    return [item["image"]["large_images"][0]["image_url"] for item in items]


def decode_png_pixels(data: bytes) -> bytes:
    """The raw scanlines of a PNG written by media.png (filter 0, one IDAT)."""
    (length,) = struct.unpack(">I", data[33:37])
    assert data[37:41] == b"IDAT"
    return zlib.decompress(data[41 : 41 + length])


async def test_images_are_real_pngs_that_differ_per_prompt(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    cats = await finished(
        emulator, client, token, image_body("a cat", size=(2560, 1440, 3), resolution="2k")
    )
    dogs = await finished(emulator, client, token, image_body("a dog"))
    cat_files = [await client.get(url) for url in image_urls(cats)]
    dog_file = await client.get(image_urls(dogs)[0])
    for response in [*cat_files, dog_file]:
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert int(response.headers["content-length"]) == len(response.content)
    header = probe(cat_files[0].content)
    assert (header.format, header.width, header.height) == ("png", 64, 36)
    assert (probe(dog_file.content).width, probe(dog_file.content).height) == (64, 64)
    assert len({r.content for r in cat_files}) == 4  # one picture per item
    cat_pixels = decode_png_pixels(cat_files[0].content)
    assert cat_pixels != decode_png_pixels(dog_file.content)
    assert len(cat_pixels) == 36 * (1 + 64 * 3)
    again = await client.get(image_urls(cats)[0])
    assert again.content == cat_files[0].content


async def test_video_is_an_mp4_with_a_cover(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=10)
    record = await finished(emulator, client, token, video_body("a storm"))
    items = record["item_list"]
    assert isinstance(items, list)
    video = items[0]["video"]
    response = await client.get(video["transcoded_video"]["origin"]["video_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    size, kind = struct.unpack(">I4s", response.content[:8])
    assert kind == b"ftyp"
    assert response.content[8:12] == b"isom"
    assert response.content[size + 4 : size + 8] == b"moov"
    cover = await client.get(video["thumbnail_url"])
    assert probe(cover.content).format == "png"


async def test_expired_and_forged_urls_are_refused(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    url = image_urls(await finished(emulator, client, token, image_body("a boat")))[0]
    assert (await client.get(url)).status_code == 200
    forged = url.replace("/0.png", "/1.png")
    assert (await client.get(forged)).status_code == 403
    query = parse_qs(urlsplit(url).query)
    later = url.replace(query["x-expires"][0], str(int(query["x-expires"][0]) + 100))
    assert (await client.get(later)).status_code == 403
    unsigned = url.split("?")[0]
    assert (await client.get(unsigned)).status_code == 403
    emulator.advance(3601)
    expired = await client.get(url)
    assert expired.status_code == 403
    assert "Traceback" not in expired.text


def test_media_helpers() -> None:
    assert media.preview_size(5120, 2880) == (64, 36)
    assert media.preview_size(936, 1664) == (36, 64)
    assert media.preview_size(10, 20) == (10, 20)
    picture = media.png(8, 4, "key")
    assert probe(picture).width == 8
    assert picture == media.png(8, 4, "key")
    assert picture != media.png(8, 4, "other key")
    movie = media.mp4(1280, 720, 5000)
    assert movie[4:8] == b"ftyp"
    assert movie.endswith(b"jimeng-emulator")
    assert struct.pack(">I", 5000) in movie
