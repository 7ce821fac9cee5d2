"""The model registry: the PROTOCOL.md §5 tables as data, and its lookups."""

from __future__ import annotations

import pytest

import jimeng_async as jm
from jimeng_async import registry


def test_defaults_are_the_2026_models() -> None:
    assert registry.DEFAULT_IMAGE_MODEL == "jimeng-4.5"
    assert registry.DEFAULT_VIDEO_MODEL == "jimeng-video-3.5-pro"
    assert registry.IMAGE_MODELS["jimeng-4.5"].id == "high_aes_general_v40l"
    assert registry.VIDEO_MODELS["jimeng-video-3.5-pro"].durations == (5, 10, 12)


@pytest.mark.parametrize(
    ("alias", "durations", "resolution", "benefit"),
    [
        ("jimeng-video-3.5-pro", (5, 10, 12), False, "dreamina_video_seedance_15_pro"),
        ("jimeng-video-3.0", (5, 10), True, "basic_video_operation_vgfm_v_three"),
        ("jimeng-video-3.0-fast", (5, 10), True, "basic_video_operation_vgfm_v_three"),
        ("jimeng-video-3.0-pro", (5, 10), False, "basic_video_operation_vgfm_v_three"),
        ("jimeng-video-seedance-2.0", tuple(range(4, 16)), False, "dreamina_video_seedance_20_pro"),
        ("jimeng-video-seedance-2.0-fast", tuple(range(4, 16)), False, "dreamina_seedance_20_fast"),
        ("jimeng-video-veo3", (8,), False, "generate_video_veo3"),
        ("jimeng-video-veo3.1", (8,), False, "generate_video_veo3.1"),
        ("jimeng-video-sora2", (4, 8, 12), False, "generate_video_sora2"),
    ],
)
def test_video_model_rules(
    alias: str, durations: tuple[int, ...], resolution: bool, benefit: str
) -> None:
    model = registry.VIDEO_MODELS[alias]
    assert model.durations == durations
    assert model.sends_resolution is resolution
    assert model.benefit_type == benefit
    assert model.needs_browser_signature is alias.startswith("jimeng-video-seedance-2.0")


def test_models_by_region() -> None:
    us = {m.alias for m in jm.models(region="us")}
    cn = {m.alias for m in jm.models(region="cn")}
    hk = {m.alias for m in jm.models(region="hk")}
    assert {"nanobanana", "nanobananapro", "jimeng-4.5", "jimeng-video-3.5-pro"} <= us
    assert "jimeng-5.0" not in us
    assert "jimeng-video-seedance-2.0" not in us
    assert {"jimeng-5.0", "jimeng-3.1", "jimeng-video-seedance-2.0"} <= cn
    assert "nanobanana" not in cn
    assert "jimeng-video-sora2" not in cn
    assert {"jimeng-video-veo3", "jimeng-video-veo3.1", "jimeng-video-sora2"} <= hk
    assert "jimeng-2.1" not in {m.alias for m in jm.models()}
    withdrawn = {m.alias for m in jm.models(include_withdrawn=True) if m.withdrawn}
    assert withdrawn == {
        "jimeng-2.1",
        "jimeng-2.0-pro",
        "jimeng-2.0",
        "jimeng-1.4",
        "jimeng-xl-pro",
    }
    with pytest.raises(ValueError, match="allowed: cn, hk, jp, sg, us"):
        jm.models(region="eu")


def test_ids_are_unique_and_lookup_finds_alias_and_id() -> None:
    every = jm.models(include_withdrawn=True)
    assert len({m.id for m in every}) == len(every)
    for model in every:
        assert registry.lookup(model.alias) is model
        assert registry.lookup(model.id) is model
    assert registry.lookup("nope") is None


def test_sizes() -> None:
    assert registry.IMAGE_SIZES[("16:9", "2k")] == (2560, 1440, 3)
    assert registry.IMAGE_SIZES[("21:9", "4k")] == (6048, 2592, 108)
    assert len(registry.IMAGE_SIZES) == 24
    banana = registry.IMAGE_MODELS["nanobanana"]
    assert banana.size("1:1", "1k") == (1024, 1024, 1)
    assert banana.ratios == ("1:1",)
    assert registry.IMAGE_MODELS["jimeng-4.5"].size("3:2", "1k") == (1584, 1056, 7)


def test_estimated_cost() -> None:
    assert registry.estimated_cost("jimeng-4.5") >= 1
    assert registry.estimated_cost("jimeng-4.5", resolution="4k") > registry.estimated_cost(
        "jimeng-4.5", resolution="2k"
    )
    ten = registry.estimated_cost("jimeng-video-3.5-pro", duration=10)
    assert ten == 2 * registry.estimated_cost("jimeng-video-3.5-pro", duration=5)
    assert registry.estimated_cost("jimeng-video-veo3") == registry.estimated_cost(
        "jimeng-video-veo3", duration=8
    )
    with pytest.raises(ValueError, match="unknown model"):
        registry.estimated_cost("jimeng-9")
