"""A 100 MB upload: throughput of the whole flow against a bare httpx PUT, and peak memory.

Ours: `session.upload_image(path)`, the four steps (token, ApplyImageUpload, the bytes,
CommitImageUpload) and the checks before them (format, size, CRC32, SHA-256). Baseline: the
same bytes streamed from the same file with bare httpx to the same emulator upload endpoint,
with an address granted beforehand and the CRC32 computed outside the timing: the transfer
alone. Peak memory is traced (tracemalloc) in a separate repeat, for ours and the baseline.

    python -m benchmarks.upload [--quick]
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx

import jimeng_async as jm
from jimeng_async.testing.media import png

from .harness import EmulatorProcess, Row, median, script_main, spread

BLOCK = 1024 * 1024


def make_file(folder: Path, megabytes: int) -> Path:
    path = folder / "large.png"
    with path.open("wb") as out:
        out.write(png(64, 64, "large"))
        block = bytes(range(256)) * (BLOCK // 256)
        for _ in range(megabytes):
            out.write(block)
    return path


async def ours(emu: EmulatorProcess, path: Path, size: int) -> float:
    """Seconds for one upload on a fresh session (a session uploads the same bytes once)."""
    token = await emu.add_account(10)
    settings = emu.settings(max_upload_bytes=size + 1)
    async with jm.JimengSession(token, settings=settings) as s:
        await s.credits()  # connection warm
        started = time.perf_counter()
        await s.upload_image(path)
        return time.perf_counter() - started


async def bare(emu: EmulatorProcess, path: Path, size: int, crc: str) -> float:
    token = await emu.add_account(10)
    slot = await emu.command("upload_slot", token=token, size=size)

    async def body() -> AsyncIterator[bytes]:
        async with await anyio.open_file(path, "rb") as source:
            while chunk := await source.read(BLOCK):
                yield chunk

    headers = {
        "Authorization": slot["auth"],
        "Content-CRC32": crc,
        "Content-Type": "application/octet-stream",
        "Content-Disposition": 'attachment; filename="undefined"',
        "Content-Length": str(size),
    }
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.perf_counter()
        response = await client.post(slot["url"], content=body(), headers=headers)
        elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def crc32_of(path: Path) -> str:
    crc = 0
    with path.open("rb") as source:
        while chunk := source.read(BLOCK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


async def rows(quick: bool = False) -> list[Row]:
    megabytes, repeats = (4, 1) if quick else (100, 3)
    with tempfile.TemporaryDirectory() as folder:
        path = make_file(Path(folder), megabytes)
        size = path.stat().st_size
        crc = crc32_of(path)
        async with EmulatorProcess(time_scale=0.01, max_upload_bytes=size + 1) as emu:
            mine: list[float] = []
            base: list[float] = []
            for _ in range(repeats):  # interleaved, so that load changes hit both alike
                mine.append(size / 1e6 / await ours(emu, path, size))
                base.append(size / 1e6 / await bare(emu, path, size, crc))
            peaks = []
            for traced in ("ours", "bare"):
                tracemalloc.start()
                if traced == "ours":
                    await ours(emu, path, size)
                else:
                    await bare(emu, path, size, crc)
                peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
                tracemalloc.stop()
    ratio = median(mine) / median(base)
    return [
        Row(
            f"{megabytes} MB upload: whole-flow throughput, MB/s",
            spread(mine, "{:.0f}"),
            f"{spread(base, '{:.0f}')} (bare httpx PUT)",
            f"{ratio:.2f}",
            ">= 0.9",
            None if quick else ratio >= 0.9,
        ),
        Row(
            f"{megabytes} MB upload: peak traced memory, MiB",
            f"{peaks[0]:.2f}",
            f"{peaks[1]:.2f} (bare httpx PUT)",
            "",
            "< 16 MiB",
            None if quick else peaks[0] < 16,
        ),
    ]


def main() -> None:
    script_main("benchmarks.upload", rows)


if __name__ == "__main__":
    main()
