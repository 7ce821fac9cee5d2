"""Saving results: refused links never show their signature; unattached results say why."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import jimeng_async as jm
from jimeng_async.auth import redact_url
from jimeng_async.metrics import Metrics
from jimeng_async.models import Asset, AssetFields
from jimeng_async.results import Downloader
from jimeng_async.transport import RetryPolicy, StreamBounds

pytestmark = pytest.mark.anyio


def test_redact_url_drops_the_query() -> None:
    assert redact_url("https://cdn.test/a.png?x-signature=abc") == "https://cdn.test/a.png?…"
    assert redact_url("https://cdn.test/a.png") == "https://cdn.test/a.png"


async def test_plain_http_result_link_is_refused_without_its_signature(tmp_path: Path) -> None:
    result = jm.ImageResult(
        history_id="1", images=[jm.Asset(url="http://cdn.example.test/a.png?x-signature=SECRET")]
    )
    async with httpx.AsyncClient() as client:
        result.attach(
            Downloader(
                client,
                concurrency=2,
                policy=RetryPolicy(),
                metrics=Metrics(),
                bounds=StreamBounds(connect=5, read=5, stall=5),
            )
        )
        with pytest.raises(jm.ConfigurationError, match="https") as info:
            await result.save(tmp_path)
    assert "SECRET" not in str(info.value)
    assert not any(tmp_path.iterdir())  # noqa: ASYNC240 (a tiny listing)


async def test_unattached_result_cannot_save(tmp_path: Path) -> None:
    result = jm.VideoResult(history_id="2", video=jm.Asset(url="https://cdn.test/v.mp4"))
    with pytest.raises(jm.JimengError, match="open session"):
        await result.save(tmp_path)


async def test_upload_from_a_plain_http_url_is_refused_without_its_query(
    jimeng_emulator: object,
) -> None:
    async with jm.JimengSession("a" * 32) as s:
        with pytest.raises(jm.UploadError, match="https") as info:
            await s.upload_image("http://images.example.test/a.png?token=SECRET")
    assert "SECRET" not in str(info.value)


def test_a_records_asset_fields_are_the_assets_fields_in_order_with_its_defaults() -> None:
    """`AssetFields` is `Asset` as a plain tuple (issue #15): the two must not drift apart."""
    fields = Asset.model_fields
    assert AssetFields._fields == tuple(fields)
    assert AssetFields._field_defaults == {
        name: field.default for name, field in fields.items() if not field.is_required()
    }
    full = AssetFields("u", 1, 2, "png", 3.0, "c", "i", "video")
    assert full.asset() == Asset(**full._asdict())
    assert tuple(full.asset().model_dump().values()) == full
