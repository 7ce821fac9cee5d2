"""Strict validation of generate request bodies and their `draft_content` (SHAPES.md).

`check_generate` either returns the job the body describes or raises `DraftError` naming the
first field at fault; the web API answers that with ret "2002".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..drafts import (
    IMAGE_MODELS,
    IMAGE_RESOLUTIONS,
    IMAGE_SIZES,
    MAX_BLEND_IMAGES,
    VIDEO_COMMERCE_INFO,
    VIDEO_FPS,
    VIDEO_MODELS,
    VIDEO_RATIOS,
    VIDEO_RESOLUTIONS,
)
from ..images import ImageHeader
from .config import JobKind

CommittedLookup = Callable[[str], ImageHeader | None]

#: Whole seconds from 4 to 15 s: the union of every 2026 video model's durations.
VIDEO_DURATIONS_MS = tuple(seconds * 1000 for seconds in range(4, 16))
#: Sizes outside the 1k/2k/4k table that the service also makes (nanobanana).
_EXTRA_SIZES = {("1k", 1024, 1024): ("1:1", 1)}
_VIDEO_SHORT_SIDE = {"720p": 720, "1080p": 1080}


class DraftError(ValueError):
    """A generate body is malformed; `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class JobSpec:
    """What one valid generate request asks for."""

    kind: JobKind
    generate_type: str  # "normal", "blend" or "video"
    model: str
    prompt: str
    width: int
    height: int
    seed: int
    image_uris: tuple[str, ...] = ()
    duration_ms: int = 0
    resolution: str = ""
    ratio: str = ""

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        """What a careless retry repeats: everything but the seed and the node ids."""
        return (
            self.kind,
            self.generate_type,
            self.model,
            self.prompt,
            self.width,
            self.height,
            self.image_uris,
            self.duration_ms,
            self.resolution,
            self.ratio,
        )


@dataclass(frozen=True)
class GenerateRequest:
    submit_id: str
    spec: JobSpec


# --- typed accessors that raise DraftError naming the field -------------------------------


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DraftError(path, "must be an object")
    return value


def _field(node: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in node:
        raise DraftError(f"{path}.{key}", "is required")
    return node[key]


def _str(node: Mapping[str, Any], key: str, path: str, *, non_empty: bool = False) -> str:
    value = _field(node, key, path)
    if not isinstance(value, str):
        raise DraftError(f"{path}.{key}", "must be a string")
    if non_empty and not value.strip():
        raise DraftError(f"{path}.{key}", "must not be empty")
    return value


def _int(node: Mapping[str, Any], key: str, path: str) -> int:
    value = _field(node, key, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DraftError(f"{path}.{key}", "must be an integer")
    return value


def _number(node: Mapping[str, Any], key: str, path: str) -> float:
    value = _field(node, key, path)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DraftError(f"{path}.{key}", "must be a number")
    return float(value)


def _bool(node: Mapping[str, Any], key: str, path: str) -> bool:
    value = _field(node, key, path)
    if not isinstance(value, bool):
        raise DraftError(f"{path}.{key}", "must be a boolean")
    return value


def _list(node: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = _field(node, key, path)
    if not isinstance(value, list):
        raise DraftError(f"{path}.{key}", "must be a list")
    return value


def _equal(node: Mapping[str, Any], key: str, path: str, expected: Any) -> None:
    value = _field(node, key, path)
    if value != expected or type(value) is not type(expected):
        raise DraftError(f"{path}.{key}", f"must be {json.dumps(expected)}")


def _json_string(node: Mapping[str, Any], key: str, path: str) -> Any:
    text = _str(node, key, path)
    try:
        return json.loads(text)
    except ValueError:
        raise DraftError(f"{path}.{key}", "must be a JSON string") from None


def _check_nodes(value: Any, path: str) -> None:
    """Every object of the draft tree carries a string "id" and a string "type"."""
    if isinstance(value, dict):
        for key in ("id", "type"):
            if not isinstance(value.get(key), str):
                raise DraftError(f"{path}.{key}", "every draft node needs a string id and type")
        for key, child in value.items():
            _check_nodes(child, f"{path}.{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _check_nodes(child, f"{path}[{index}]")


# --- the body -----------------------------------------------------------------------------


def check_generate(body: Any, *, aid: int, committed: CommittedLookup) -> GenerateRequest:
    """Validate a generate body for an account of `aid`; `committed` looks up its uploads."""
    body = _obj(body, "body")
    submit_id = _str(body, "submit_id", "body", non_empty=True)
    common = _obj(_field(body, "http_common_info", "body"), "http_common_info")
    if _int(common, "aid", "http_common_info") != aid:
        raise DraftError("http_common_info.aid", f"must be the region's aid {aid}")
    if not isinstance(_json_string(body, "metrics_extra", "body"), dict):
        raise DraftError("metrics_extra", "must be a JSON object string")
    extend = _obj(_field(body, "extend", "body"), "extend")
    root_model = _str(extend, "root_model", "extend", non_empty=True)

    draft = _obj(_json_string(body, "draft_content", "body"), "draft_content")
    _check_nodes(draft, "draft_content")
    path = "draft_content"
    _equal(draft, "type", path, "draft")
    for key in ("min_version", "version"):
        _str(draft, key, path, non_empty=True)
    _list(draft, "min_features", path)
    _bool(draft, "is_from_tsn", path)
    components = _list(draft, "component_list", path)
    if len(components) != 1:
        raise DraftError(f"{path}.component_list", "must hold exactly one component")
    component = _obj(components[0], f"{path}.component_list[0]")
    if _str(draft, "main_component_id", path) != component["id"]:
        raise DraftError(f"{path}.main_component_id", "must be the id of the component")

    spec = _check_component(component, f"{path}.component_list[0]", committed)
    if root_model != spec.model:
        raise DraftError("extend.root_model", "must equal the component's model")
    if spec.kind == "video":
        # The benefit type differs per model (2026); the rest of the commerce info is fixed.
        info = extend.get("m_video_commerce_info")
        listed = extend.get("m_video_commerce_info_list")
        if not _is_commerce_info(info) or listed != [info]:
            raise DraftError("extend.m_video_commerce_info", "must be the video commerce info")
    return GenerateRequest(submit_id, spec)


def _is_commerce_info(info: Any) -> bool:
    if not isinstance(info, dict) or set(info) != set(VIDEO_COMMERCE_INFO):
        return False
    benefit = info.get("benefit_type")
    fixed = {k: v for k, v in VIDEO_COMMERCE_INFO.items() if k != "benefit_type"}
    return (
        isinstance(benefit, str) and bool(benefit) and all(info[k] == v for k, v in fixed.items())
    )


def _option_node(node: Mapping[str, Any], path: str) -> None:
    """Today's `gen_option` or the older `history_option`: the service takes either."""
    for key in ("gen_option", "history_option"):
        if key in node:
            _obj(node[key], f"{path}.{key}")
            return
    raise DraftError(f"{path}.gen_option", "is required (or history_option)")


def _check_component(component: dict[str, Any], path: str, committed: CommittedLookup) -> JobSpec:
    kind = _str(component, "type", path)
    _str(component, "min_version", path, non_empty=True)
    _equal(component, "aigc_mode", path, "workbench")
    _obj(_field(component, "metadata", path), f"{path}.metadata")
    abilities = _obj(_field(component, "abilities", path), f"{path}.abilities")
    generate_type = _str(component, "generate_type", path)
    if kind == "image_base_component" and generate_type == "generate":
        return _check_text_to_image(abilities, f"{path}.abilities")
    if kind == "image_base_component" and generate_type == "blend":
        return _check_blend(abilities, f"{path}.abilities", committed)
    if kind == "video_base_component" and generate_type == "gen_video":
        return _check_video(abilities, f"{path}.abilities", committed)
    if kind not in ("image_base_component", "video_base_component"):
        raise DraftError(f"{path}.type", "must be image_base_component or video_base_component")
    raise DraftError(f"{path}.generate_type", f"is not valid for {kind}")


# --- images -------------------------------------------------------------------------------


def _check_core_param(core: dict[str, Any], path: str) -> tuple[str, str, int, int, int, str]:
    """(model, prompt, seed, width, height, ratio) of an image core_param."""
    model = _str(core, "model", path, non_empty=True)
    if model not in IMAGE_MODELS.values():
        raise DraftError(f"{path}.model", f"unknown image model {model!r}")
    prompt = _str(core, "prompt", path)
    _str(core, "negative_prompt", path)
    seed = _int(core, "seed", path)
    strength = _number(core, "sample_strength", path)
    if not 0.0 <= strength <= 1.0:
        raise DraftError(f"{path}.sample_strength", "must be between 0 and 1")
    intelligent = _bool(core, "intelligent_ratio", path)
    info_path = f"{path}.large_image_info"
    info = _obj(_field(core, "large_image_info", path), info_path)
    resolution = _str(info, "resolution_type", info_path)
    if resolution not in IMAGE_RESOLUTIONS:
        raise DraftError(f"{info_path}.resolution_type", f"must be one of {IMAGE_RESOLUTIONS}")
    width, height = _int(info, "width", info_path), _int(info, "height", info_path)
    matches = [
        (ratio, code)
        for (ratio, res), (w, h, code) in IMAGE_SIZES.items()
        if res == resolution and (w, h) == (width, height)
    ]
    extra = _EXTRA_SIZES.get((resolution, width, height))
    if extra is not None:
        matches = [extra]
    if not matches:
        raise DraftError(f"{info_path}.width", f"{width}x{height} is not a {resolution} size")
    ratio, code = matches[0]
    if intelligent:
        if "image_ratio" in core:
            raise DraftError(f"{path}.image_ratio", "must be omitted with intelligent_ratio")
    elif _int(core, "image_ratio", path) != code:
        raise DraftError(f"{path}.image_ratio", f"must be {code} for {width}x{height}")
    return model, prompt, seed, width, height, ratio


def _check_text_to_image(abilities: dict[str, Any], path: str) -> JobSpec:
    generate = _obj(_field(abilities, "generate", path), f"{path}.generate")
    _option_node(generate, f"{path}.generate")
    core_path = f"{path}.generate.core_param"
    core = _obj(_field(generate, "core_param", f"{path}.generate"), core_path)
    model, prompt, seed, width, height, ratio = _check_core_param(core, core_path)
    if not prompt.strip():
        raise DraftError(f"{core_path}.prompt", "must not be empty")
    return JobSpec("image", "normal", model, prompt, width, height, seed, ratio=ratio)


def _check_image_node(node: Any, path: str, committed: CommittedLookup) -> str:
    node = _obj(node, path)
    _equal(node, "type", path, "image")
    _str(node, "source_from", path, non_empty=True)
    _int(node, "platform_type", path)
    uri = _str(node, "image_uri", path, non_empty=True)
    if _str(node, "uri", path) != uri:
        raise DraftError(f"{path}.uri", "must equal image_uri")
    _str(node, "format", path, non_empty=True)
    width, height = _int(node, "width", path), _int(node, "height", path)
    header = committed(uri)
    if header is None:
        raise DraftError(f"{path}.image_uri", "is not an image this account uploaded")
    if (width, height) != (header.width, header.height):
        raise DraftError(f"{path}.width", f"{width}x{height} differs from the upload's size")
    return uri


def _check_blend(abilities: dict[str, Any], path: str, committed: CommittedLookup) -> JobSpec:
    _option_node(abilities, path)
    blend_path = f"{path}.blend"
    blend = _obj(_field(abilities, "blend", path), blend_path)
    core_path = f"{blend_path}.core_param"
    core = _obj(_field(blend, "core_param", blend_path), core_path)
    model, prompt, seed, width, height, ratio = _check_core_param(core, core_path)
    if not prompt.startswith("##"):
        raise DraftError(f"{core_path}.prompt", 'must begin with "##" in a blend')
    abilities_list = _list(blend, "ability_list", blend_path)
    if not 1 <= len(abilities_list) <= MAX_BLEND_IMAGES:
        raise DraftError(f"{blend_path}.ability_list", f"must hold 1 to {MAX_BLEND_IMAGES} images")
    uris: list[str] = []
    for index, entry in enumerate(abilities_list):
        entry_path = f"{blend_path}.ability_list[{index}]"
        entry = _obj(entry, entry_path)
        _equal(entry, "name", entry_path, "byte_edit")
        strength = _number(entry, "strength", entry_path)
        if not 0.0 <= strength <= 1.0:
            raise DraftError(f"{entry_path}.strength", "must be between 0 and 1")
        uri_list = _list(entry, "image_uri_list", entry_path)
        images = _list(entry, "image_list", entry_path)
        if len(images) != 1 or len(uri_list) != 1:
            raise DraftError(f"{entry_path}.image_list", "must hold exactly one image")
        uri = _check_image_node(images[0], f"{entry_path}.image_list[0]", committed)
        if uri_list[0] != uri:
            raise DraftError(f"{entry_path}.image_uri_list", "must hold the image's uri")
        uris.append(uri)
    placeholders = _list(blend, "prompt_placeholder_info_list", blend_path)
    indexes = [p.get("ability_index") if isinstance(p, dict) else None for p in placeholders]
    if indexes != list(range(len(abilities_list))):
        raise DraftError(
            f"{blend_path}.prompt_placeholder_info_list", "must give ability_index 0..n-1"
        )
    postedit = _obj(_field(blend, "postedit_param", blend_path), f"{blend_path}.postedit_param")
    _equal(postedit, "generate_type", f"{blend_path}.postedit_param", 0)
    return JobSpec(
        "image",
        "blend",
        model,
        prompt[2:].lstrip("#"),
        width,
        height,
        seed,
        image_uris=tuple(uris),
        ratio=ratio,
    )


# --- video --------------------------------------------------------------------------------


def video_size(resolution: str, ratio: str) -> tuple[int, int]:
    """Pixel size of a video: the short side is 720 or 1080, rounded to even numbers."""
    short = _VIDEO_SHORT_SIDE[resolution]
    a, b = (int(part) for part in ratio.split(":"))
    long_side = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long_side, short) if a >= b else (short, long_side)


def _check_video(abilities: dict[str, Any], path: str, committed: CommittedLookup) -> JobSpec:
    gen_path = f"{path}.gen_video"
    gen = _obj(_field(abilities, "gen_video", path), gen_path)
    _json_string(gen, "video_task_extra", gen_path)
    params_path = f"{gen_path}.text_to_video_params"
    params = _obj(_field(gen, "text_to_video_params", gen_path), params_path)
    model = _str(params, "model_req_key", params_path, non_empty=True)
    if model not in VIDEO_MODELS.values():
        raise DraftError(f"{params_path}.model_req_key", f"unknown video model {model!r}")
    _int(params, "priority", params_path)
    seed = _int(params, "seed", params_path)
    ratio = _str(params, "video_aspect_ratio", params_path)
    if ratio not in VIDEO_RATIOS:
        raise DraftError(f"{params_path}.video_aspect_ratio", f"must be one of {VIDEO_RATIOS}")
    inputs = _list(params, "video_gen_inputs", params_path)
    if len(inputs) != 1:
        raise DraftError(f"{params_path}.video_gen_inputs", "must hold exactly one input")
    input_path = f"{params_path}.video_gen_inputs[0]"
    entry = _obj(inputs[0], input_path)
    prompt = _str(entry, "prompt", input_path)
    _str(entry, "min_version", input_path, non_empty=True)
    _equal(entry, "video_mode", input_path, 2)
    _equal(entry, "fps", input_path, VIDEO_FPS)
    duration = _int(entry, "duration_ms", input_path)
    if duration not in VIDEO_DURATIONS_MS:
        raise DraftError(f"{input_path}.duration_ms", f"must be one of {VIDEO_DURATIONS_MS}")
    # Newer models take no resolution (the service picks 720p).
    resolution = _str(entry, "resolution", input_path) if "resolution" in entry else "720p"
    if resolution not in VIDEO_RESOLUTIONS:
        raise DraftError(f"{input_path}.resolution", f"must be one of {VIDEO_RESOLUTIONS}")
    uris = tuple(
        _check_image_node(entry[key], f"{input_path}.{key}", committed)
        for key in ("first_frame_image", "end_frame_image")
        if key in entry
    )
    if not prompt.strip() and not uris:
        raise DraftError(f"{input_path}.prompt", "must not be empty without a frame image")
    width, height = video_size(resolution, ratio)
    return JobSpec(
        "video",
        "video",
        model,
        prompt,
        width,
        height,
        seed,
        image_uris=uris,
        duration_ms=duration,
        resolution=resolution,
        ratio=ratio,
    )
