"""The public parameter types: model aliases, ratios, resolutions, durations, image sources.

Literal types let a type checker and an editor catch `ratio="16;9"` or `resolution="2K"` before
a run. They mirror the registry's data (`registry.py`); `tests/test_types.py` keeps the two
equal. Only models the service still offers are listed: a withdrawn alias is refused at run
time anyway. `model=` also takes any `str`, because a raw model id the registry does not know is
passed through to the service (so `ImageModelName | str` is what the methods accept, and the
Literal is there for completion and documentation).
"""

from __future__ import annotations

import os
from typing import IO, Literal, TypeAlias

from .models import ImageRef, Kind

__all__ = [
    "Duration",
    "ImageModelName",
    "ImageSource",
    "Kind",
    "Ratio",
    "Resolution",
    "VideoModelName",
    "VideoRatio",
    "VideoResolution",
]

ImageModelName: TypeAlias = Literal[
    "jimeng-5.0",
    "jimeng-4.6",
    "jimeng-4.5",
    "jimeng-4.1",
    "jimeng-4.0",
    "jimeng-3.1",
    "jimeng-3.0",
    "nanobanana",
    "nanobananapro",
]
"""An image model alias (`jm.models()` says which regions offer each)."""

VideoModelName: TypeAlias = Literal[
    "jimeng-video-3.5-pro",
    "jimeng-video-3.0-pro",
    "jimeng-video-3.0",
    "jimeng-video-3.0-fast",
    "jimeng-video-2.0",
    "jimeng-video-2.0-pro",
    "jimeng-video-seedance-2.0",
    "jimeng-video-seedance-2.0-fast",
    "jimeng-video-veo3",
    "jimeng-video-veo3.1",
    "jimeng-video-sora2",
]
"""A video model alias (`jm.models()` says which regions offer each)."""

Ratio: TypeAlias = Literal["1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9"]
"""An image's aspect ratio."""

VideoRatio: TypeAlias = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
"""A video's aspect ratio."""

Resolution: TypeAlias = Literal["1k", "2k", "4k"]
"""An image resolution (a model may make fewer: `jm.models()`)."""

VideoResolution: TypeAlias = Literal["720p", "1080p"]
"""A video resolution, taken only by jimeng-video-3.0 and -3.0-fast."""

Duration: TypeAlias = int
"""A video's length in whole seconds; which ones a model takes is in `jm.models()`."""

ImageSource: TypeAlias = (
    str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | ImageRef
)
"""What an image input may be: a path or an http(s) URL (str), a path object, the bytes, a
binary file opened for reading, or an `ImageRef` from an earlier `upload_image` (used as is)."""
