"""Every file in examples/ runs against the emulator, as a user would run it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import anyio
import httpx
import pytest

import jimeng_async as jm
from jimeng_async.testing import Emulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class FakeMessage:
    def __init__(self, chat: FakeChat, text: str) -> None:
        self.chat, self.texts = chat, [text]

    async def edit(self, text: str) -> None:
        self.texts.append(text)


class FakeChat:
    """A chat platform in memory: records what the bot sent and how it edited it."""

    def __init__(self) -> None:
        self.messages: list[FakeMessage] = []
        self.files: list[Path] = []

    async def send(self, text: str) -> FakeMessage:
        self.messages.append(FakeMessage(self, text))
        return self.messages[-1]

    async def send_files(self, paths: Sequence[Path]) -> None:
        self.files.extend(paths)


def test_chat_bot_edits_one_message_with_progress(
    jimeng_emulator: Emulator, jimeng_token: str, jimeng_settings: jm.Settings, tmp_path: Path
) -> None:
    bot = _load("chat_bot")
    chat = FakeChat()

    async def scenario() -> list[Path]:
        async with jm.JimengSession(jimeng_token, settings=jimeng_settings) as session:
            paths: list[Path] = await bot.draw(session, chat, "a fox", tmp_path)
            await bot.draw(session, chat, "a blocked fox", tmp_path)
            return paths

    paths = anyio.run(scenario)
    assert len(paths) == 4
    assert chat.files == paths
    first, blocked = chat.messages
    assert first.texts[0] == "🎨 a fox: submitting"
    assert any("in queue" in text or "processing" in text for text in first.texts[1:-1])
    assert first.texts[-1] == "🎨 a fox: done"
    assert blocked.texts[-1] == "That prompt was blocked by moderation."


def test_batch_script_reports_each_prompt(
    jimeng_emulator: Emulator, jimeng_token: str, jimeng_settings: jm.Settings, tmp_path: Path
) -> None:
    script = _load("batch_script")
    prompts = ["a cat", "a dog", "a blocked bird", "a fish"]
    outcomes = anyio.run(
        lambda: script.run_batch(
            jimeng_token, prompts, tmp_path, concurrency=2, settings=jimeng_settings
        )
    )
    assert [len(v) for k, v in outcomes.items() if k != "a blocked bird"] == [4, 4, 4]
    assert outcomes["a blocked bird"].startswith("GenerationFilteredError")
    assert jimeng_emulator.stats.requests["generate"] == 4


def test_fastapi_app_opens_one_session_per_user_and_closes_them(
    jimeng_emulator: Emulator, jimeng_settings: jm.Settings
) -> None:
    example = _load("fastapi_app")
    app = example.create_app(jimeng_settings)
    alice = jimeng_emulator.add_account("cn", credits=10)
    bob = jimeng_emulator.add_account("us", credits=20)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
                assert len(app.state.sessions) == 0
                drawn = await http.post(
                    "/images", json={"prompt": "a cat"}, headers={"X-Jimeng-Token": alice}
                )
                assert drawn.status_code == 200
                assert len(drawn.json()["urls"]) == 4
                bad = await http.post(
                    "/images",
                    json={"prompt": "a cat", "ratio": "5:5"},
                    headers={"X-Jimeng-Token": alice},
                )
                assert bad.status_code == 422
                assert "ratio" in bad.json()["detail"]
                both = [
                    await http.get("/credits", headers={"X-Jimeng-Token": token})
                    for token in (alice, bob)
                ]
                assert [r.json()["total"] for r in both] == [9, 20]
                assert len(app.state.sessions) == 2
            sessions = list(app.state.sessions._open.values())
        assert len(app.state.sessions) == 0
        for session in sessions:
            with pytest.raises(jm.JimengError):
                await session.submit_image("after shutdown")

    anyio.run(scenario)


def test_plugin_example_passes_under_pytest(pytester: pytest.Pytester) -> None:
    shutil.copy(EXAMPLES / "test_with_plugin.py", pytester.path / "test_with_plugin.py")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == outcomes.get("errors", 0) == 0
    assert outcomes["passed"] >= 2  # 3 where trio is installed: anyio runs it on both
