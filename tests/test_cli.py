"""The `jimeng-async` command: the demo, and the account commands against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from jimeng_async.cli import main
from jimeng_async.testing import Emulator


def test_demo_runs_every_feature_on_the_embedded_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path), "--time-scale", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "text to image: 4 images" in out
    assert "image to image (blend): 4 images" in out
    assert "first frame to video" in out
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert files == [".mp4"] + [".png"] * 8


@pytest.mark.anyio
async def test_account_image_and_resume_commands(
    jimeng_emulator: Emulator,
    jimeng_token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in jimeng_emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JIMENG_TOKEN", jimeng_token)

    def run(*argv: str) -> int:
        return main(list(argv))

    # The command runs its own event loop, so it runs in a thread beside the emulator's.
    assert await anyio.to_thread.run_sync(run, "account") == 0
    account = json.loads(capsys.readouterr().out)
    assert account["credits"]["total"] == 1000
    assert await anyio.to_thread.run_sync(run, "image", "a cat", "--out", str(tmp_path)) == 0
    lines = capsys.readouterr().out.splitlines()
    saved = [Path(line) for line in lines if line.endswith(".png")]
    assert len(saved) == 4
    assert all(p.exists() for p in saved)
    history_id = saved[0].name.split("-")[0]
    again = tmp_path / "again"
    assert await anyio.to_thread.run_sync(run, "resume", history_id, "--out", str(again)) == 0
    assert len(list(again.iterdir())) == 4


def test_commands_need_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIMENG_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="JIMENG_TOKEN"):
        main(["account"])


def test_models_command_lists_a_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--region", "us"]) == 0
    out = capsys.readouterr().out
    assert "nanobanana" in out
    assert "jimeng-video-3.5-pro" in out
    assert "jimeng-5.0" not in out
    assert "jimeng-2.1" not in out
    assert main(["models", "--all"]) == 0
    assert "jimeng-2.1" in capsys.readouterr().out
