"""The 2026 protocol end to end against the emulator: every registry model, the request signer,
the credit receipt's fresh balance read, and the optional calls that must not block."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import jimeng_async as jm
from jimeng_async import registry
from jimeng_async.testing import Emulator
from jimeng_async.testing.media import png

pytestmark = pytest.mark.anyio

#: A region where each model is offered and one where it is not (None: offered everywhere).
REGION_ORDER = ("cn", "us", "hk", "jp", "sg")


def home_and_away(model: registry.Model) -> tuple[str, str | None]:
    home = next(r for r in REGION_ORDER if r in model.regions)
    away = next((r for r in REGION_ORDER if r not in model.regions), None)
    return home, away


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(time_scale=0.002, seed=8) as emulator:
        yield emulator


async def signer(request: jm.SignableRequest) -> jm.RequestSignature:
    assert "Cookie" not in request.headers
    assert "Sign" not in request.headers
    return jm.RequestSignature(params={"msToken": "test-ms", "a_bogus": "test-ab"})


@pytest.mark.parametrize("model", registry.models(), ids=lambda m: m.alias)
async def test_every_model_is_submitted_where_offered_and_refused_elsewhere(
    emu: Emulator, model: registry.Model
) -> None:
    home, away = home_and_away(model)
    token = emu.add_account(home, credits=1000)
    settings = emu.settings(request_signer=signer)
    async with jm.JimengSession(token, settings=settings) as s:
        if isinstance(model, registry.ImageModel):
            result = await s.generate_image("a lighthouse", model=model.alias)
            assert len(result.images) >= 1
        else:
            duration = model.durations[-1]
            video = await s.generate_video("a lighthouse", model=model.alias, duration=duration)
            assert video.video.duration == pytest.approx(duration)
    assert emu.stats.requests["generate"] == 1
    if away is None:
        return
    before = sum(emu.stats.requests.values())
    stranger = emu.add_account(away, credits=1000)
    async with jm.JimengSession(stranger, settings=settings) as s:
        submit = s.submit_image if isinstance(model, registry.ImageModel) else s.submit_video
        with pytest.raises(jm.InvalidInputError) as info:
            await submit("a lighthouse", model=model.alias)
    assert info.value.field == "model"
    assert f"not offered in region {away}" in str(info.value)
    assert info.value.allowed is not None
    assert registry.DEFAULT_IMAGE_MODEL in info.value.allowed or "video" in info.value.allowed
    assert sum(emu.stats.requests.values()) == before  # refused before any request


async def test_seedance_without_a_signer_fails_before_sending(emu: Emulator) -> None:
    token = emu.add_account("cn", credits=1000)
    async with jm.JimengSession(token, settings=emu.settings()) as s:
        with pytest.raises(jm.SignerRequiredError) as info:
            await s.submit_video("a dancer", model="jimeng-video-seedance-2.0", duration=6)
    text = str(info.value)
    assert "msToken" in text
    assert "request_signer" in text
    assert sum(emu.stats.requests.values()) == 0


async def test_session_signer_signs_generate_with_fresh_values(emu: Emulator) -> None:
    seen: list[jm.SignableRequest] = []

    async def recording(request: jm.SignableRequest) -> jm.RequestSignature:
        seen.append(request)
        return jm.RequestSignature(params={"msToken": f"m{len(seen)}", "a_bogus": "b"})

    token = emu.add_account("cn", credits=1000)
    async with jm.JimengSession(token, settings=emu.settings(), request_signer=recording) as s:
        result = await s.generate_video("a dancer", model="jimeng-video-seedance-2.0-fast")
    assert result.video.duration == pytest.approx(5)
    assert [r.endpoint for r in seen] == ["generate"]  # only the guarded call is signed
    assert seen[0].method == "POST"
    assert seen[0].url.endswith("/mweb/v1/aigc_draft/generate")
    assert seen[0].params["da_version"] == "3.3.9"
    assert b"dreamina_seedance_40" in seen[0].body


async def test_receive_credits_reads_the_balance_again(emu: Emulator) -> None:
    token = emu.add_account("cn", credits=0)
    async with jm.JimengSession(token, settings=emu.settings()) as s:
        receipt = await s.receive_credits()
        assert emu.stats.requests["user_credit"] == 1  # the fresh read after the receipt
        assert receipt.received > 0
        assert receipt.total == emu.credits_of(token) == receipt.received
        again = await s.receive_credits()
    assert again.received == 0
    assert again.total == receipt.total
    assert emu.stats.requests["user_credit"] == 2


async def test_content_check_refuses_a_risky_input_before_generating(emu: Emulator) -> None:
    token = emu.add_account("cn", credits=1000)
    async with jm.JimengSession(token, settings=emu.settings()) as s:
        fine = await s.upload_image(png(64, 48, "fine"))
        risky = await s.upload_image(png(64, 48, "risky"))
        emu.mark_risky(risky.uri)
        with pytest.raises(jm.ContentFilteredError, match=r"images\[1\]"):
            await s.submit_image("blend", images=[fine, risky])
        with pytest.raises(jm.ContentFilteredError, match="end_frame"):
            await s.submit_video("zoom", first_frame=fine, end_frame=risky)
    assert emu.stats.requests["algo_proxy"] == 4
    assert emu.stats.requests["generate"] == 0


async def test_content_check_can_be_turned_off(emu: Emulator) -> None:
    token = emu.add_account("cn", credits=1000)
    async with jm.JimengSession(token, settings=emu.settings(content_check=False)) as s:
        result = await s.generate_image("blend", images=[png(64, 48, "a")])
    assert len(result.images) == 4
    assert emu.stats.requests["algo_proxy"] == 0


@pytest.mark.parametrize("hq", [True, False])
async def test_video_download_uses_the_high_quality_url(
    emu: Emulator, tmp_path: Path, hq: bool
) -> None:
    token = emu.add_account("cn", credits=1000)
    async with jm.JimengSession(token, settings=emu.settings(hq_video_url=hq)) as s:
        video = await s.generate_video("zoom", first_frame=png(64, 36, "f"))
        paths = await video.save(tmp_path)
    assert paths[0].read_bytes()[4:8] == b"ftyp"
    assert video.video.item_id is not None
    assert emu.stats.requests["get_local_item_list"] == (1 if hq else 0)


async def test_readme_flows_pass_an_emulator_that_wants_app_version_8_4_0(
    tmp_path: Path,
) -> None:
    async with Emulator(time_scale=0.002, seed=3, min_app_version="8.4.0") as strict:
        token = strict.add_account("cn", credits=0)
        async with jm.JimengSession(token, settings=strict.settings()) as s:
            await s.account_info()
            assert (await s.credits()).total == 0
            assert (await s.receive_credits()).total > 0
            image = await s.generate_image("a fox", ratio="16:9", resolution="2k")
            blend = await s.generate_image("at night", images=[png(64, 48, "day")])
            video = await s.generate_video("waves", first_frame=png(64, 36, "first"))
            await image.save(tmp_path)
            await video.save(tmp_path)
        assert len(image.images) == len(blend.images) == 4
        us = strict.add_account("us", credits=100)
        async with jm.JimengSession(us, settings=strict.settings()) as s:
            banana = await s.generate_image("a fox", model="nanobanana")
        assert banana.images[0].width == 1024

        old = strict.add_account("cn", credits=100)
        async with jm.JimengSession(old, settings=strict.settings(app_version="5.8.0")) as s:
            with pytest.raises(jm.PermissionDeniedError) as info:
                await s.account_info()
    assert info.value.context["ret"] == "3018"
    assert "JIMENG_APP_VERSION" in str(info.value)
    assert info.value.context["request_id"]


async def test_service_risk_control_is_a_risk_control_error_and_not_retried(emu: Emulator) -> None:
    async def signs_nothing(request: jm.SignableRequest) -> None:
        return None

    token = emu.add_account("cn", credits=1000)
    async with jm.JimengSession(token, settings=emu.settings(), request_signer=signs_nothing) as s:
        with pytest.raises(jm.RiskControlError) as info:
            await s.submit_video("a dancer", model="jimeng-video-seedance-2.0")
    assert info.value.context["ret"] in ("1019", "4013")
    assert "request_signer" in str(info.value)
    assert emu.stats.requests["generate"] == 1
    assert emu.credits_of(token) == 1000
