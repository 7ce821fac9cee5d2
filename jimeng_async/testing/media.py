"""Result files a person would want to open, true to the record that lists them.

Images are PNGs at the width and height the record claims, a flat colour (from the prompt) with
the prompt and the job id written on them, so a user sees which job made which file. Videos are
real H.264 MP4s (PyAV, libx264) at the claimed size and duration, a few frames a second with a
progress bar. Both are rendered lazily on first download, off the event loop, and cached.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections import OrderedDict
from collections.abc import Callable
from fractions import Fraction

import anyio
import anyio.to_thread
import av
from PIL import Image, ImageDraw, ImageFont

VIDEO_FPS = 4  # few frames keep encoding fast; the duration is what the record claims
VIDEO_CODEC = "libx264"
COVER_LONG_SIDE = 640
CACHE_ENTRIES = 64
_PALETTE_SIZE = 4  # background, text, bar, bar track


def _colours(key: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A background colour from `key` and a text colour that reads on it."""
    digest = hashlib.sha256(key.encode()).digest()
    background = (64 + digest[0] % 128, 64 + digest[1] % 128, 64 + digest[2] % 128)
    light = sum(background) / 3 > 127
    return background, ((16, 16, 16) if light else (245, 245, 245))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _caption(width: int, height: int, lines: list[str]) -> tuple[int, list[str]]:
    """A font size and the caption wrapped to fit `width`."""
    size = max(10, min(width, height) // 24)
    per_line = max(8, int(width / (size * 0.6)) - 2)
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(textwrap.wrap(line, per_line) or [""])
    return size, wrapped[:12]


def _canvas(width: int, height: int, prompt: str, job_id: str, label: str) -> Image.Image:
    """A palette image (small and fast to compress) with the caption drawn on it."""
    background, ink = _colours(prompt)
    image = Image.new("P", (width, height), 0)
    palette = [*background, *ink, *ink, *(c // 2 for c in background)]
    image.putpalette(palette + [0, 0, 0] * (256 - _PALETTE_SIZE))
    size, lines = _caption(width, height, [prompt, f"job {job_id}", label])
    draw = ImageDraw.Draw(image)
    font = _font(size)
    y = size
    for line in lines:
        draw.text((size, y), line, fill=1, font=font)
        y += int(size * 1.3)
    return image


def render_png(width: int, height: int, *, prompt: str, job_id: str, label: str) -> bytes:
    """A PNG of exactly `width` x `height` showing the prompt, the job id and `label`."""
    out = io.BytesIO()
    _canvas(width, height, prompt, job_id, label).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def png(width: int, height: int, key: str) -> bytes:
    """A small flat-colour PNG whose colour depends on `key`: a sample image to upload."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), _colours(key)[0]).save(out, format="PNG")
    return out.getvalue()


def cover_size(width: int, height: int, long_side: int = COVER_LONG_SIDE) -> tuple[int, int]:
    """`width` x `height` scaled down (never up) to a thumbnail's long side."""
    scale = min(1.0, long_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_mp4(width: int, height: int, duration_ms: int, *, prompt: str, job_id: str) -> bytes:
    """An H.264 MP4 of `width` x `height` lasting `duration_ms`, captioned like the images."""
    frames = max(1, round(duration_ms * VIDEO_FPS / 1000))
    base = _canvas(width, height, prompt, job_id, f"video {duration_ms / 1000:g} s")
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream(VIDEO_CODEC, rate=VIDEO_FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, VIDEO_FPS)
        stream.options = {"preset": "ultrafast", "tune": "stillimage"}
        bar = max(2, height // 40)
        for index in range(frames):
            frame_image = base.copy()
            draw = ImageDraw.Draw(frame_image)
            draw.rectangle((0, height - bar, width, height), fill=3)
            draw.rectangle((0, height - bar, width * (index + 1) // frames, height), fill=2)
            frame = av.VideoFrame.from_image(frame_image.convert("RGB"))  # type: ignore[no-untyped-call]
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


class MediaCache:
    """Rendered files by key, rendered once (concurrent requests wait for the first)."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._files: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._locks: dict[tuple[str, str], anyio.Lock] = {}
        self.renders = 0

    async def get(self, key: tuple[str, str], render: Callable[[], bytes]) -> bytes:
        """The cached bytes of `key`, rendering them in a worker thread the first time."""
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            found = self._files.get(key)
            if found is None:
                found = await anyio.to_thread.run_sync(render)
                self.renders += 1
                self._files[key] = found
                while len(self._files) > self._entries:
                    self._files.popitem(last=False)
            else:
                self._files.move_to_end(key)
        self._locks.pop(key, None)
        return found

    def clear(self) -> None:
        self._files.clear()
