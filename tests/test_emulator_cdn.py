"""Result files: signed CDN URLs, PNGs and H.264 MP4s true to their records, expiry."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import httpx
import pytest
from PIL import Image, ImageDraw
from test_emulator_web import image_body, ok, video_body

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


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def test_images_are_pngs_at_the_claimed_size_that_differ_per_prompt(
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
    cat = open_png(cat_files[0].content)
    assert (cat.format, cat.size) == ("PNG", (2560, 1440))
    claimed: Any = cats["item_list"][0]["image"]["large_images"][0]  # type: ignore[index]
    assert cat.size == (claimed["width"], claimed["height"])
    assert open_png(dog_file.content).size == (2048, 2048)
    assert len({r.content for r in cat_files}) == 4  # one picture per item (its label differs)
    assert cat.convert("RGB").getpixel((0, 0)) != open_png(dog_file.content).convert(
        "RGB"
    ).getpixel((0, 0))
    renders = emulator.media.renders
    again = await client.get(image_urls(cats)[0])
    assert again.content == cat_files[0].content
    assert emulator.media.renders == renders  # served from the cache


async def test_images_show_the_prompt_and_job_id(
    emulator: Emulator, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    original = ImageDraw.ImageDraw.text

    def spy(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kwargs: Any) -> None:
        written.append(str(text))
        original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    token = emulator.add_account(credits=10)
    record = await finished(emulator, client, token, image_body("a lighthouse at dawn"))
    response = await client.get(image_urls(record)[0])
    assert response.status_code == 200
    assert "a lighthouse at dawn" in written
    assert f"job {record['id']}" in written


async def test_4k_images_are_fast_and_small(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=10)
    body = image_body("a wide valley", size=(6048, 2592, 108), resolution="4k")
    record = await finished(emulator, client, token, body)
    response = await client.get(image_urls(record)[0])
    assert open_png(response.content).size == (6048, 2592)
    assert len(response.content) < 2 * 1024 * 1024


async def test_video_is_an_h264_mp4_at_the_claimed_size_and_duration(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    body = video_body("a storm", duration_ms=10000, resolution="720p", ratio="9:16")
    record = await finished(emulator, client, token, body)
    items = record["item_list"]
    assert isinstance(items, list)
    video = items[0]["video"]
    origin = video["transcoded_video"]["origin"]
    response = await client.get(origin["video_url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (
            (stream.codec_context.width, stream.codec_context.height)
            == (
                origin["width"],
                origin["height"],
            )
            == (720, 1280)
        )
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(origin["duration"], abs=0.3)
        frames = sum(1 for _ in container.decode(stream))
        assert frames >= 1
    cover = await client.get(video["thumbnail_url"])
    assert open_png(cover.content).format == "PNG"


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
    assert media.cover_size(5120, 2880) == (640, 360)
    assert media.cover_size(10, 20) == (10, 20)
    picture = media.render_png(80, 40, prompt="p", job_id="1", label="x")
    assert open_png(picture).size == (80, 40)
    assert picture == media.render_png(80, 40, prompt="p", job_id="1", label="x")
    assert picture != media.render_png(80, 40, prompt="p", job_id="2", label="x")
    movie = media.render_mp4(64, 48, 2000, prompt="p", job_id="1")
    with av.open(io.BytesIO(movie)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.duration is not None
        assert container.duration / av.time_base == pytest.approx(2.0, abs=0.3)
