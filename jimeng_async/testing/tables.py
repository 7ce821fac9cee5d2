"""The emulated service's own tables, written from PROTOCOL.md §1 and §5 (never the client's).

Regions (aid, query value, store region, SigV4 region, ImageX service id), the image and video
models each region offers, image sizes per resolution and ratio, video durations, resolutions and
benefit types per model, and the Seedance 2.0 guard. A test compares these with the client's
tables, so an error on either side shows up as a disagreement instead of passing both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

RegionName = Literal["cn", "us", "hk", "jp", "sg"]
REGION_NAMES: Final[tuple[RegionName, ...]] = ("cn", "us", "hk", "jp", "sg")
INTERNATIONAL: Final[frozenset[RegionName]] = frozenset({"us", "hk", "jp", "sg"})


@dataclass(frozen=True)
class Region:
    """One site of the service, as the gateway and ImageX see it (PROTOCOL.md §1)."""

    name: RegionName
    token_prefix: str
    aid: int
    region_param: str
    store_region: str
    aws_region: str
    service_id: str

    @property
    def international(self) -> bool:
        return self.name != "cn"


_INTL_AID = 513641
_INTL_SERVICE = "wopfjsm1ax"

REGIONS: Final[dict[RegionName, Region]] = {
    "cn": Region("cn", "", 513695, "cn", "cn-gd", "cn-north-1", "tb4s082cfz"),
    "us": Region("us", "us-", _INTL_AID, "US", "us", "us-east-1", _INTL_SERVICE),
    "hk": Region("hk", "hk-", _INTL_AID, "HK", "hk", "ap-southeast-1", _INTL_SERVICE),
    "jp": Region("jp", "jp-", _INTL_AID, "JP", "jp", "ap-southeast-1", _INTL_SERVICE),
    "sg": Region("sg", "sg-", _INTL_AID, "SG", "sg", "ap-southeast-1", _INTL_SERVICE),
}

_ALL: Final = frozenset(REGION_NAMES)
_CN_ASIA: Final = frozenset({"cn", "hk", "jp", "sg"})
_ABROAD: Final = frozenset({"us", "hk", "jp", "sg"})
_ASIA: Final = frozenset({"hk", "jp", "sg"})

# --- images -----------------------------------------------------------------------------------

#: image model id -> regions that offer it (PROTOCOL.md §5).
IMAGE_MODEL_REGIONS: Final[dict[str, frozenset[str]]] = {
    "high_aes_general_v50": _CN_ASIA,
    "high_aes_general_v42": _CN_ASIA,
    "high_aes_general_v40l": _ALL,
    "high_aes_general_v41": _ALL,
    "high_aes_general_v40": _ALL,
    "high_aes_general_v30l_art_fangzhou:general_v3.0_18b": frozenset({"cn"}),
    "high_aes_general_v30l:general_v3.0_18b": _ALL,
    "external_model_gemini_flash_image_v25": _ABROAD,
    "dreamina_image_lib_1": _ABROAD,
}
#: Models below 3.0, withdrawn by the service in 2026: known ids, answered ret 2003.
WITHDRAWN_IMAGE_MODELS: Final = frozenset(
    {
        "high_aes_general_v21_L:general_v2.1_L",
        "high_aes_general_v20_L:general_v2.0_L",
        "high_aes_general_v20:general_v2.0",
        "high_aes_general_v14:general_v1.4",
        "text2img_xl_sft",
    }
)
NANOBANANA: Final = "external_model_gemini_flash_image_v25"
NANOBANANA_SIZE: Final = (1024, 1024)

IMAGE_RESOLUTIONS: Final = ("1k", "2k", "4k")

#: (ratio, resolution) -> (width, height, image_ratio code): the web app's table.
IMAGE_SIZES: Final[dict[tuple[str, str], tuple[int, int, int]]] = {
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
#: The 1024-based 1k table some clients send (the service accepts it too; 4:3 and 3:4 are
#: swapped there exactly as those clients send them).
IMAGE_SIZES_1K_ALT: Final[dict[str, tuple[int, int, int]]] = {
    "1:1": (1024, 1024, 1),
    "4:3": (768, 1024, 4),
    "3:4": (1024, 768, 2),
    "16:9": (1024, 576, 3),
    "9:16": (576, 1024, 5),
    "3:2": (1024, 682, 7),
    "2:3": (682, 1024, 6),
    "21:9": (1195, 512, 8),
}


def image_size_matches(resolution: str, width: int, height: int) -> list[tuple[str, int]]:
    """Every (ratio, image_ratio code) whose `resolution` size is `width` x `height`."""
    found = [
        (ratio, code)
        for (ratio, res), (w, h, code) in IMAGE_SIZES.items()
        if res == resolution and (w, h) == (width, height)
    ]
    if resolution == "1k":
        found += [
            (ratio, code)
            for ratio, (w, h, code) in IMAGE_SIZES_1K_ALT.items()
            if (w, h) == (width, height)
        ]
    return found


# --- video ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoModel:
    """What one video model takes: durations (s), whether `resolution` applies, benefit type."""

    durations: tuple[int, ...]
    benefit_type: str
    regions: frozenset[str]
    takes_resolution: bool = False
    guarded: bool = False  # needs the browser's msToken / a_bogus query parameters


_VGFM3 = "basic_video_operation_vgfm_v_three"
_SEEDANCE_DURATIONS = tuple(range(4, 16))

VIDEO_MODELS: Final[dict[str, VideoModel]] = {
    "dreamina_ic_generate_video_model_vgfm_3.5_pro": VideoModel(
        (5, 10, 12), "dreamina_video_seedance_15_pro", _ALL
    ),
    "dreamina_ic_generate_video_model_vgfm_3.0_pro": VideoModel((5, 10), _VGFM3, _CN_ASIA),
    "dreamina_ic_generate_video_model_vgfm_3.0": VideoModel(
        (5, 10), _VGFM3, _ALL, takes_resolution=True
    ),
    "dreamina_ic_generate_video_model_vgfm_3.0_fast": VideoModel(
        (5, 10), _VGFM3, _CN_ASIA, takes_resolution=True
    ),
    "dreamina_ic_generate_video_model_vgfm_lite": VideoModel((5, 10), _VGFM3, _CN_ASIA),
    "dreamina_ic_generate_video_model_vgfm1.0": VideoModel((5, 10), _VGFM3, _CN_ASIA),
    "dreamina_seedance_40_pro": VideoModel(
        _SEEDANCE_DURATIONS, "dreamina_video_seedance_20_pro", frozenset({"cn"}), guarded=True
    ),
    "dreamina_seedance_40": VideoModel(
        _SEEDANCE_DURATIONS, "dreamina_seedance_20_fast", frozenset({"cn"}), guarded=True
    ),
    "dreamina_veo3_generate_video": VideoModel((8,), "generate_video_veo3", _ASIA),
    "dreamina_veo3.1_generate_video": VideoModel((8,), "generate_video_veo3.1", _ASIA),
    "dreamina_sora2_generate_video": VideoModel((4, 8, 12), "generate_video_sora2", _ASIA),
}

VIDEO_RATIOS: Final = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
VIDEO_RESOLUTIONS: Final = ("720p", "1080p")
#: The resolution a video has when the model takes none from the request.
DEFAULT_VIDEO_RESOLUTION: Final = "720p"
VIDEO_FPS: Final = 24
VIDEO_SHORT_SIDE: Final = {"720p": 720, "1080p": 1080}
GUARD_PARAMS: Final = ("msToken", "a_bogus")

#: extend.m_video_commerce_info without its per-model benefit_type.
VIDEO_COMMERCE_FIXED: Final = {
    "resource_id": "generate_video",
    "resource_id_type": "str",
    "resource_sub_type": "aigc",
}

MAX_BLEND_IMAGES: Final = 10


def video_size(resolution: str, ratio: str) -> tuple[int, int]:
    """Pixel size of a video: the short side is 720 or 1080, the long side rounded to even."""
    short = VIDEO_SHORT_SIDE[resolution]
    a, b = (int(part) for part in ratio.split(":"))
    long_side = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long_side, short) if a >= b else (short, long_side)
