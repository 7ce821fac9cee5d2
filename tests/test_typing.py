"""The public signatures, as a user's type checker sees them.

The `assert_type` lines are checked by `mypy --strict` (the `typecheck` session runs it over
tests/), and pytest runs the same code against the emulator, so each snippet is both well
typed and true. `test_misuse_is_a_type_error` runs mypy on code that must not type-check:
mistyped option names, a string duration, the other kind's result attribute.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typing_extensions import assert_type

import jimeng_async as jm
from jimeng_async.testing import Emulator
from jimeng_async.testing.media import png

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


async def test_session_quick_start_types(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        assert_type(s, jm.JimengSession)
        info = assert_type(await s.account_info(), jm.AccountInfo)
        credits = assert_type(await s.credits(), jm.CreditInfo)
        assert_type(credits.total, int)
        receipt = assert_type(await s.receive_credits(), jm.CreditReceipt)
        alive = assert_type(await s.token_alive(), bool)
    assert info.user_id
    assert alive
    assert receipt.total >= 0


async def test_upload_and_generation_types(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(png(64, 48, "typing"))
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        ref = assert_type(await s.upload_image(path), jm.ImageRef)
        assert_type(await s.upload_image(str(path)), jm.ImageRef)
        assert_type(await s.upload_image(path.read_bytes()), jm.ImageRef)
        with path.open("rb") as handle:
            assert_type(await s.upload_image(handle), jm.ImageRef)
        assert_type(await s.upload_image(ref), jm.ImageRef)

        task = assert_type(
            await s.submit_image("a red fox", ratio="16:9", resolution="2k"),
            jm.GenerationTask[jm.ImageResult],
        )
        async for step in task.progress():
            assert_type(step, jm.Progress)
            assert_type(step.status, jm.TaskStatus)
        result = assert_type(await task, jm.ImageResult)
        assert_type(result.images, list[jm.Asset])
        assert_type(await task.wait(timeout=5), jm.ImageResult)
        paths = assert_type(await result.save(tmp_path / "out"), list[Path])

        blend = assert_type(
            await s.generate_image("make it night", images=[path, ref]), jm.ImageResult
        )
        video = assert_type(
            await s.generate_video("waves", duration=10, first_frame=path, end_frame=ref),
            jm.VideoResult,
        )
        assert_type(video.video, jm.Asset)
        video_task = assert_type(
            await s.submit_video("waves", model="jimeng-video-3.0", resolution="1080p"),
            jm.GenerationTask[jm.VideoResult],
        )

        saved = assert_type(task.to_dict(), dict[str, Any])
        assert_type(s.resume(saved["history_id"]), jm.GenerationTask[jm.Result])
        assert_type(s.resume(task.history_id, kind="image"), jm.GenerationTask[jm.ImageResult])
        again = assert_type(await s.resume(video_task.history_id, kind="video"), jm.VideoResult)
        either = assert_type(await s.resume(task.history_id), jm.ImageResult | jm.VideoResult)
        view = assert_type(s.with_options(timeout=10, max_retries=0), jm.JimengSession)
        assert_type(await view.credits(), jm.CreditInfo)
    assert len(paths) == len(blend.images) == 4
    assert video.video.url
    assert again.video.url
    assert isinstance(either, jm.ImageResult)


async def test_pool_types(jimeng_emulator: Emulator) -> None:
    tokens = [jimeng_emulator.add_account("cn", credits=100) for _ in range(2)]
    async with jm.JimengPool(tokens, settings=jimeng_emulator.settings()) as pool:
        image = assert_type(await pool.generate_image("a cat"), jm.ImageResult)
        assert_type(await pool.submit_video("waves"), jm.GenerationTask[jm.VideoResult])
        async for outcome in pool.map_images(["a fox", "a bowl of ramen"], concurrency=2):
            assert_type(outcome, jm.Outcome[jm.ImageResult])
            assert_type(outcome.result, jm.ImageResult | None)
            assert outcome.result is not None
            assert_type(outcome.result.images, list[jm.Asset])
        async for video in pool.map_videos(["waves"]):
            assert_type(video.result, jm.VideoResult | None)
        health = assert_type(await pool.health(), list[jm.AccountHealth])
    assert len(image.images) == 4
    assert len(health) == 2


def test_settings_constructor_is_typed() -> None:
    settings = jm.Settings(max_queries=3, request_timeout=10.0, proxy=None, trust_env=False)
    assert_type(settings.max_queries, int)
    assert_type(settings.proxy, str | None)
    assert_type(settings.replace(max_retries=1), jm.Settings)
    assert settings.max_queries == 3


def test_sync_facade_types(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    with jm.SyncSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        assert_type(s.credits(), jm.CreditInfo)
        result = assert_type(s.generate_image("a cat", ratio="4:3"), jm.ImageResult)
        assert_type(s.resume(result.history_id), jm.ImageResult | jm.VideoResult)
        assert_type(s.resume(result.history_id, kind="image"), jm.ImageResult)
    assert len(result.images) == 4


MISUSE = """
    import jimeng_async as jm

    async def misuse(s: jm.JimengSession, pool: jm.JimengPool) -> None:
        await s.generate_image("a cat", ratoi="16:9")
        await s.generate_video("waves", duration="5")
        await s.submit_image("a cat", ratio="16:10")
        await s.submit_video("waves", resolution="4k")
        image = await s.generate_image("a cat")
        image.video
        video = await (await s.submit_video("waves"))
        video.images
        await pool.generate_image("a cat", duration=5)
        jm.Settings(max_retries="3")
        jm.Settings(max_retrys=3)
        await s.upload_image(3)
"""


#: What test_readme.py's prelude gives the README's blocks, as a type checker sees it.
README_PRELUDE = """
import anyio
import jimeng_async as jm
from collections.abc import Mapping


class _Browser:
    async def sign(self, url: str, params: Mapping[str, str], body: bytes) -> tuple[str, str]:
        return "", ""


async def readme(
    s: jm.JimengSession, token: str, png_bytes: bytes, prompts: list[str], my_browser: _Browser
) -> None:
"""


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """One mypy --strict run (the project's configuration) over the misuse snippet and the
    README's blocks; the error lines of each file by its name."""
    api = pytest.importorskip("mypy.api")
    folder = tmp_path_factory.mktemp("typing")
    (folder / "misuse.py").write_text(textwrap.dedent(MISUSE), encoding="utf-8")
    # The README's blocks, in order in one async function: they share names, some await at
    # top level, and a block may rebind a name (hence --allow-redefinition).
    blocks = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    body = "\n".join(
        textwrap.indent(f"# README block {n}\n{block}", "    ")
        for n, block in enumerate(blocks, start=1)
    )
    readme = textwrap.dedent(README_PRELUDE).lstrip() + body
    (folder / "readme_blocks.py").write_text(readme, encoding="utf-8")
    config = str(ROOT / "pyproject.toml")
    cache = str(ROOT / ".mypy_cache")
    files = [str(folder / "misuse.py"), str(folder / "readme_blocks.py")]
    options = ["--strict", "--allow-redefinition", "--config-file", config, "--cache-dir", cache]
    out, err, _ = api.run([*options, *files])
    assert not err, err
    errors: dict[str, list[str]] = {"misuse.py": [], "readme_blocks.py": []}
    for line in out.splitlines():
        if ": error:" in line:
            errors[Path(line.split(":")[0]).name].append(line)
    return errors


def test_misuse_is_a_type_error(mypy_errors: dict[str, list[str]]) -> None:
    lines = {int(line.split(":")[1]) for line in mypy_errors["misuse.py"]}
    # Every statement of the misuse body is an error (line numbers of the dedented file).
    assert lines == set(range(5, 17)) - {9, 11}, mypy_errors["misuse.py"]


def test_every_readme_block_type_checks(mypy_errors: dict[str, list[str]]) -> None:
    """`result.images`, `video.video`, pool outcomes...: the README passes mypy --strict."""
    assert mypy_errors["readme_blocks.py"] == []
