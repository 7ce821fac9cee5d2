"""Image format sniffing and header dimensions, from the first bytes of a file. No I/O.

The client checks an upload before sending anything; the emulator reads the same header to
answer CommitImageUpload with the width and height, as ImageX does.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

#: How many leading bytes `probe` may need (JPEG can put its size frame after large EXIF blocks).
HEADER_BYTES = 256 * 1024
#: How many trailing bytes `check_integrity` looks at for the end marker.
TAIL_BYTES = 1024
#: The largest width or height accepted (a header claiming more is corrupt or hostile).
MAX_DIMENSION = 16384
#: The largest pixel count accepted (16384 x 16384).
MAX_PIXELS = MAX_DIMENSION * MAX_DIMENSION

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
    if width > MAX_DIMENSION or height > MAX_DIMENSION:
        raise ImageFormatError(
            f"{fmt} header claims {width}x{height} pixels (allowed: 1 to {MAX_DIMENSION} per side)"
        )
    return ImageHeader(fmt, width, height)


def check_integrity(
    header: ImageHeader, head: bytes, tail: bytes, size: int, *, png_end_seen: bool | None = None
) -> None:
    """Refuse a file cut short or corrupt: end markers, the PNG IHDR CRC, container sizes.

    `head` is the first `HEADER_BYTES`, `tail` the last `TAIL_BYTES` of a file of `size` bytes;
    `png_end_seen` says whether a streaming pass met the PNG IEND chunk anywhere (data after
    IEND is tolerated, as viewers do); without it the IEND chunk must end the file.
    """
    fmt = header.format
    if fmt == "png":
        if zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big"):
            raise ImageFormatError("png IHDR chunk fails its CRC check (corrupt file)")
        if not (tail.endswith(PNG_END) if png_end_seen is None else png_end_seen):
            raise ImageFormatError("png has no IEND chunk at its end (truncated file)")
    elif fmt == "jpeg":
        if b"\xff\xd9" not in tail[-64:]:
            raise ImageFormatError("jpeg has no end-of-image marker (truncated file)")
    elif fmt == "gif":
        if not tail.rstrip(b"\x00").endswith(b"\x3b"):
            raise ImageFormatError("gif has no trailer byte (truncated file)")
    elif fmt == "webp":
        declared = int.from_bytes(head[4:8], "little") + 8
        if size < declared:
            raise ImageFormatError(f"webp declares {declared} bytes but has {size} (truncated)")
    elif fmt == "bmp":
        declared = int.from_bytes(head[2:6], "little")
        offset = int.from_bytes(head[10:14], "little")
        if declared > size or offset >= size:
            raise ImageFormatError(f"bmp declares {declared} bytes but has {size} (truncated)")


#: The PNG IEND chunk (length 0, type, CRC): the last 12 bytes of a complete PNG.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


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
