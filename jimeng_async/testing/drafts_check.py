"""Validation of generate request bodies and their `draft_content` (PROTOCOL.md §5).

As strict as the service where it is strict (known models offered in the region, sizes and
durations each model takes, uploads owned by the account, the Seedance 2.0 guard) and as
tolerant where real clients differ (option nodes, optional seed and negative prompt, image
nodes with 0 / "" metadata, `resolution` only where a model takes it). `check_generate` either
returns the job the body describes or raises `DraftError` naming the first field at fault, with
the ret code the service answers (2002 bad parameters, 2003 model unavailable, 1019 risk control).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .config import JobKind
from .probe import ImageInfo
from .tables import (
    DEFAULT_VIDEO_RESOLUTION,
    IMAGE_MODEL_REGIONS,
    IMAGE_RESOLUTIONS,
    MAX_BLEND_IMAGES,
    NANOBANANA,
    NANOBANANA_SIZE,
    VIDEO_COMMERCE_FIXED,
    VIDEO_FPS,
    VIDEO_MODELS,
    VIDEO_RATIOS,
    VIDEO_RESOLUTIONS,
    WITHDRAWN_IMAGE_MODELS,
    Region,
    image_size_matches,
    video_size,
)

CommittedLookup = Callable[[str], ImageInfo | None]

BAD_PARAMETERS = "2002"
MODEL_UNAVAILABLE = "2003"
RISK_CONTROL = "1019"
_OPTION_NODES = ("gen_option", "history_option")


class DraftError(ValueError):
    """A generate body is refused; `field` names where, `ret` is the service's answer code."""

    def __init__(self, field: str, message: str, *, ret: str = BAD_PARAMETERS) -> None:
        self.field = field
        self.ret = ret
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Context:
    """What a generate body is checked against: the account's region, uploads and guard."""

    region: Region
    committed: CommittedLookup
    guard_passed: bool = False  # msToken and a_bogus were on the query


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


def check_generate(body: Any, ctx: Context) -> GenerateRequest:
    """Validate a generate body for an account of `ctx.region`, with its uploads and guard."""
    body = _obj(body, "body")
    aid = ctx.region.aid
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

    spec = _check_component(component, f"{path}.component_list[0]", ctx)
    if root_model != spec.model:
        raise DraftError("extend.root_model", "must equal the component's model")
    if spec.kind == "video":
        expected = {**VIDEO_COMMERCE_FIXED, "benefit_type": VIDEO_MODELS[spec.model].benefit_type}
        for key, wanted in (
            ("m_video_commerce_info", expected),
            ("m_video_commerce_info_list", [expected]),
        ):
            if extend.get(key) != wanted:
                raise DraftError(
                    f"extend.{key}",
                    f"must be the video commerce info with benefit_type "
                    f"{expected['benefit_type']!r} for {spec.model}",
                )
    return GenerateRequest(submit_id, spec)


def _check_component(component: dict[str, Any], path: str, ctx: Context) -> JobSpec:
    kind = _str(component, "type", path)
    _str(component, "min_version", path, non_empty=True)
    _equal(component, "aigc_mode", path, "workbench")
    _obj(_field(component, "metadata", path), f"{path}.metadata")
    abilities = _obj(_field(component, "abilities", path), f"{path}.abilities")
    generate_type = _str(component, "generate_type", path)
    if kind == "image_base_component" and generate_type == "generate":
        return _check_text_to_image(abilities, f"{path}.abilities", ctx)
    if kind == "image_base_component" and generate_type == "blend":
        return _check_blend(abilities, f"{path}.abilities", ctx)
    if kind == "video_base_component" and generate_type == "gen_video":
        return _check_video(abilities, f"{path}.abilities", ctx)
    if kind not in ("image_base_component", "video_base_component"):
        raise DraftError(f"{path}.type", "must be image_base_component or video_base_component")
    raise DraftError(f"{path}.generate_type", f"is not valid for {kind}")


def _check_offered(model: str, offered_in: frozenset[str], region: Region, path: str) -> None:
    if region.name not in offered_in:
        raise DraftError(
            path,
            f"model {model!r} is not offered in region {region.name} "
            f"(offered in: {', '.join(sorted(offered_in))})",
            ret=MODEL_UNAVAILABLE,
        )


def _option_node(holders: list[tuple[dict[str, Any], str]]) -> None:
    """One of gen_option (current clients) or history_option (older ones) must be an object."""
    for node, path in holders:
        for key in _OPTION_NODES:
            if key in node:
                _obj(node[key], f"{path}.{key}")
                return
    where = holders[0][1]
    raise DraftError(f"{where}.gen_option", "is required (or history_option from older clients)")


# --- images -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Core:
    model: str
    prompt: str
    seed: int
    width: int
    height: int
    ratio: str


def _check_core_param(core: dict[str, Any], path: str, region: Region) -> _Core:
    """The model, prompt, seed and size of an image core_param."""
    model = _str(core, "model", path, non_empty=True)
    if model in WITHDRAWN_IMAGE_MODELS:
        raise DraftError(
            f"{path}.model", f"model {model!r} was withdrawn by the service", ret=MODEL_UNAVAILABLE
        )
    offered_in = IMAGE_MODEL_REGIONS.get(model)
    if offered_in is None:
        raise DraftError(f"{path}.model", f"unknown image model {model!r}")
    _check_offered(model, offered_in, region, f"{path}.model")
    prompt = _str(core, "prompt", path)
    if "negative_prompt" in core:  # the service fills in what a client omits
        _str(core, "negative_prompt", path)
    seed = _int(core, "seed", path) if "seed" in core else 0
    strength = _number(core, "sample_strength", path)
    if not 0.0 <= strength <= 1.0:
        raise DraftError(f"{path}.sample_strength", "must be between 0 and 1")
    intelligent = _bool(core, "intelligent_ratio", path) if "intelligent_ratio" in core else False
    info_path = f"{path}.large_image_info"
    info = _obj(_field(core, "large_image_info", path), info_path)
    resolution = _str(info, "resolution_type", info_path)
    if resolution not in IMAGE_RESOLUTIONS:
        raise DraftError(f"{info_path}.resolution_type", f"must be one of {IMAGE_RESOLUTIONS}")
    width, height = _int(info, "width", info_path), _int(info, "height", info_path)
    if model == NANOBANANA:
        if (width, height) != NANOBANANA_SIZE:
            raise DraftError(
                f"{info_path}.width",
                f"{width}x{height}: model {model!r} makes only "
                f"{NANOBANANA_SIZE[0]}x{NANOBANANA_SIZE[1]}",
            )
        matches = [("1:1", 1)]
    else:
        matches = image_size_matches(resolution, width, height)
    if not matches:
        raise DraftError(
            f"{info_path}.width", f"{width}x{height} is not a {resolution} size of any ratio"
        )
    if intelligent:
        if "image_ratio" in core:
            raise DraftError(f"{path}.image_ratio", "must be omitted with intelligent_ratio")
        ratio = matches[0][0]
    else:
        code = _int(core, "image_ratio", path)
        fitting = [ratio for ratio, known in matches if known == code]
        if not fitting:
            wanted = " or ".join(str(known) for _, known in matches)
            raise DraftError(f"{path}.image_ratio", f"must be {wanted} for {width}x{height}")
        ratio = fitting[0]
    return _Core(model, prompt, seed, width, height, ratio)


def _check_text_to_image(abilities: dict[str, Any], path: str, ctx: Context) -> JobSpec:
    generate_path = f"{path}.generate"
    generate = _obj(_field(abilities, "generate", path), generate_path)
    _option_node([(generate, generate_path), (abilities, path)])
    core_path = f"{generate_path}.core_param"
    core = _obj(_field(generate, "core_param", generate_path), core_path)
    c = _check_core_param(core, core_path, ctx.region)
    if not c.prompt.strip():
        raise DraftError(f"{core_path}.prompt", "must not be empty")
    return JobSpec("image", "normal", c.model, c.prompt, c.width, c.height, c.seed, ratio=c.ratio)


def _check_image_node(node: Any, path: str, committed: CommittedLookup) -> str:
    """An input image node; real clients send width/height 0 and format "" (looked up)."""
    node = _obj(node, path)
    _equal(node, "type", path, "image")
    _str(node, "source_from", path, non_empty=True)
    _int(node, "platform_type", path)
    uri = _str(node, "image_uri", path, non_empty=True)
    if _str(node, "uri", path) != uri:
        raise DraftError(f"{path}.uri", "must equal image_uri")
    _str(node, "format", path)
    width, height = _int(node, "width", path), _int(node, "height", path)
    header = committed(uri)
    if header is None:
        raise DraftError(f"{path}.image_uri", "is not an image this account uploaded")
    if (width, height) != (0, 0) and (width, height) != (header.width, header.height):
        raise DraftError(
            f"{path}.width",
            f"{width}x{height} differs from the upload's size "
            f"{header.width}x{header.height} (send 0x0 to let the service look it up)",
        )
    return uri


def _check_blend(abilities: dict[str, Any], path: str, ctx: Context) -> JobSpec:
    blend_path = f"{path}.blend"
    blend = _obj(_field(abilities, "blend", path), blend_path)
    _option_node([(abilities, path), (blend, blend_path)])
    core_path = f"{blend_path}.core_param"
    core = _obj(_field(blend, "core_param", blend_path), core_path)
    c = _check_core_param(core, core_path, ctx.region)
    if not c.prompt.startswith("##"):
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
        uri = _check_image_node(images[0], f"{entry_path}.image_list[0]", ctx.committed)
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
        c.model,
        c.prompt[2:].lstrip("#"),
        c.width,
        c.height,
        c.seed,
        image_uris=tuple(uris),
        ratio=c.ratio,
    )


# --- video --------------------------------------------------------------------------------


def _check_video(abilities: dict[str, Any], path: str, ctx: Context) -> JobSpec:
    gen_path = f"{path}.gen_video"
    gen = _obj(_field(abilities, "gen_video", path), gen_path)
    _json_string(gen, "video_task_extra", gen_path)
    params_path = f"{gen_path}.text_to_video_params"
    params = _obj(_field(gen, "text_to_video_params", gen_path), params_path)
    model = _str(params, "model_req_key", params_path, non_empty=True)
    info = VIDEO_MODELS.get(model)
    if info is None:
        raise DraftError(f"{params_path}.model_req_key", f"unknown video model {model!r}")
    _check_offered(model, info.regions, ctx.region, f"{params_path}.model_req_key")
    if info.guarded and not ctx.guard_passed:
        raise DraftError(
            f"{params_path}.model_req_key",
            f"shark not pass: {model} needs the browser's msToken and a_bogus query parameters",
            ret=RISK_CONTROL,
        )
    _int(params, "priority", params_path)
    seed = _int(params, "seed", params_path) if "seed" in params else 0
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
    allowed_ms = tuple(seconds * 1000 for seconds in info.durations)
    if duration not in allowed_ms:
        raise DraftError(f"{input_path}.duration_ms", f"must be one of {allowed_ms} for {model}")
    # Older clients send a resolution to every model; the service uses it only where it applies.
    resolution = DEFAULT_VIDEO_RESOLUTION
    if "resolution" in entry:
        sent = _str(entry, "resolution", input_path)
        if sent not in VIDEO_RESOLUTIONS:
            raise DraftError(f"{input_path}.resolution", f"must be one of {VIDEO_RESOLUTIONS}")
        if info.takes_resolution:
            resolution = sent
    uris = tuple(
        _check_image_node(entry[key], f"{input_path}.{key}", ctx.committed)
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
