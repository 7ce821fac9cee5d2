"""Pure builders of `draft_content` and generate request bodies (PROTOCOL.md §5). No I/O.

The model tables live in `registry`; this module turns a validated request into the draft tree
and the body of the generate call as today's web app sends them.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from . import registry
from .errors import InvalidInputError

if TYPE_CHECKING:
    from .inputs import ImageRequest, VideoRequest

DRAFT_MIN_VERSION: Final = "3.0.2"
BLEND_MIN_VERSION: Final = "3.2.9"
#: The draft `version` of today's web app; `Settings.draft_version` (or da_version) overrides.
DRAFT_VERSION: Final = "3.3.9"
VIDEO_INPUT_MIN_VERSION: Final = "3.0.5"

DEFAULT_IMAGE_MODEL: Final = registry.DEFAULT_IMAGE_MODEL
DEFAULT_VIDEO_MODEL: Final = registry.DEFAULT_VIDEO_MODEL

#: alias -> model id, withdrawn models included (the registry holds the rest of each model).
IMAGE_MODELS: Final[dict[str, str]] = {a: m.id for a, m in registry.IMAGE_MODELS.items()}
VIDEO_MODELS: Final[dict[str, str]] = {a: m.id for a, m in registry.VIDEO_MODELS.items()}

IMAGE_RESOLUTIONS: Final = registry.IMAGE_RESOLUTIONS
IMAGE_SIZES: Final = registry.IMAGE_SIZES
IMAGE_RATIOS: Final = registry.IMAGE_RATIOS

VIDEO_RATIOS: Final = registry.VIDEO_RATIOS
VIDEO_RESOLUTIONS: Final = registry.VIDEO_RESOLUTIONS
#: Durations of a raw model id the registry does not know (the 3.0 family's).
VIDEO_DURATIONS: Final = (5, 10)
VIDEO_FPS: Final = 24

MAX_BLEND_IMAGES: Final = 10
SEED_RANGE: Final = (2_500_000_000, 2_600_000_000)

VIDEO_COMMERCE_INFO: Final[dict[str, str]] = {
    "benefit_type": "basic_video_operation_vgfm_v_three",
    "resource_id": "generate_video",
    "resource_id_type": "str",
    "resource_sub_type": "aigc",
}


def video_commerce_info(model_id: str) -> dict[str, str]:
    """The commerce info of a video job: the model's own benefit type (PROTOCOL.md §5)."""
    model = registry.lookup(model_id)
    info = dict(VIDEO_COMMERCE_INFO)
    if isinstance(model, registry.VideoModel):
        info["benefit_type"] = model.benefit_type
    return info


VIDEO_COMPONENT_MIN_VERSION: Final = "1.0.0"
#: `created_platform` of draft metadata: 3 is the web app.
CREATED_PLATFORM_WEB: Final = 3
VIDEO_MODE: Final = 2

JsonObject = dict[str, Any]
#: Makes the fresh uuid4 string of each draft node; tests inject a counter.
IdFactory = Callable[[], str]
#: Wall clock in milliseconds since the epoch; tests inject a constant.
ClockMs = Callable[[], int]
ModelKind = Literal["image", "video"]

_MODEL_TABLES: Final[dict[str, dict[str, str]]] = {"image": IMAGE_MODELS, "video": VIDEO_MODELS}
_KIND_PHRASE: Final = {"image": "an image", "video": "a video"}


def uuid4str() -> str:
    """A fresh random uuid4 as a string: the default id of draft nodes and submit ids."""
    return str(uuid.uuid4())


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, as drafts record their creation time."""
    return time.time_ns() // 1_000_000


def random_seed(rng: random.Random | None = None) -> int:
    """A seed as the web app draws it: uniform in `SEED_RANGE` (upper bound excluded)."""
    low, high = SEED_RANGE
    if rng is None:
        return random.randrange(low, high)
    return rng.randrange(low, high)


def compact_json(value: Any) -> str:
    """JSON text without spaces (as the web app sends nested JSON strings); non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def model_choices(kind: ModelKind) -> str:
    """Human-readable list of what `model` may be for `kind`, for error messages."""
    return ", ".join(registry.aliases_in(kind, None)) + ", or a raw model id without spaces"


def resolve_model(alias_or_id: str, *, kind: ModelKind) -> str:
    """The model id for an alias of `kind`, or a raw model id passed through unchanged.

    Refused (InvalidInputError on field "model"): an alias or known id of the other kind, an
    empty string or one with whitespace, and an unknown "jimeng-..." name (a mistyped alias).
    """
    own = _MODEL_TABLES[kind]
    if not isinstance(alias_or_id, str):
        raise InvalidInputError("model", "must be a string", allowed=model_choices(kind))
    if alias_or_id in own:
        return own[alias_or_id]
    other_kind = "video" if kind == "image" else "image"
    other = _MODEL_TABLES[other_kind]
    if alias_or_id in other or alias_or_id in other.values():
        raise InvalidInputError(
            "model",
            f"{alias_or_id!r} is {_KIND_PHRASE[other_kind]} model, not {_KIND_PHRASE[kind]} model",
            allowed=model_choices(kind),
        )
    if not alias_or_id or any(ch.isspace() for ch in alias_or_id):
        raise InvalidInputError(
            "model", f"{alias_or_id[:60]!r} is not a model alias or id", allowed=model_choices(kind)
        )
    # Real ids never start with "jimeng-": such a name is a mistyped or retired alias.
    if alias_or_id.lower().startswith("jimeng-"):
        raise InvalidInputError(
            "model", f"{alias_or_id[:60]!r} is not a known alias", allowed=model_choices(kind)
        )
    return alias_or_id


def check_image_count(n: int, *, field: str = "images") -> int:
    """Return `n` if it is a valid number of blend input images (1..MAX_BLEND_IMAGES)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_BLEND_IMAGES:
        raise InvalidInputError(
            field, f"{n!r} images given", allowed=f"1 to {MAX_BLEND_IMAGES} images"
        )
    return n


@dataclass(frozen=True)
class UploadedImage:
    """An image already in ImageX storage: what a draft needs to point at it."""

    uri: str
    width: int
    height: int
    format: str


def _node(new_id: IdFactory, node_type: str = "", **fields: Any) -> JsonObject:
    """A draft node: every node carries a `type` and a fresh `id` before its own fields."""
    return {"type": node_type, "id": new_id(), **fields}


def image_node(image: UploadedImage, *, new_id: IdFactory = uuid4str) -> JsonObject:
    """The draft node that references an uploaded image (blend input or video frame)."""
    return _node(
        new_id,
        "image",
        source_from="upload",
        platform_type=1,
        name="",
        image_uri=image.uri,
        uri=image.uri,
        width=image.width,
        height=image.height,
        format=image.format,
    )


def _metadata(new_id: IdFactory, now_ms: ClockMs) -> JsonObject:
    return _node(
        new_id,
        created_platform=CREATED_PLATFORM_WEB,
        created_platform_version="",
        created_time_in_ms=str(now_ms()),
        created_did="",
    )


def _draft(
    component: JsonObject, *, min_version: str, version: str, new_id: IdFactory
) -> JsonObject:
    return _node(
        new_id,
        "draft",
        min_version=min_version,
        min_features=[],
        is_from_tsn=True,
        version=version,
        main_component_id=component["id"],
        component_list=[component],
    )


def _image_core_param(
    req: ImageRequest, *, prompt: str, seed: int, new_id: IdFactory
) -> JsonObject:
    width, height, ratio_code = req.size
    core = _node(
        new_id,
        model=req.model_id,
        prompt=prompt,
        negative_prompt=req.negative_prompt,
        seed=seed,
        sample_strength=req.sample_strength,
    )
    if not req.intelligent_ratio:
        core["image_ratio"] = ratio_code
    core["large_image_info"] = _node(
        new_id, height=height, width=width, resolution_type=req.effective_resolution
    )
    core["intelligent_ratio"] = req.intelligent_ratio
    return core


def build_image_draft(
    req: ImageRequest,
    *,
    images: Sequence[UploadedImage] = (),
    new_id: IdFactory = uuid4str,
    now_ms: ClockMs = wall_clock_ms,
    rng: random.Random | None = None,
    version: str = DRAFT_VERSION,
) -> JsonObject:
    """The draft of an image job: text to image without `images`, a blend of 1..10 with them.

    The seed is `req.seed`, or drawn from `rng` when the request leaves it open. The option
    node is today's `gen_option` (older clients sent `history_option`).
    """
    seed = req.seed if req.seed is not None else random_seed(rng)
    component = _node(
        new_id,
        "image_base_component",
        min_version=DRAFT_MIN_VERSION,
        aigc_mode="workbench",
        generate_type="blend" if images else "generate",
        metadata=_metadata(new_id, now_ms),
    )
    if not images:
        core = _image_core_param(req, prompt=req.prompt, seed=seed, new_id=new_id)
        generate = _node(new_id, core_param=core, gen_option=_gen_option(new_id))
        component["abilities"] = _node(new_id, generate=generate)
        return _draft(component, min_version=DRAFT_MIN_VERSION, version=version, new_id=new_id)
    check_image_count(len(images))
    core = _image_core_param(req, prompt="##" + req.prompt, seed=seed, new_id=new_id)
    blend = _node(new_id, min_features=[], core_param=core)
    if len(images) >= 2:
        blend["min_version"] = BLEND_MIN_VERSION
    blend.update(
        ability_list=[
            _node(
                new_id,
                name="byte_edit",
                image_uri_list=[image.uri],
                image_list=[image_node(image, new_id=new_id)],
                strength=req.sample_strength,
            )
            for image in images
        ],
        prompt_placeholder_info_list=[
            _node(new_id, ability_index=index) for index in range(len(images))
        ],
        postedit_param=_node(new_id, generate_type=0),
    )
    component["abilities"] = _node(new_id, blend=blend, gen_option=_gen_option(new_id))
    return _draft(component, min_version=BLEND_MIN_VERSION, version=version, new_id=new_id)


def _gen_option(new_id: IdFactory) -> JsonObject:
    return _node(new_id, generate_all=False)


def build_video_draft(
    req: VideoRequest,
    *,
    first_frame: UploadedImage | None = None,
    end_frame: UploadedImage | None = None,
    submit_id: str,
    new_id: IdFactory = uuid4str,
    now_ms: ClockMs = wall_clock_ms,
    rng: random.Random | None = None,
    version: str = DRAFT_VERSION,
) -> JsonObject:
    """The draft of a video job: from text alone, or with a first and/or an end frame.

    `resolution` is sent only when the request has one (the models that take it).
    """
    seed = req.seed if req.seed is not None else random_seed(rng)
    gen_input = _node(
        new_id,
        min_version=VIDEO_INPUT_MIN_VERSION,
        prompt=req.prompt,
        video_mode=VIDEO_MODE,
        fps=VIDEO_FPS,
        duration_ms=req.duration_seconds * 1000,
    )
    if req.resolution_sent is not None:
        gen_input["resolution"] = req.resolution_sent
    if first_frame is not None:
        gen_input["first_frame_image"] = image_node(first_frame, new_id=new_id)
    if end_frame is not None:
        gen_input["end_frame_image"] = image_node(end_frame, new_id=new_id)
    params = _node(
        new_id,
        model_req_key=req.model_id,
        priority=0,
        seed=seed,
        video_aspect_ratio=req.ratio,
        video_gen_inputs=[gen_input],
    )
    task_extra = {
        "promptSource": "custom",
        "isDefaultSeed": 1 if req.seed is None else 0,
        "originSubmitId": submit_id,
    }
    gen_video = _node(
        new_id, text_to_video_params=params, video_task_extra=compact_json(task_extra)
    )
    component = _node(
        new_id,
        "video_base_component",
        min_version=VIDEO_COMPONENT_MIN_VERSION,
        aigc_mode="workbench",
        generate_type="gen_video",
        metadata=_metadata(new_id, now_ms),
        abilities=_node(new_id, gen_video=gen_video),
    )
    return _draft(component, min_version=VIDEO_INPUT_MIN_VERSION, version=version, new_id=new_id)


def _metrics_extra() -> JsonObject:
    return {
        "templateId": "",
        "generateCount": 1,
        "promptSource": "custom",
        "templateSource": "",
        "lastRequestId": "",
        "originRequestId": "",
    }


def build_generate_body(
    *, draft: Mapping[str, Any], model_id: str, submit_id: str, aid: int, video: bool
) -> JsonObject:
    """The body of POST /mweb/v1/aigc_draft/generate around a built draft."""
    extend: JsonObject = {"root_model": model_id, "template_id": ""}
    if video:
        extend["m_video_commerce_info"] = video_commerce_info(model_id)
        extend["m_video_commerce_info_list"] = [video_commerce_info(model_id)]
    return {
        "extend": extend,
        "submit_id": submit_id,
        "metrics_extra": compact_json(_metrics_extra()),
        "draft_content": compact_json(draft),
        "http_common_info": {"aid": aid},
    }


#: Renditions asked of get_history_by_ids: (scene, width, height).
_HISTORY_SCENES: Final = (
    ("smart_crop", 360, 360),
    ("smart_crop", 480, 480),
    ("smart_crop", 720, 720),
    ("smart_crop", 720, 480),
    ("smart_crop", 360, 240),
    ("smart_crop", 240, 320),
    ("smart_crop", 480, 640),
    ("normal", 2400, 2400),
    ("normal", 1080, 1080),
    ("normal", 720, 720),
    ("normal", 480, 480),
    ("normal", 360, 360),
)


def history_image_info() -> JsonObject:
    """The `image_info` of a get_history_by_ids request (a fresh object each call)."""
    scenes = [
        {
            "scene": scene,
            "width": width,
            "height": height,
            "uniq_key": f"smart_crop-w:{width}-h:{height}" if scene == "smart_crop" else str(width),
            "format": "webp",
        }
        for scene, width, height in _HISTORY_SCENES
    ]
    return {"width": 2048, "height": 2048, "format": "webp", "image_scene_list": scenes}
