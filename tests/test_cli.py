"""The `jimeng-async` command against the emulator: output streams, --json, exit codes, checks.

The plugin's emulator runs in its own thread, so these synchronous tests call `main()` directly:
the command runs its own event loop beside the emulator's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jimeng_async as jm
from jimeng_async.cli import exits, main
from jimeng_async.testing import Emulator


@pytest.fixture
def cli_env(jimeng_emulator: Emulator, jimeng_token: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment of a user whose client points at the emulator; returns the token."""
    for name, value in jimeng_emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JIMENG_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("JIMENG_TOKEN", jimeng_token)
    return jimeng_token


def test_demo_runs_every_feature_and_says_its_files_come_from_the_emulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path), "--time-scale", "0.01"]) == 0
    captured = capsys.readouterr()
    assert "text to image: 4 images" in captured.err
    assert "image to image (blend): 4 images" in captured.err
    assert "first frame to video" in captured.err
    assert "comes from this local emulator" in captured.err
    files = sorted(p.suffix for p in tmp_path.iterdir())
    assert files == [".mp4"] + [".png"] * 8
    assert sorted(Path(line).suffix for line in captured.out.splitlines()) == files


def test_account_human_and_json(cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["account"]) == 0
    assert "credits 1000" in capsys.readouterr().out
    assert main(["account", "--json"]) == 0
    account = json.loads(capsys.readouterr().out)
    assert account["credits"]["total"] == 1000


def test_image_prints_paths_on_stdout_and_progress_on_stderr(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["image", "a cat", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    saved = [Path(line) for line in captured.out.splitlines()]
    assert len(saved) == 4
    assert all(p.exists() and p.suffix == ".png" for p in saved)
    history_id = saved[0].name.split("-")[0]
    assert f"image {history_id}: generating" in captured.err
    assert f"image {history_id}: saved 4 file(s)" in captured.err
    assert history_id not in captured.out.replace(str(tmp_path), "").replace("-", " ").split()


def test_json_output_and_resume_inferring_the_kind(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --json and -v after the subcommand name, as users type them
    assert main(["video", "waves", "--out", str(tmp_path), "--json", "-v"]) == 0
    captured = capsys.readouterr()
    job = json.loads(captured.out)
    assert job["kind"] == "video"
    assert job["status"] == "succeeded"
    assert [Path(f).suffix for f in job["files"]] == [".mp4"]
    again = tmp_path / "again"
    assert main(["resume", job["history_id"], "--out", str(again), "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["kind"] == "video"
    assert [p.suffix for p in again.iterdir()] == [".mp4"]


def test_models_command_lists_a_region(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--region", "us"]) == 0
    out = capsys.readouterr().out
    assert "nanobanana" in out
    assert "jimeng-video-3.5-pro" in out
    assert "jimeng-5.0" not in out
    assert "jimeng-2.1" not in out
    assert main(["models", "--all"]) == 0
    assert "jimeng-2.1" in capsys.readouterr().out


def test_models_json_is_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "models", "--json"]) == 0
    rows = {row["alias"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["jimeng-4.5"]["default"] is True
    assert rows["jimeng-video-3.5-pro"]["durations"] == [5, 10, 12]
    assert rows["jimeng-video-3.5-pro"]["default"] is True
    assert "2k" in rows["jimeng-4.5"]["resolutions"]


@pytest.mark.parametrize(
    "argv",
    [
        ["image", "a cat", "--ratio", "5:4"],
        ["image", "a cat", "--resolution", "8k"],
        ["video", "waves", "--resolution", "4k"],
    ],
)
def test_bad_choices_exit_2_naming_the_allowed_values(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--token", "abc"])
    assert stop.value.code == exits.USAGE
    assert "choose from" in capsys.readouterr().err


def test_bad_model_and_unknown_token_prefix_are_refused_before_any_request(
    jimeng_emulator: Emulator, cli_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sum(jimeng_emulator.stats.requests.values())
    assert main(["image", "a cat", "--model", "jimeng-9"]) == exits.USAGE
    assert "jimeng-4.0" in capsys.readouterr().err
    assert main(["account", "--token", "eu-abc", "--json"]) == exits.USAGE
    captured = capsys.readouterr()
    assert "unknown region prefix 'eu'" in captured.err
    assert "us-" in captured.err
    refusal = json.loads(captured.out)["error"]
    assert refusal["exit_code"] == exits.USAGE
    assert refusal["code"] == "INVALID_INPUT"
    assert refusal["message"].endswith(jm.InvalidInputError.hint)
    assert main(["image", "a cat", "--image", "missing.png"]) == exits.USAGE
    assert main(["video", "waves", "--duration", "7"]) == exits.USAGE
    assert "5, 10, 12 (seconds)" in capsys.readouterr().err
    assert main(["image", "a cat", "--model", "jimeng-5.0", "--token", "us-abcdef"]) == 2
    assert "not offered in region us" in capsys.readouterr().err
    assert sum(jimeng_emulator.stats.requests.values()) == before


def test_commands_need_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIMENG_TOKEN", raising=False)
    assert main(["account"]) == exits.USAGE


def test_exit_codes_per_error_class(
    jimeng_emulator: Emulator,
    cli_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = str(tmp_path)
    assert main(["image", "a blocked thing", "--out", out]) == exits.FILTERED
    assert main(["receive"]) == 0  # today's credits taken: none left to receive
    jimeng_emulator.set_credits(cli_env, 0)
    assert main(["image", "a cat", "--out", out]) == exits.CREDITS
    jimeng_emulator.set_credits(cli_env, 100)
    jimeng_emulator.freeze_clock()  # the job never leaves the queue
    assert main(["image", "a cat", "--out", out, "--timeout", "0.3"]) == exits.TIMEOUT
    assert "jimeng-async resume" in capsys.readouterr().err
    jimeng_emulator.expire_account(cli_env)
    assert main(["account"]) == exits.AUTH
    monkeypatch.setenv("JIMENG_MAX_RETRIES", "0")
    monkeypatch.setenv("JIMENG_CN_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("JIMENG_CN_COMMERCE_URL", "http://127.0.0.1:9")
    assert main(["account"]) == exits.NETWORK


def test_live_board_draws_a_line_per_job_and_the_overall_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jimeng_async.cli.display import JobBoard

    with JobBoard(total=2, live=True) as board:
        board.add("1", "line 1")
        board.add("2", "line 2")
        board.rename("1", "image 7001")
        board.update("1", "queued (position 3 of 9)")
        board.finish("2", "failed: blocked", ok=False)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "image 7001" in captured.err
    assert "queued (position 3 of 9)" in captured.err
    assert "1/2 done, 1 failed, 1 running" in captured.err


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (jm.GenerationFilteredError("x", fail_code="2038", history_id="1"), exits.FILTERED),
        (jm.GenerationFailedError("x", fail_code="2039", history_id="1"), exits.GENERATION_FAILED),
        (jm.InsufficientCreditsError("x"), exits.CREDITS),
        (jm.PermissionDeniedError("x"), exits.AUTH),
        (jm.ServiceBusyError("x"), exits.BUSY),
        (jm.RateLimitError("x"), exits.BUSY),
        (jm.ServerError("x"), exits.NETWORK),
        (jm.GenerationTimeoutError("x", history_id="1", kind="image"), exits.TIMEOUT),
        (jm.InvalidRequestError("x"), exits.USAGE),
        (jm.APIError("x"), exits.GENERATION_FAILED),
    ],
)
def test_exit_code_of_each_error_class(error: Exception, code: int) -> None:
    assert exits.exit_code_for(error) == code
