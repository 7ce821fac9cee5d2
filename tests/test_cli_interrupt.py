"""Ctrl-C: the command says the job goes on (and is charged) and how to resume it; exit 130."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from cli_process import CliProcess

from jimeng_async.cli import exits, main
from jimeng_async.testing import Emulator, FaultConfig


def test_ctrl_c_names_the_resume_command_and_the_job_can_be_resumed(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**jimeng_emulator.environment(), "JIMENG_TOKEN": jimeng_token}
    jimeng_emulator.freeze_clock()  # the job waits in the queue until the test moves the clock
    child = CliProcess(["image", "a cat", "--out", str(tmp_path)], env)
    child.wait_for(lambda lines: any("queued" in line for line in lines))
    child.proc.send_signal(signal.SIGINT)
    code, out, err = child.finish()
    assert code == exits.INTERRUPTED
    assert out == ""
    (history_id,) = jimeng_emulator.records
    assert "goes on running on the service and is charged" in err
    assert f"jimeng-async resume {history_id} --kind image" in err
    assert "Traceback" not in err

    jimeng_emulator.advance(100.0)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["resume", history_id, "--kind", "image", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.iterdir())) == 4
    assert jimeng_emulator.stats.requests["generate"] == 1


def test_ctrl_c_before_any_submit_says_nothing_was_charged(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    env = {**jimeng_emulator.environment(), "JIMENG_TOKEN": jimeng_token}
    # every credit query hangs long enough for the signal to land first
    jimeng_emulator.faults = FaultConfig(
        slow_rate=1.0, slow_seconds=30.0, endpoints=frozenset({"user_credit"})
    )
    child = CliProcess(["image", "a cat", "--out", str(tmp_path), "-v"], env)
    child.wait_for(lambda lines: any("image job: submitting" in line for line in lines))
    child.proc.send_signal(signal.SIGINT)
    code, _, err = child.finish()
    assert code == exits.INTERRUPTED
    assert "nothing was charged" in err
    assert not jimeng_emulator.records
