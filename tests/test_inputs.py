"""User input validation: each refusal is an InvalidInputError naming field and allowed values."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from jimeng_async import drafts, inputs, registry
from jimeng_async.errors import InvalidInputError
from jimeng_async.inputs import (
    MAX_PROMPT_CHARS,
    MAX_SEED,
    ImageRequest,
    VideoRequest,
    check_image_count,
)

IMAGE_RATIOS_TEXT = "1:1, 4:3, 3:4, 16:9, 9:16, 3:2, 2:3, 21:9"


def refusal(cls: type[ImageRequest | VideoRequest], **kwargs: Any) -> InvalidInputError:
    """The error that building `cls` from `kwargs` raises, checked for both entry points."""
    with pytest.raises(InvalidInputError) as built:
        cls.build(**kwargs)
    with pytest.raises(InvalidInputError) as constructed:
        cls(**kwargs)
    assert str(built.value) == str(constructed.value)
    error = built.value
    assert not isinstance(error, ValidationError)
    assert error.__cause__ is None
    assert error.__suppress_context__
    return error


# --- defaults and accepted values -------------------------------------------------------------


def test_image_defaults() -> None:
    req = ImageRequest(prompt="a cat")
    assert req.model_dump() == {
        "prompt": "a cat",
        "model": "jimeng-4.5",
        "ratio": "1:1",
        "resolution": None,
        "negative_prompt": "",
        "sample_strength": 0.5,
        "seed": None,
        "intelligent_ratio": False,
        "region": None,
    }
    assert req.model_id == "high_aes_general_v40l"
    assert req.effective_resolution == "2k"
    assert req.size == (2048, 2048, 1)


def test_video_defaults() -> None:
    req = VideoRequest.build(prompt="waves")
    assert req.model_dump() == {
        "prompt": "waves",
        "model": "jimeng-video-3.5-pro",
        "ratio": "16:9",
        "resolution": None,
        "duration": None,
        "seed": None,
        "region": None,
    }
    assert req.model_id == "dreamina_ic_generate_video_model_vgfm_3.5_pro"
    assert req.duration_seconds == 5
    assert req.resolution_sent is None


@pytest.mark.parametrize(("ratio", "resolution"), list(drafts.IMAGE_SIZES))
def test_every_image_size_is_accepted(ratio: str, resolution: str) -> None:
    req = ImageRequest.build(prompt="p", ratio=ratio, resolution=resolution)
    assert req.size == drafts.IMAGE_SIZES[(ratio, resolution)]


@pytest.mark.parametrize(
    ("alias", "model_id"),
    [(m.alias, m.id) for m in registry.IMAGE_MODELS.values() if not m.withdrawn],
)
def test_image_aliases_resolve(alias: str, model_id: str) -> None:
    assert ImageRequest(prompt="p", model=alias).model_id == model_id


@pytest.mark.parametrize("model", [m for m in registry.IMAGE_MODELS.values() if m.withdrawn])
def test_withdrawn_image_models_are_known_and_refused(model: registry.ImageModel) -> None:
    for name in (model.alias, model.id):
        error = refusal(ImageRequest, prompt="p", model=name)
        assert error.field == "model"
        assert "withdrawn" in str(error)
        assert error.allowed is not None
        assert "jimeng-4.5" in error.allowed


@pytest.mark.parametrize(("alias", "model_id"), list(drafts.VIDEO_MODELS.items()))
def test_video_aliases_resolve(alias: str, model_id: str) -> None:
    assert VideoRequest(prompt="p", model=alias).model_id == model_id


@pytest.mark.parametrize(
    "raw", ["high_aes_general_v50", "high_aes_general_v30l:general_v3.0_18b", "future_model_v9"]
)
def test_raw_image_model_id_passes_through(raw: str) -> None:
    req = ImageRequest(prompt="p", model=raw)
    assert req.model == raw
    assert req.model_id == raw


def test_raw_video_model_id_passes_through() -> None:
    assert VideoRequest(prompt="p", model="dreamina_next").model_id == "dreamina_next"


@pytest.mark.parametrize("ratio", drafts.VIDEO_RATIOS)
@pytest.mark.parametrize("resolution", drafts.VIDEO_RESOLUTIONS)
@pytest.mark.parametrize("duration", drafts.VIDEO_DURATIONS)
def test_video_options_accepted(ratio: str, resolution: str, duration: int) -> None:
    req = VideoRequest(
        prompt="p", model="jimeng-video-3.0", ratio=ratio, resolution=resolution, duration=duration
    )
    assert (req.ratio, req.resolution_sent, req.duration_seconds) == (ratio, resolution, duration)


def test_bounds_are_inclusive() -> None:
    assert ImageRequest(prompt="p", sample_strength=0).sample_strength == 0.0
    assert ImageRequest(prompt="p", sample_strength=1).sample_strength == 1.0
    assert ImageRequest(prompt="p", seed=0).seed == 0
    assert VideoRequest(prompt="p", seed=MAX_SEED).seed == MAX_SEED
    assert len(ImageRequest(prompt="x" * MAX_PROMPT_CHARS).prompt) == MAX_PROMPT_CHARS
    padded = "  " + "x" * MAX_PROMPT_CHARS + "\n"
    assert ImageRequest(prompt=padded).prompt == "x" * MAX_PROMPT_CHARS


def test_requests_are_frozen() -> None:
    req = ImageRequest(prompt="a cat")
    with pytest.raises(ValidationError):
        req.prompt = "a dog"  # type: ignore[misc]
    assert req.prompt == "a cat"


# --- refusals -----------------------------------------------------------------------------------

IMAGE_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("prompt", {}, "non-empty text"),
    ("prompt", {"prompt": ""}, "non-empty text"),
    ("prompt", {"prompt": " \n\t "}, "non-empty text"),
    ("prompt", {"prompt": "x" * (MAX_PROMPT_CHARS + 1)}, f"at most {MAX_PROMPT_CHARS}"),
    ("prompt", {"prompt": 42}, "non-empty text"),
    ("model", {"model": "jimeng-video-3.0"}, "jimeng-4.0, jimeng-3.1"),
    ("model", {"model": "dreamina_ic_generate_video_model_vgfm_3.0"}, "nanobananapro"),
    ("model", {"model": "jimeng-2.1"}, "jimeng-4.5"),
    ("model", {"model": "jimeng-5.0", "region": "us"}, "jimeng-4.5, jimeng-4.1"),
    ("model", {"model": "nanobanana", "region": "cn"}, "jimeng-3.1"),
    ("ratio", {"model": "nanobanana", "ratio": "16:9"}, "1:1"),
    ("resolution", {"model": "nanobanana", "resolution": "2k"}, "1k"),
    ("model", {"model": "jimeng 4.0"}, "raw model id without spaces"),
    ("model", {"model": ""}, "raw model id without spaces"),
    ("model", {"model": "jimeng-9.9"}, "jimeng-4.0"),
    ("ratio", {"ratio": "5:4"}, IMAGE_RATIOS_TEXT),
    ("ratio", {"ratio": 16}, IMAGE_RATIOS_TEXT),
    ("resolution", {"resolution": "8k"}, "1k, 2k, 4k"),
    ("resolution", {"resolution": "720p"}, "1k, 2k, 4k"),
    ("negative_prompt", {"negative_prompt": "n" * (MAX_PROMPT_CHARS + 1)}, "at most"),
    ("sample_strength", {"sample_strength": -0.01}, "from 0 to 1"),
    ("sample_strength", {"sample_strength": 1.5}, "from 0 to 1"),
    ("sample_strength", {"sample_strength": math.nan}, "from 0 to 1"),
    ("sample_strength", {"sample_strength": "0.5"}, "from 0 to 1"),
    ("sample_strength", {"sample_strength": True}, "from 0 to 1"),
    ("seed", {"seed": -1}, f"from 0 to {MAX_SEED}"),
    ("seed", {"seed": MAX_SEED + 1}, f"from 0 to {MAX_SEED}"),
    ("seed", {"seed": 1.5}, "None or an integer"),
    ("seed", {"seed": True}, "None or an integer"),
    ("seed", {"seed": "7"}, "None or an integer"),
    ("intelligent_ratio", {"intelligent_ratio": "yes"}, "True or False"),
    ("intelligent_ratio", {"intelligent_ratio": 1}, "True or False"),
    ("colour", {"colour": "red"}, "prompt, model, ratio, resolution"),
]


@pytest.mark.parametrize(("field", "kwargs", "allowed"), IMAGE_REFUSALS)
def test_image_refusals(field: str, kwargs: dict[str, Any], allowed: str) -> None:
    data = {"prompt": "a cat", **kwargs} if field != "prompt" else kwargs
    error = refusal(ImageRequest, **data)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert error.allowed is not None
    assert allowed in error.allowed
    assert f"(allowed: {error.allowed})" in str(error)


VIDEO_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("prompt", {"prompt": "   "}, "non-empty text"),
    ("model", {"model": "jimeng-4.0"}, "jimeng-video-3.5-pro, jimeng-video-3.0-pro"),
    ("model", {"model": "high_aes_general_v40"}, "jimeng-video-2.0-pro"),
    ("model", {"model": "jimeng-video-sora2", "region": "cn"}, "jimeng-video-seedance-2.0"),
    ("model", {"model": "jimeng-video-seedance-2.0", "region": "us"}, "jimeng-video-3.5-pro"),
    ("ratio", {"ratio": "3:2"}, "16:9, 9:16, 1:1, 4:3, 3:4, 21:9"),
    ("resolution", {"resolution": "2k"}, "720p, 1080p"),
    ("resolution", {"resolution": "720p"}, "jimeng-video-3.0, jimeng-video-3.0-fast"),
    ("duration", {"duration": 7}, "5, 10, 12 (seconds)"),
    ("duration", {"duration": 0}, "5, 10, 12 (seconds)"),
    ("duration", {"model": "jimeng-video-3.0", "duration": 12}, "5, 10 (seconds)"),
    ("duration", {"model": "jimeng-video-seedance-2.0", "duration": 16}, "4 to 15"),
    ("duration", {"model": "jimeng-video-veo3", "duration": 5}, "8 (seconds)"),
    ("duration", {"model": "jimeng-video-sora2", "duration": 10}, "4, 8, 12"),
    ("duration", {"duration": "5"}, "whole seconds"),
    ("duration", {"duration": True}, "whole seconds"),
    ("seed", {"seed": -5}, "None or an integer"),
    ("negative_prompt", {"negative_prompt": "x"}, "prompt, model, ratio, resolution, duration"),
]


@pytest.mark.parametrize(("field", "kwargs", "allowed"), VIDEO_REFUSALS)
def test_video_refusals(field: str, kwargs: dict[str, Any], allowed: str) -> None:
    error = refusal(VideoRequest, **{"prompt": "waves", **kwargs})
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert error.allowed is not None
    assert allowed in error.allowed


def test_refusal_message_shape() -> None:
    error = refusal(ImageRequest, prompt="p", ratio="5:4")
    what = f"ratio: '5:4' is not allowed (allowed: {IMAGE_RATIOS_TEXT})"
    assert error.message == what
    assert str(error) == f"{what}. {InvalidInputError.hint}"
    assert isinstance(error, ValueError)


def test_cross_kind_alias_message_says_why() -> None:
    error = refusal(ImageRequest, prompt="p", model="jimeng-video-3.0")
    assert "is a video model, not an image model" in str(error)
    error = refusal(VideoRequest, prompt="p", model="jimeng-4.0")
    assert "is an image model, not a video model" in str(error)


def test_first_failing_field_is_reported() -> None:
    error = refusal(ImageRequest, prompt="", ratio="5:4", seed=-1)
    assert error.field == "prompt"
    error = refusal(ImageRequest, prompt="p", ratio="5:4", seed=-1)
    assert error.field == "ratio"


def test_long_values_are_shortened_in_messages() -> None:
    error = refusal(ImageRequest, prompt="p", ratio="9" * 500)
    assert len(error.message) < 200  # the value is cut; the next-step hint comes on top
    assert str(error) == f"{error.message}. {InvalidInputError.hint}"


@pytest.mark.parametrize("count", [1, 10])
def test_check_image_count_accepts(count: int) -> None:
    assert check_image_count(count) == count


@pytest.mark.parametrize("count", [0, 11])
def test_check_image_count_refuses(count: int) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_image_count(count)
    assert info.value.field == "images"
    what = f"images: {count} images given (allowed: 1 to 10 images)"
    assert info.value.message == what
    assert str(info.value) == f"{what}. {InvalidInputError.hint}"


def test_public_names() -> None:
    assert set(inputs.__all__) == {
        "MAX_PROMPT_CHARS",
        "MAX_SEED",
        "ImageRequest",
        "VideoRequest",
        "check_image_count",
        "find_model",
    }


# --- properties ---------------------------------------------------------------------------------


@given(st.floats(min_value=0.0, max_value=1.0))
def test_sample_strength_inside_bounds_is_kept(value: float) -> None:
    assert ImageRequest(prompt="p", sample_strength=value).sample_strength == value


@given(st.floats(allow_nan=True, allow_infinity=True).filter(lambda v: not 0.0 <= v <= 1.0))
def test_sample_strength_outside_bounds_is_refused(value: float) -> None:
    with pytest.raises(InvalidInputError) as info:
        ImageRequest(prompt="p", sample_strength=value)
    assert info.value.field == "sample_strength"


@given(st.text(max_size=300).filter(lambda text: text.strip() != ""))
def test_prompts_with_text_are_kept_stripped(text: str) -> None:
    assert ImageRequest(prompt=text).prompt == text.strip()
    assert VideoRequest(prompt=text).prompt == text.strip()


@given(st.text(alphabet=" \t\n\r\x1c\x1f\u3000\u00a0", max_size=50))
def test_blank_prompts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ImageRequest(prompt=text)
    assert info.value.field == "prompt"


@given(st.integers())
def test_seed_bounds(seed: int) -> None:
    if 0 <= seed <= MAX_SEED:
        assert VideoRequest(prompt="p", seed=seed).seed == seed
    else:
        with pytest.raises(InvalidInputError) as info:
            VideoRequest(prompt="p", seed=seed)
        assert info.value.field == "seed"
