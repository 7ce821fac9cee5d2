"""`jimeng-async batch`: input forms, bounded concurrency, the report, interruption and resume."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from cli_process import CliProcess

from jimeng_async.cli import exits, main
from jimeng_async.cli.batch import parse_input
from jimeng_async.errors import InvalidInputError
from jimeng_async.pool import account_key, batch_submit_id
from jimeng_async.testing import Emulator


@pytest.fixture
def env(jimeng_emulator: Emulator, jimeng_token: str) -> dict[str, str]:
    return {**jimeng_emulator.environment(), "JIMENG_TOKEN": jimeng_token}


@pytest.fixture
def cli_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _report(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_plain_lines_and_jsonl_options(
    jimeng_emulator: Emulator, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(
        "a cat\n\n# a comment\n"
        '{"prompt": "a wide dog", "ratio": "16:9", "resolution": "1k"}\n'
        '{"prompt": "waves", "kind": "video", "duration": 5}\n'
    )
    out = tmp_path / "out"
    code = main(["batch", str(prompts), "--out", str(out), "--concurrency", "2", "--json"])
    assert code == exits.OK
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "report": str(tmp_path / "prompts.report.jsonl"),
        "succeeded": 3,
        "failed": 0,
    }
    rows = _report(tmp_path / "prompts.report.jsonl")
    assert [(r["line"], r["kind"], r["status"]) for r in rows] == [
        (1, "image", "succeeded"),
        (4, "image", "succeeded"),
        (5, "video", "succeeded"),
    ]
    assert sum(len(r["files"]) for r in rows) == 9  # type: ignore[arg-type,misc]
    assert jimeng_emulator.stats.requests["generate"] == 3


def test_progress_shows_overall_counts_on_stderr(
    cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\n")
    assert main(["batch", str(prompts), "--out", str(tmp_path)]) == exits.OK
    err = capsys.readouterr().err
    assert "[2/2 done, 0 failed, 0 running]" in err
    assert "batch done: 2 succeeded, 0 failed" in err


def test_failed_lines_are_reported_with_their_exit_code(
    cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("a cat\na blocked thing\n")
    assert main(["batch", str(prompts), "--out", str(tmp_path)]) == exits.FILTERED
    rows = _report(tmp_path / "p.report.jsonl")
    assert [r["status"] for r in rows] == ["succeeded", "failed"]
    assert rows[1]["exit_code"] == exits.FILTERED


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"prompt": "x", "ratio": "5:5"}', "line 1: ratio"),
        ('{"prompt": "x", "colour": "red"}', "unknown field(s) colour"),
        ('{"prompt": "x", "kind": "audio"}', "line 1: kind"),
        ("{not json", "line 1: is not valid JSON"),
        ("a\n" + '{"prompt": "w", "kind": "video", "duration": 7}', "line 2: duration"),
        ("\n# only a comment\n", "holds no prompts"),
    ],
)
def test_bad_input_is_refused_naming_the_line(text: str, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named.replace("(", r"\(").replace(")", r"\)")):
        parse_input(text, default_kind="image")


def test_interrupted_batch_resumes_without_resubmitting(
    jimeng_emulator: Emulator,
    env: dict[str, str],
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\nthree\n")
    argv = ["batch", str(prompts), "--out", str(tmp_path / "out"), "--concurrency", "3"]
    jimeng_emulator.freeze_clock()  # jobs wait in the queue until the clock moves
    child = CliProcess(argv, env)
    child.wait_for(lambda lines: sum("queued" in line for line in lines) >= 3)
    child.proc.send_signal(signal.SIGINT)
    code, _, err = child.finish()
    assert code == exits.INTERRUPTED
    assert "3 submitted job(s) go on running" in err
    assert "run the same command again" in err
    assert f"jimeng-async batch {prompts}" in err
    rows = _report(tmp_path / "p.report.jsonl")
    assert [r["status"] for r in rows] == ["running"] * 3
    assert jimeng_emulator.stats.requests["generate"] == 3

    jimeng_emulator.advance(100.0)
    assert main(argv) == exits.OK
    assert "resuming batch" in capsys.readouterr().err
    rows = _report(tmp_path / "p.report.jsonl")
    assert [r["status"] for r in rows] == ["succeeded"] * 3
    assert jimeng_emulator.stats.requests["generate"] == 3  # resumed by history id, not resent
    assert len(list((tmp_path / "out").iterdir())) == 12
    downloads = jimeng_emulator.stats.requests["cdn"]
    assert main(argv) == exits.OK  # a finished batch stays finished
    assert jimeng_emulator.stats.requests["generate"] == 3
    assert jimeng_emulator.stats.requests["cdn"] == downloads  # its files are not fetched again
    next(iter((tmp_path / "out").iterdir())).unlink()
    assert main(argv) == exits.OK  # ... unless one has gone: that job's files come again
    assert jimeng_emulator.stats.requests["cdn"] == downloads + 4
    assert len(list((tmp_path / "out").iterdir())) == 12


def test_a_submit_cut_short_is_resent_with_the_same_submit_id(
    jimeng_emulator: Emulator, jimeng_token: str, cli_env: None, tmp_path: Path
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\n")
    journal = tmp_path / "p.report.jsonl.journal"
    batch_id = "8c4bd2a4-7c39-4b53-a4b4-0f2d3c1e2a10"
    submit_id = batch_submit_id(batch_id, 0, 0)
    placed = {
        "event": "placed",
        "index": 0,
        "kind": "image",
        "submit_id": submit_id,
        "history_id": None,
        "account_key": account_key(jimeng_token),
        "moves": 0,
    }
    journal.write_text(
        json.dumps({"event": "batch", "batch_id": batch_id, "kind": "mixed"})
        + "\n"
        + json.dumps(placed)
        + "\n"
        + '{"event": "submitted", "in'  # the process died while writing this line
    )
    assert main(["batch", str(prompts), "--out", str(tmp_path / "out")]) == exits.OK
    rows = _report(tmp_path / "p.report.jsonl")
    assert rows[0]["submit_id"] == submit_id
    (record,) = jimeng_emulator.records.values()
    assert record.submit_id == submit_id
    events = journal.read_text().splitlines()
    assert events[2] == '{"event": "submitted", "in'  # the torn line stays alone on its line
    later = [json.loads(e) for e in events[3:]]
    assert [e["event"] for e in later] == ["placed", "submitted", "saved", "finished"]
    assert {e["submit_id"] for e in later if "submit_id" in e} == {submit_id}
    assert later[2]["files"] == rows[0]["files"]
    assert jimeng_emulator.stats.duplicate_submits == 0


def _owners(emu: Emulator) -> list[str]:
    return [record.token for record in emu.records.values()]


def test_two_tokens_split_a_batch(
    jimeng_emulator: Emulator, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = (jimeng_emulator.add_account("cn", credits=100) for _ in range(2))
    prompts = tmp_path / "p.txt"
    prompts.write_text("".join(f"a paper boat, take {i}\n" for i in range(6)))
    argv = ["batch", str(prompts), "--out", str(tmp_path / "out"), "--token", first]
    assert main([*argv, "--token", second, "--concurrency", "4"]) == exits.OK
    owners = _owners(jimeng_emulator)
    assert len(owners) == 6
    assert {first, second} == set(owners)  # JIMENG_TOKEN's account is not used: --token wins
    assert min(owners.count(first), owners.count(second)) >= 2
    assert [r["status"] for r in _report(tmp_path / "p.report.jsonl")] == ["succeeded"] * 6
    err = capsys.readouterr().err
    assert first not in err
    assert second not in err


def test_tokens_come_from_jimeng_tokens(
    jimeng_emulator: Emulator, cli_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = [jimeng_emulator.add_account("cn", credits=100) for _ in range(2)]
    monkeypatch.setenv("JIMENG_TOKENS", f"{tokens[0]}, {tokens[1]}")
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\ntwo\n")
    assert main(["batch", str(prompts), "--out", str(tmp_path), "--concurrency", "2"]) == 0
    assert sorted(_owners(jimeng_emulator)) == sorted(tokens)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--token", "eu-abc"], "--token: has an unknown region prefix"),
        (["--token", "abc", "--token", "abc"], "--token: gives a token twice"),
    ],
)
def test_bad_tokens_are_refused_before_any_request(
    jimeng_emulator: Emulator,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    named: str,
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\n")
    assert main(["batch", str(prompts), *argv]) == exits.USAGE
    assert named in capsys.readouterr().err
    assert sum(jimeng_emulator.stats.requests.values()) == 0


def test_interrupted_multi_token_batch_resumes_without_duplicates(
    jimeng_emulator: Emulator,
    env: dict[str, str],
    cli_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = [jimeng_emulator.add_account("cn", credits=100) for _ in range(2)]
    multi = {**env, "JIMENG_TOKENS": ",".join(tokens)}
    monkeypatch.setenv("JIMENG_TOKENS", multi["JIMENG_TOKENS"])
    prompts = tmp_path / "p.txt"
    prompts.write_text("".join(f"a tin robot, take {i}\n" for i in range(6)))
    argv = ["batch", str(prompts), "--out", str(tmp_path / "out"), "--concurrency", "4"]
    jimeng_emulator.freeze_clock()  # jobs wait in the queue until the clock moves

    def queued_jobs(lines: list[str]) -> int:
        return len({line.split(": ")[0].split("] ")[1] for line in lines if "queued" in line})

    child = CliProcess(argv, multi)
    child.wait_for(lambda lines: queued_jobs(lines) >= 4)
    child.proc.send_signal(signal.SIGINT)
    code, _, err = child.finish()
    assert code == exits.INTERRUPTED
    assert "4 submitted job(s) go on running" in err
    assert set(_owners(jimeng_emulator)) == set(tokens)  # both accounts had jobs in flight
    rows = _report(tmp_path / "p.report.jsonl")
    assert [r["status"] for r in rows].count("running") == 4

    jimeng_emulator.thaw_clock()  # the jobs in flight finish, the two never sent run
    assert main(argv) == exits.OK
    rows = _report(tmp_path / "p.report.jsonl")
    assert [r["status"] for r in rows] == ["succeeded"] * 6
    assert jimeng_emulator.stats.duplicate_submits == 0
    assert jimeng_emulator.stats.requests["generate"] == 6  # one submit per line, ever
    assert len(list((tmp_path / "out").iterdir())) == 24


def test_a_revoked_account_leaves_rotation_and_the_batch_completes_on_the_other(
    jimeng_emulator: Emulator,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    revoked, good = (jimeng_emulator.add_account("cn", credits=100) for _ in range(2))
    jimeng_emulator.expire_account(revoked)
    prompts = tmp_path / "p.txt"
    prompts.write_text("".join(f"a glass bird, take {i}\n" for i in range(4)))
    argv = ["batch", str(prompts), "--out", str(tmp_path), "--token", revoked, "--token", good]
    assert main(argv) == exits.OK
    assert _owners(jimeng_emulator) == [good] * 4
    err = capsys.readouterr().err
    assert "left the rotation: ret 1015: login expired" in err
    assert revoked not in err


def test_a_journal_of_the_earlier_format_is_refused_before_any_request(
    jimeng_emulator: Emulator, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "p.txt"
    prompts.write_text("one\n")
    journal = tmp_path / "p.report.jsonl.journal"
    journal.write_text(
        '{"event": "batch", "v": 1, "batch_id": "8c4bd2a4-7c39-4b53-a4b4-0f2d3c1e2a10"}\n'
        '{"event": "submitted", "line": 1, "submit_id": "x", "history_id": "7921"}\n'
    )
    assert main(["batch", str(prompts), "--out", str(tmp_path)]) == exits.USAGE
    assert "--journal" in capsys.readouterr().err
    assert sum(jimeng_emulator.stats.requests.values()) == 0
