"""Every ```python block of README.md runs, in order, against the emulator.

The blocks share one namespace, as a reader's session would. The prelude, the only thing
added, is what a reader has at hand:

- `jm` (jimeng_async) and `anyio`; `token`, a cn account with credits; `s`, an open session;
- `png_bytes`, and in the working directory the files the README names: cat.png, cat.jpg,
  day.png, a.png, b.png; https://example.com/<name> serves a small WebP;
- `jm.JimengSession(token)` without settings points at the emulator, and a token the README
  makes up (such as "us-xxxxxxxx") becomes an account there, so literal examples run as
  written; so does the session inside `jm.SyncSession(token)`;
- `jm.JimengPool(tokens)` without settings likewise, and `prompts` is a short list of prompts;
- `my_browser`, the reader's own way to compute browser signatures: its `sign()` returns two
  made-up values;
- a block that defines `test_*` functions has them called with `jimeng_emulator` and
  `jimeng_token`, as the plugin would.

A block with top-level `await` runs on one long-lived event loop (the one `s` lives on); a
block without runs as a script (it may call `anyio.run` itself).
"""

from __future__ import annotations

import ast
import inspect
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import respx
from anyio.from_thread import BlockingPortal, start_blocking_portal

import jimeng_async as jm
import jimeng_async.sync
from jimeng_async.auth import split_token
from jimeng_async.testing import Emulator
from jimeng_async.testing.media import png

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _webp(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    vp8l = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 5
    chunk = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _jpeg(width: int, height: int) -> bytes:
    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + segment(0xE0, app0) + segment(0xC0, sof0) + b"\xff\xd9"


def readme_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks() -> None:
    assert len(readme_blocks()) >= 4


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal(backend="asyncio") as running:
        yield running


def _session_class(emulator: Emulator) -> type[jm.JimengSession]:
    real = jm.JimengSession

    class ReadmeSession(real):  # type: ignore[misc,valid-type]
        def __init__(self, token: str, **options: Any) -> None:
            if options.get("settings") is None:
                region, _ = split_token(token)
                if token not in emulator.state.accounts:
                    emulator.add_account(region, credits=100, token=token)
                options["settings"] = emulator.settings()
            super().__init__(token, **options)

    return ReadmeSession


def _pool_class(emulator: Emulator) -> type[jm.JimengPool]:
    real = jm.JimengPool

    class ReadmePool(real):  # type: ignore[misc,valid-type]
        def __init__(self, tokens: list[str], **options: Any) -> None:
            if options.get("settings") is None:
                for token in tokens:
                    if token not in emulator.state.accounts:
                        emulator.add_account(split_token(token)[0], credits=100, token=token)
                options["settings"] = emulator.settings()
            super().__init__(tokens, **options)

    return ReadmePool


class _Browser:
    """Stands in for the browser page a reader drives to compute msToken / a_bogus."""

    async def sign(self, url: str, params: Any, body: Any) -> tuple[str, str]:
        return "ms-token-from-the-page", "a-bogus-from-the-page"


async def _await(awaitable: Any) -> Any:
    return await awaitable


def test_every_readme_python_block_runs(
    jimeng_emulator: Emulator,
    portal: BlockingPortal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("cat.png", "day.png", "a.png", "b.png"):
        (tmp_path / name).write_bytes(png(64, 48, name))
    (tmp_path / "cat.jpg").write_bytes(_jpeg(80, 60))
    monkeypatch.setattr(jm, "JimengSession", _session_class(jimeng_emulator))
    monkeypatch.setattr(jimeng_async.sync, "JimengSession", jm.JimengSession)
    monkeypatch.setattr(jm, "JimengPool", _pool_class(jimeng_emulator))
    token = jimeng_emulator.add_account("cn", credits=500)
    session = jm.JimengSession(token)
    namespace: dict[str, Any] = {
        "__name__": "readme",
        "jm": jm,
        "anyio": anyio,
        "token": token,
        "png_bytes": png(32, 32, "bytes"),
        "prompts": ["a fox in snow", "a lighthouse at dusk", "a bowl of ramen"],
        "my_browser": _Browser(),
    }
    with (
        respx.mock(assert_all_called=False) as web,
        portal.wrap_async_context_manager(session) as s,
    ):
        web.route(host="example.com").mock(return_value=httpx.Response(200, content=_webp(40, 30)))
        web.route(host="127.0.0.1").pass_through()
        namespace["s"] = s
        for number, source in enumerate(readme_blocks(), start=1):
            before = set(namespace)
            code = compile(
                source, f"README.md python block {number}", "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )  # fmt: skip
            if code.co_flags & inspect.CO_COROUTINE:
                portal.call(_await, eval(code, namespace))  # noqa: S307 (our own README)
            else:
                exec(code, namespace)  # noqa: S102 (our own README)
            for name in sorted(set(namespace) - before):
                if name.startswith("test_") and inspect.iscoroutinefunction(namespace[name]):
                    fixtures = {
                        "jimeng_emulator": jimeng_emulator,
                        "jimeng_token": jimeng_emulator.add_account("cn", credits=100),
                        "jimeng_settings": jimeng_emulator.settings(),
                        "jimeng_url": jimeng_emulator.url,
                    }
                    wanted = inspect.signature(namespace[name]).parameters
                    call = namespace[name](**{arg: fixtures[arg] for arg in wanted})
                    portal.call(_await, call)
    assert jimeng_emulator.stats.requests["generate"] >= 4
