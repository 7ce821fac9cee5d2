"""The emulated ImageX's own reading of an upload's image header (format, width, height).

It uses Pillow, which reads only the header when it opens an image, and never the client's
sniffing code: the emulator must not trust the client to tell it what an image is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

#: How many leading bytes of an upload are kept for `read_header` (JPEG EXIF can be large).
HEADER_BYTES = 256 * 1024
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}


@dataclass(frozen=True)
class ImageInfo:
    """What ImageX learned of an uploaded image."""

    format: str
    width: int
    height: int


class NotAnImageError(ValueError):
    """The bytes are not an image ImageX accepts, or its header is cut short."""


def read_header(head: bytes) -> ImageInfo:
    """Format and size from the leading bytes of an upload (NotAnImageError otherwise)."""
    allowed = ", ".join(ACCEPTED_FORMATS.values())
    try:
        with Image.open(io.BytesIO(head)) as image:
            kind = ACCEPTED_FORMATS.get(image.format or "")
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise NotAnImageError(f"not a supported image (allowed: {allowed})") from None
    if kind is None:
        raise NotAnImageError(f"not a supported image (allowed: {allowed})")
    if width <= 0 or height <= 0:
        raise NotAnImageError(f"{kind} header gives no size ({width}x{height})")
    return ImageInfo(kind, width, height)
