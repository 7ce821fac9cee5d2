"""Image format sniffing and header dimensions, from the first bytes of a file. No I/O.

The client checks an upload before sending anything; the emulator reads the same header to
answer CommitImageUpload with the width and height, as ImageX does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

#: How many leading bytes `probe` may need (JPEG can put its size frame after large EXIF blocks).
HEADER_BYTES = 256 * 1024

SUPPORTED_FORMATS = ("png", "jpeg", "webp", "gif", "bmp")


@dataclass(frozen=True)
class ImageHeader:
    format: str
    width: int
    height: int


class ImageFormatError(ValueError):
    """The bytes are not a supported image, or its header is cut short."""


def sniff_format(head: bytes) -> str | None:
    """The format named by the magic bytes, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM"):
        return "bmp"
    return None


def probe(head: bytes) -> ImageHeader:
    """Format, width and height from the leading bytes of an image."""
    fmt = sniff_format(head)
    if fmt is None:
        raise ImageFormatError(f"not a supported image (allowed: {', '.join(SUPPORTED_FORMATS)})")
    try:
        width, height = _READERS[fmt](head)
    except (struct.error, IndexError) as exc:
        raise ImageFormatError(f"{fmt} header is truncated or corrupt") from exc
    if width <= 0 or height <= 0:
        raise ImageFormatError(f"{fmt} header gives no size ({width}x{height})")
    return ImageHeader(fmt, width, height)


def _png(head: bytes) -> tuple[int, int]:
    if head[12:16] != b"IHDR":
        raise ImageFormatError("png header lacks IHDR")
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def _gif(head: bytes) -> tuple[int, int]:
    w, h = struct.unpack("<HH", head[6:10])
    return int(w), int(h)


def _bmp(head: bytes) -> tuple[int, int]:
    w, h = struct.unpack("<ii", head[18:26])
    return abs(int(w)), abs(int(h))


def _webp(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return int(w) & 0x3FFF, int(h) & 0x3FFF
    if chunk == b"VP8L":
        b0, b1, b2, b3 = head[21:25]
        w = 1 + (((b1 & 0x3F) << 8) | b0)
        h = 1 + (((b3 & 0x0F) << 10) | (b2 << 2) | ((b1 & 0xC0) >> 6))
        return w, h
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(head[24:27], "little")
        h = 1 + int.from_bytes(head[27:30], "little")
        return w, h
    raise ImageFormatError("webp header has no VP8 chunk")


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(head: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            raise ImageFormatError("jpeg marker expected")
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        if marker in _SOF_MARKERS:
            h, w = struct.unpack(">HH", head[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + length
    raise ImageFormatError("jpeg size frame not found in the header")


_READERS = {"png": _png, "gif": _gif, "bmp": _bmp, "webp": _webp, "jpeg": _jpeg}
