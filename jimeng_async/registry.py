"""The model registry as data (PROTOCOL.md §5): aliases, ids, regions, sizes, durations.

Pure data and lookups, no I/O. `inputs` checks a request against it before anything is sent,
`drafts` reads ids and benefit types from it, and `models()` lists it for users (`jm.models`,
`jimeng-async models`). Withdrawn models stay known, marked, so old scripts get a clear answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal

RegionName = Literal["cn", "us", "hk", "jp", "sg"]
ALL_REGIONS: Final[frozenset[str]] = frozenset({"cn", "us", "hk", "jp", "sg"})
_ASIA: Final[frozenset[str]] = frozenset({"hk", "jp", "sg"})
_CN_ASIA: Final[frozenset[str]] = frozenset({"cn"}) | _ASIA
_ABROAD: Final[frozenset[str]] = frozenset({"us"}) | _ASIA

IMAGE_RESOLUTIONS: Final = ("1k", "2k", "4k")

#: (ratio, resolution) -> (width, height, image_ratio code), PROTOCOL.md §5. Read it only: it
#: is a plain dict so that tests can patch one entry and watch the emulator refuse it.
IMAGE_SIZES: Final[Mapping[tuple[str, str], tuple[int, int, int]]] = {
    ("1:1", "1k"): (1328, 1328, 1),
    ("1:1", "2k"): (2048, 2048, 1),
    ("1:1", "4k"): (4096, 4096, 101),
    ("4:3", "1k"): (1472, 1104, 4),
    ("4:3", "2k"): (2304, 1728, 4),
    ("4:3", "4k"): (4608, 3456, 104),
    ("3:4", "1k"): (1104, 1472, 2),
    ("3:4", "2k"): (1728, 2304, 2),
    ("3:4", "4k"): (3456, 4608, 102),
    ("16:9", "1k"): (1664, 936, 3),
    ("16:9", "2k"): (2560, 1440, 3),
    ("16:9", "4k"): (5120, 2880, 103),
    ("9:16", "1k"): (936, 1664, 5),
    ("9:16", "2k"): (1440, 2560, 5),
    ("9:16", "4k"): (2880, 5120, 105),
    ("3:2", "1k"): (1584, 1056, 7),
    ("3:2", "2k"): (2496, 1664, 7),
    ("3:2", "4k"): (4992, 3328, 107),
    ("2:3", "1k"): (1056, 1584, 6),
    ("2:3", "2k"): (1664, 2496, 6),
    ("2:3", "4k"): (3328, 4992, 106),
    ("21:9", "1k"): (2016, 864, 8),
    ("21:9", "2k"): (3024, 1296, 8),
    ("21:9", "4k"): (6048, 2592, 108),
}
IMAGE_RATIOS: Final = tuple(dict.fromkeys(ratio for ratio, _ in IMAGE_SIZES))

VIDEO_RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
VIDEO_RESOLUTIONS: Final = ("720p", "1080p")

DEFAULT_IMAGE_MODEL: Final = "jimeng-4.5"
DEFAULT_VIDEO_MODEL: Final = "jimeng-video-3.5-pro"


@dataclass(frozen=True)
class ImageModel:
    """An image model: `fixed_size` set means it always makes that one size (ratio 1:1)."""

    alias: str
    id: str
    regions: frozenset[str]
    withdrawn: bool = False
    resolutions: tuple[str, ...] = IMAGE_RESOLUTIONS
    fixed_size: tuple[int, int] | None = None
    kind: Literal["image"] = "image"

    @property
    def ratios(self) -> tuple[str, ...]:
        return ("1:1",) if self.fixed_size else IMAGE_RATIOS

    @property
    def default_resolution(self) -> str:
        return "2k" if "2k" in self.resolutions else self.resolutions[0]

    def size(self, ratio: str, resolution: str) -> tuple[int, int, int]:
        """(width, height, image_ratio code) this model makes for `ratio` at `resolution`."""
        if self.fixed_size is not None:
            return (*self.fixed_size, 1)
        return IMAGE_SIZES[(ratio, resolution)]

    def describe(self) -> str:
        if self.fixed_size is not None:
            return f"always {self.fixed_size[0]}x{self.fixed_size[1]}"
        return "resolutions " + ", ".join(self.resolutions)


@dataclass(frozen=True)
class VideoModel:
    """A video model: the durations it takes, whether `resolution` is sent, its benefit type."""

    alias: str
    id: str
    regions: frozenset[str]
    durations: tuple[int, ...]
    benefit_type: str
    sends_resolution: bool = False
    needs_browser_signature: bool = False
    withdrawn: bool = False
    kind: Literal["video"] = "video"

    @property
    def default_duration(self) -> int:
        return 5 if 5 in self.durations else self.durations[0]

    def describe(self) -> str:
        text = "durations " + durations_text(self.durations) + " s"
        if self.sends_resolution:
            text += ", resolution " + "/".join(VIDEO_RESOLUTIONS)
        if self.needs_browser_signature:
            text += ", needs a request signer"
        return text


Model = ImageModel | VideoModel

_V3 = "basic_video_operation_vgfm_v_three"


def _image(alias: str, model_id: str, regions: Iterable[str], **extra: Any) -> ImageModel:
    return ImageModel(alias=alias, id=model_id, regions=frozenset(regions), **extra)


def _video(
    alias: str,
    model_id: str,
    regions: Iterable[str],
    durations: Iterable[int],
    benefit: str,
    **x: Any,
) -> VideoModel:
    return VideoModel(
        alias=alias,
        id=model_id,
        regions=frozenset(regions),
        durations=tuple(durations),
        benefit_type=benefit,
        **x,
    )


_IMAGE_LIST: Final = (
    _image("jimeng-5.0", "high_aes_general_v50", _CN_ASIA),
    _image("jimeng-4.6", "high_aes_general_v42", _CN_ASIA),
    _image("jimeng-4.5", "high_aes_general_v40l", ALL_REGIONS),
    _image("jimeng-4.1", "high_aes_general_v41", ALL_REGIONS),
    _image("jimeng-4.0", "high_aes_general_v40", ALL_REGIONS),
    _image("jimeng-3.1", "high_aes_general_v30l_art_fangzhou:general_v3.0_18b", {"cn"}),
    _image("jimeng-3.0", "high_aes_general_v30l:general_v3.0_18b", ALL_REGIONS),
    _image(
        "nanobanana",
        "external_model_gemini_flash_image_v25",
        _ABROAD,
        resolutions=("1k",),
        fixed_size=(1024, 1024),
    ),
    _image("nanobananapro", "dreamina_image_lib_1", _ABROAD),
    # Withdrawn by the service in 2026 (it answers ret 2003); kept so old names explain.
    _image("jimeng-2.1", "high_aes_general_v21_L:general_v2.1_L", {"cn"}, withdrawn=True),
    _image("jimeng-2.0-pro", "high_aes_general_v20_L:general_v2.0_L", {"cn"}, withdrawn=True),
    _image("jimeng-2.0", "high_aes_general_v20:general_v2.0", {"cn"}, withdrawn=True),
    _image("jimeng-1.4", "high_aes_general_v14:general_v1.4", {"cn"}, withdrawn=True),
    _image("jimeng-xl-pro", "text2img_xl_sft", {"cn"}, withdrawn=True),
)

_VIDEO_LIST: Final = (
    _video(
        "jimeng-video-3.5-pro",
        "dreamina_ic_generate_video_model_vgfm_3.5_pro",
        ALL_REGIONS,
        (5, 10, 12),
        "dreamina_video_seedance_15_pro",
    ),
    _video(
        "jimeng-video-3.0-pro",
        "dreamina_ic_generate_video_model_vgfm_3.0_pro",
        _CN_ASIA,
        (5, 10),
        _V3,
    ),
    _video(
        "jimeng-video-3.0",
        "dreamina_ic_generate_video_model_vgfm_3.0",
        ALL_REGIONS,
        (5, 10),
        _V3,
        sends_resolution=True,
    ),
    _video(
        "jimeng-video-3.0-fast",
        "dreamina_ic_generate_video_model_vgfm_3.0_fast",
        _CN_ASIA,
        (5, 10),
        _V3,
        sends_resolution=True,
    ),
    _video(
        "jimeng-video-2.0", "dreamina_ic_generate_video_model_vgfm_lite", _CN_ASIA, (5, 10), _V3
    ),
    _video(
        "jimeng-video-2.0-pro", "dreamina_ic_generate_video_model_vgfm1.0", _CN_ASIA, (5, 10), _V3
    ),
    _video(
        "jimeng-video-seedance-2.0",
        "dreamina_seedance_40_pro",
        {"cn"},
        range(4, 16),
        "dreamina_video_seedance_20_pro",
        needs_browser_signature=True,
    ),
    _video(
        "jimeng-video-seedance-2.0-fast",
        "dreamina_seedance_40",
        {"cn"},
        range(4, 16),
        "dreamina_seedance_20_fast",
        needs_browser_signature=True,
    ),
    _video("jimeng-video-veo3", "dreamina_veo3_generate_video", _ASIA, (8,), "generate_video_veo3"),
    _video(
        "jimeng-video-veo3.1",
        "dreamina_veo3.1_generate_video",
        _ASIA,
        (8,),
        "generate_video_veo3.1",
    ),
    _video(
        "jimeng-video-sora2",
        "dreamina_sora2_generate_video",
        _ASIA,
        (4, 8, 12),
        "generate_video_sora2",
    ),
)

IMAGE_MODELS: Final[Mapping[str, ImageModel]] = MappingProxyType({m.alias: m for m in _IMAGE_LIST})
VIDEO_MODELS: Final[Mapping[str, VideoModel]] = MappingProxyType({m.alias: m for m in _VIDEO_LIST})

_BY_ID: Final[Mapping[str, Model]] = MappingProxyType(
    {m.id: m for m in (*_IMAGE_LIST, *_VIDEO_LIST)}
)


def durations_text(durations: tuple[int, ...]) -> str:
    """ "4 to 15" for a run of whole seconds, "5, 10, 12" otherwise."""
    run = tuple(range(durations[0], durations[-1] + 1))
    if len(durations) > 3 and durations == run:
        return f"{durations[0]} to {durations[-1]}"
    return ", ".join(str(d) for d in durations)


def lookup(alias_or_id: str) -> Model | None:
    """The model with this alias or id, of either kind, or None."""
    return IMAGE_MODELS.get(alias_or_id) or VIDEO_MODELS.get(alias_or_id) or _BY_ID.get(alias_or_id)


def offered(model: Model, region: str) -> bool:
    """Whether `model` can be used from `region` now (offered there and not withdrawn)."""
    return region in model.regions and not model.withdrawn


def models(region: str | None = None, *, include_withdrawn: bool = False) -> list[Model]:
    """Every model, image models first; only those offered in `region` when it is given."""
    if region is not None and region not in ALL_REGIONS:
        raise ValueError(f"unknown region {region!r}; allowed: {', '.join(sorted(ALL_REGIONS))}")
    found: list[Model] = []
    for model in (*_IMAGE_LIST, *_VIDEO_LIST):
        if model.withdrawn and not include_withdrawn:
            continue
        if region is None or region in model.regions:
            found.append(model)
    return found


def aliases_in(kind: Literal["image", "video"], region: str | None) -> list[str]:
    """Aliases of `kind` offered in `region` (every current one when region is None)."""
    return [m.alias for m in models(region) if m.kind == kind]


#: Rough credit prices, for placing jobs, not billing: images per job at 1k/2k, videos per second.
_IMAGE_COST: Final = 1
_IMAGE_COST_4K: Final = 2
_VIDEO_COST_PER_SECOND: Final[Mapping[str, int]] = MappingProxyType(
    {
        "jimeng-video-3.5-pro": 3,
        "jimeng-video-seedance-2.0": 5,
        "jimeng-video-seedance-2.0-fast": 3,
        "jimeng-video-veo3": 10,
        "jimeng-video-veo3.1": 10,
        "jimeng-video-sora2": 8,
    }
)
_VIDEO_COST_DEFAULT: Final = 2


def estimated_cost(
    model_alias: str, *, resolution: str | None = None, duration: int | None = None
) -> int:
    """An *estimate* of the credits one job costs, for spreading work over accounts.

    Image jobs: `resolution` "4k" costs more. Video jobs: per second of `duration` (the model's
    default when not given). The service's real price may differ and changes without notice.
    """
    model = lookup(model_alias)
    if model is None:
        raise ValueError(f"unknown model {model_alias!r}")
    if isinstance(model, ImageModel):
        return _IMAGE_COST_4K if resolution == "4k" else _IMAGE_COST
    seconds = duration or model.default_duration
    rate = _VIDEO_COST_PER_SECOND.get(model.alias, _VIDEO_COST_DEFAULT)
    return int(seconds) * rate
