"""Deterministic result files: small real PNGs and tiny MP4s, built with zlib and struct only.

A PNG's colours and bands come from a hash of its key (prompt, seed, index), so two prompts give
visibly different pictures and the same job always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

PREVIEW_LONG_SIDE = 64
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def preview_size(width: int, height: int, long_side: int = PREVIEW_LONG_SIDE) -> tuple[int, int]:
    """`width` x `height` scaled down (never up) so that the long side is at most `long_side`."""
    scale = min(1.0, long_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _mix(a: int, b: int, t: float) -> int:
    return int(a + (b - a) * t) & 0xFF


def png(width: int, height: int, key: str) -> bytes:
    """An RGB PNG of `width` x `height` with a gradient and bands derived from `key`."""
    digest = hashlib.sha256(key.encode()).digest()
    start, end, band = digest[0:3], digest[3:6], digest[6:9]
    bands = 2 + digest[9] % 6
    vertical = digest[10] % 2 == 1
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        for x in range(width):
            along = (y / max(height - 1, 1)) if vertical else (x / max(width - 1, 1))
            across = (x / max(width - 1, 1)) if vertical else (y / max(height - 1, 1))
            if int(across * bands) % 2:
                pixel = (_mix(band[i], start[i], along) for i in range(3))
            else:
                pixel = (_mix(start[i], end[i], along) for i in range(3))
            rows.extend(pixel)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_TIMESCALE = 1000


def mp4(width: int, height: int, duration_ms: int) -> bytes:
    """A tiny MP4 (ftyp, moov with one video track of `duration_ms`, mdat) with no samples."""
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    mvhd = _full_box(
        b"mvhd", 0, 0,
        struct.pack(">IIII", 0, 0, _TIMESCALE, duration_ms),
        struct.pack(">IH", 0x10000, 0x100), b"\0" * 10, _MATRIX, b"\0" * 24,
        struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full_box(
        b"tkhd", 0, 3,
        struct.pack(">IIIII", 0, 0, 1, 0, duration_ms), b"\0" * 8,
        struct.pack(">HHHH", 0, 0, 0, 0), _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full_box(
        b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, _TIMESCALE, duration_ms, 0x55C4, 0)
    )
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I", 0), b"vide", b"\0" * 12, b"VideoHandler\0")
    vmhd = _full_box(b"vmhd", 0, 1, b"\0" * 8)
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    empty_table = struct.pack(">I", 0)
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, empty_table),
        _full_box(b"stts", 0, 0, empty_table),
        _full_box(b"stsc", 0, 0, empty_table),
        _full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        _full_box(b"stco", 0, 0, empty_table),
    )
    minf = _box(b"minf", vmhd, dinf, stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    moov = _box(b"moov", mvhd, trak)
    return ftyp + moov + _box(b"mdat", b"jimeng-emulator")
