"""The blocking facade: the README's SyncSession quick start runs as a plain script (its own
process, no event loop of its own) against an emulator this test starts, and the facade keeps
the session's typing, errors and closing rules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import jimeng_async as jm
from jimeng_async.testing import Emulator

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _readme_sync_block() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = [str(b) for b in BLOCK.findall(text) if "SyncSession" in b]
    assert len(blocks) == 1
    return blocks[0]


def test_readme_sync_quick_start_runs_as_a_plain_script(
    jimeng_emulator: Emulator, tmp_path: Path
) -> None:
    jimeng_emulator.add_account("us", credits=0, token="us-xxxxxxxx")
    script = tmp_path / "quick_start.py"
    script.write_text(_readme_sync_block(), encoding="utf-8")
    env = {**os.environ, **jimeng_emulator.environment()}
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    saved = sorted((tmp_path / "out").iterdir())
    assert len(saved) == 4
    assert all(path.stat().st_size > 0 for path in saved)
    first_line = done.stdout.splitlines()[0]
    assert first_line.endswith(" True")  # nickname, the credits received, token alive
    assert jimeng_emulator.stats.requests["credit_receive"] == 1  # credits were 0
    assert jimeng_emulator.stats.requests["generate"] == 1


def test_sync_session_reads_jimeng_token_and_closes_its_thread(
    jimeng_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIMENG_TOKEN", jimeng_emulator.add_account("cn", credits=33))
    before = threading.active_count()
    s = jm.SyncSession(settings=jimeng_emulator.settings())
    assert threading.active_count() == before + 1  # the private loop's thread
    assert s.credits().total == 33
    video = s.generate_video("waves", duration=5)
    resumed = s.resume(video.history_id, kind="video")
    # The same file; the signed query moves with the second the answer was made in.
    assert resumed.video.url.split("?")[0] == video.video.url.split("?")[0]
    s.close()
    s.close()  # idempotent
    assert threading.active_count() == before
    with pytest.raises(jm.SessionClosedError):
        s.credits()


def test_sync_session_raises_the_sessions_errors(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account("cn", credits=10)
    with jm.SyncSession(token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InvalidInputError) as info:
            s.generate_image("a cat", ratio="5:4")  # type: ignore[arg-type]
        assert info.value.field == "ratio"
        jimeng_emulator.expire_account(token)
        with pytest.raises(jm.AuthError):
            s.account_info(refresh=True)
    assert jimeng_emulator.stats.requests["generate"] == 0


def test_a_sync_session_that_cannot_start_leaves_no_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JIMENG_TOKEN", raising=False)
    before = threading.active_count()
    with pytest.raises(jm.InvalidInputError):
        jm.SyncSession()
    assert threading.active_count() == before
