"""Hostile answers and careless callers against the emulator: every failure typed, no leak."""

from __future__ import annotations

import io
import logging
import re
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import anyio
import pytest
from media_server import Route, media_server

import jimeng_async as jm
from jimeng_async.metrics import Metrics
from jimeng_async.results import Downloader
from jimeng_async.testing import Emulator, FaultConfig
from jimeng_async.testing.media import png
from jimeng_async.transport import RetryPolicy, StreamBounds

pytestmark = pytest.mark.anyio


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR (with a correct CRC) claims `width` x `height`."""
    data = bytearray(png(8, 8, "claim"))
    ihdr = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    return bytes(data)


# -- inputs: checked before the first request of the call -------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"not an image at all", "not a supported image"),
        (png(16, 16, "cut")[:-30], "truncated"),
        (_png_claiming(100_000, 100_000), "claims 100000x100000"),
        (_png_claiming(8, 8)[:29] + b"\0\0\0\0" + _png_claiming(8, 8)[33:], "CRC"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "lacks IHDR"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    ],
)
async def test_a_bad_image_in_a_blend_fails_before_credits_and_uploads(
    jimeng_emulator: Emulator, jimeng_token: str, bad: bytes, message: str
) -> None:
    jimeng_emulator.set_credits(jimeng_token, 0)  # a credits pre-check would receive the day's
    good = png(32, 32, "good")
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InvalidSourceError, match=message) as info:
            await s.submit_image("blend", images=[good, good, bad])
    assert info.value.field == "images[2]"
    assert isinstance(info.value, jm.InvalidInputError)
    assert isinstance(info.value, jm.UploadError)
    assert sum(jimeng_emulator.stats.requests.values()) == 0
    assert jimeng_emulator.credits_of(jimeng_token) == 0


async def test_a_bad_end_frame_is_named_and_nothing_is_sent(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.InvalidSourceError, match="directory") as info:
            await s.submit_video("waves", first_frame=png(8, 8, "f"), end_frame=tmp_path)
    assert info.value.field == "end_frame"
    assert sum(jimeng_emulator.stats.requests.values()) == 0


async def test_sources_of_the_wrong_kind_are_refused_by_name(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png(8, 8, "a"))
    closed = path.open("rb")
    closed.close()
    with path.open("r", encoding="latin-1") as text_mode, path.open("ab") as write_only:
        cases: list[tuple[Any, str]] = [
            (tmp_path, "is a directory"),
            ("", "is a directory"),
            (text_mode, "text"),
            (closed, "closed file"),
            (io.StringIO("abc"), "text stream"),
            (write_only, "not open for reading"),
            (object(), "cannot upload a object"),
            ("bad\x00path.png", "cannot read the file"),
        ]
        async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
            for source, message in cases:
                with pytest.raises(jm.InvalidSourceError, match=message) as info:
                    await s.upload_image(source)
                assert info.value.field == "source"
                assert "allowed: a path, bytes" in str(info.value)
    assert sum(jimeng_emulator.stats.requests.values()) == 0


async def test_wrong_typed_arguments_are_invalid_input(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path
) -> None:
    with pytest.raises(jm.InvalidInputError, match="settings: is a dict"):
        jm.JimengSession(jimeng_token, settings={"max_uploads": 2})  # type: ignore[arg-type]
    with pytest.raises(jm.InvalidInputError, match="http_client: is a str"):
        jm.JimengSession(jimeng_token, http_client="client")  # type: ignore[arg-type]
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("a cat")
        for timeout in ("5", -1, float("nan"), float("inf"), True):
            with pytest.raises(jm.InvalidInputError, match="timeout"):
                await task.wait(timeout=timeout)  # type: ignore[arg-type]
        with pytest.raises(jm.InvalidInputError, match="time_zone"):
            await s.receive_credits(time_zone=8)  # type: ignore[arg-type]
        with pytest.raises(jm.InvalidInputError, match="time_zone"):
            await s.receive_credits(time_zone="Asia/Shanghai\r\nX: y")
        result = await task
        for directory in (123, None, b"out"):
            with pytest.raises(jm.InvalidInputError, match="directory: is a"):
                await result.save(directory)  # type: ignore[arg-type]
        a_file = tmp_path / "file"
        a_file.write_bytes(b"x")
        with pytest.raises(jm.InvalidInputError, match="directory: cannot be created"):
            await result.save(a_file)


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "abc\r\nX-Injected: 1",
        "abcdef; sessionid=x",
        "abc,def",
        "tökenvalue",
        "abc def",
        "abc\tdef",
        "us-",
        "",
        "a" * 513,
    ],
)
def test_tokens_that_would_break_the_cookie_are_refused_without_echo(token: str) -> None:
    with pytest.raises(jm.InvalidInputError) as info:
        jm.JimengSession(token)
    assert info.value.field == "refresh_token"
    text = str(info.value) + repr(info.value)
    if len(token) >= 3:
        assert token not in text
        assert token.split(";")[0].split(",")[0] not in text or len(token.split(";")[0]) < 4
    assert "sessionid=x" not in text


def _leaks(text: str, secrets: list[str]) -> list[str]:
    found = [s for s in secrets if s in text]
    patterns = [
        r"x-signature=[0-9a-f]",
        r"(?i)sessionid(_ss)?=(?!<redacted>)\w",
        r"Signature=[0-9a-f]",
        r"(?i)'sign', b'[0-9a-f]",
    ]
    found += [p for p in patterns if re.search(p, text)]
    return found


async def test_no_secret_in_any_log_line_repr_message_or_snapshot(
    jimeng_emulator: Emulator,
    jimeng_token: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issued: list[dict[str, Any]] = []
    original = jimeng_emulator.imagex.issue_credentials

    def recording(token: str, profile: Any) -> dict[str, Any]:
        credentials = original(token, profile)
        issued.append(credentials)
        return credentials

    monkeypatch.setattr(jimeng_emulator.imagex, "issue_credentials", recording)
    caplog.set_level(logging.DEBUG)  # the root logger: httpx and httpcore speak too
    texts: list[str] = []
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        texts.append(repr(await s.account_info()))
        ref = await s.upload_image(png(40, 30, "leak"))
        result = await s.generate_image("a cat", images=[ref])
        paths = await result.save(tmp_path)
        texts += [repr(result), str(result), repr(s), repr(ref), str(s.metrics.snapshot())]
        texts += [repr(result.images[0]), str(result.images[0])]
        try:
            await s.upload_image(f"https://user:hunter2pass@127.0.0.1:1/a.png?sig={'9' * 40}")
        except jm.JimengError as exc:
            texts += [str(exc), repr(exc)]
    assert len(paths) == len(result.images) > 0
    assert issued, "the upload ran with emulator credentials"
    secrets = [jimeng_token, "hunter2pass", "9" * 40]
    for credentials in issued:
        secrets += [credentials["secret_access_key"], credentials["session_token"]]
    secrets += [a.url.split("?", 1)[1] for a in result.images]
    lines = [record.getMessage() for record in caplog.records]
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    assert any("set-cookie" in line for line in lines), "httpcore logged response headers"
    for text in lines + texts:
        assert _leaks(text, secrets) == [], text


def test_mask_never_shows_more_than_four_characters() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from jimeng_async.auth import mask_token, split_token

    alphabet = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,")

    @given(st.sampled_from(["", "us-", "hk-", "jp-", "sg-"]), st.text(alphabet, min_size=1))
    def check(prefix: str, body: str) -> None:
        token = prefix + body
        _region, session_id = split_token(token)
        masked = mask_token(token)
        shown = masked.split("***", 1)[1]
        assert len(shown) <= 4
        assert masked.startswith(prefix.lower() + "***")
        assert shown == (session_id[-4:] if len(session_id) >= 16 else "")
        if len(session_id) >= 8:
            assert session_id not in masked

    check()


def test_redaction_of_text() -> None:
    assert (
        jm.redact_text("GET https://u:p@h.test/a?x-signature=abc#f") == "GET https://h.test/a?…#f"
    )
    assert jm.redact_text("Cookie: sessionid=abc; sid_tt=abc") == "Cookie: <redacted>"
    assert jm.redact_text("x sessionid_ss=abcdef; Path=/") == "x sessionid_ss=<redacted>; Path=/"
    assert jm.redact_text("(b'set-cookie', b'sid_tt=1')") == "(b'set-cookie', b'<redacted>')"
    assert jm.redact_text('{"Sign": "0123abcd"}') == '{"Sign": "<redacted>"}'
    assert jm.redact_text("nothing secret here") == "nothing secret here"


def test_cli_verbose_configures_only_the_library_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    from jimeng_async import _redact

    root = logging.getLogger()
    library = logging.getLogger("jimeng_async")
    monkeypatch.setattr(library, "handlers", [])
    monkeypatch.setattr(library, "level", logging.NOTSET)
    before = (list(root.handlers), root.level)
    handler = _redact.enable_debug_logging()
    assert library.handlers == [handler]
    assert library.level == logging.DEBUG
    assert (list(root.handlers), root.level) == before
    assert logging.getLogger("httpcore").getEffectiveLevel() == root.level


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request_timeout": float("inf")}, "request_timeout: must be a finite number"),
        ({"generation_timeout": 1e309}, "generation_timeout: must be a finite number"),
        ({"poll_min_interval": 5.0, "poll_max_interval": 2.0}, "must not exceed poll_max"),
        ({"retry_base_delay": 9.0, "retry_max_delay": 2.0}, "must not exceed retry_max"),
        ({"da_version": ""}, "da_version: must be a version string"),
        ({"web_version": "7 5"}, "web_version: must be a version string"),
        ({"max_download_bytes": 0}, "max_download_bytes"),
    ],
)
def test_settings_refuse_values_that_cannot_work(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(jm.ConfigurationError, match=message):
        jm.Settings(**changes)


def test_settings_name_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_POLL_MIN_INTERVAL", "30")
    with pytest.raises(jm.ConfigurationError, match=r"^JIMENG_POLL_MIN_INTERVAL: must not exceed"):
        jm.Settings()


# -- resource hygiene ------------------------------------------------------------------------


async def test_a_cancelled_url_upload_leaves_no_file(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    async with media_server() as media:
        media.routes["/slow.png"] = Route(png(64, 64, "slow"), "image/png", stall=True)
        settings = jimeng_emulator.settings()
        async with (
            jm.JimengSession(jimeng_token, settings=settings) as s,
            anyio.create_task_group() as group,
        ):
            group.start_soon(s.upload_image, media.url("/slow.png"))
            await media.stalled.wait()
            assert [p.name[:14] for p in tmp_path.iterdir()] == ["jimeng-upload-"]  # noqa: ASYNC240
            group.cancel_scope.cancel()
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240
    assert jimeng_emulator.stats.requests["get_upload_token"] == 0


async def test_a_url_download_has_an_overall_deadline(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings = jimeng_emulator.settings(source_download_timeout=0.2)
    async with media_server() as media:
        media.routes["/slow.png"] = Route(png(64, 64, "slow"), "image/png", stall=True)
        async with jm.JimengSession(jimeng_token, settings=settings) as s:
            with pytest.raises(
                jm.UploadError, match=r"source: downloading .* took longer than 0.2s"
            ):
                await s.upload_image(media.url("/slow.png") + "?token=SECRET")
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240


async def test_url_sources_are_checked_like_files(
    jimeng_emulator: Emulator, jimeng_token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    async with media_server() as media:
        media.routes["/page.png"] = Route(b"<html>error</html>", "text/html")
        media.routes["/cut.png"] = Route(png(64, 64, "cut")[:-40], "image/png")
        media.routes["/ok.png"] = Route(png(64, 64, "ok"), "image/png")
        async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
            with pytest.raises(jm.InvalidSourceError, match="not a supported image"):
                await s.upload_image(media.url("/page.png"))
            with pytest.raises(jm.InvalidSourceError, match="truncated"):
                await s.upload_image(media.url("/cut.png"))
            ref = await s.upload_image(media.url("/ok.png"))
    assert (ref.width, ref.height) == (64, 64)
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240


async def _save_from(media_url: str, tmp_path: Path, *, max_bytes: int) -> list[Path]:
    import httpx

    result = jm.ImageResult(history_id="h", images=[jm.Asset(url=media_url, format="png")])
    async with httpx.AsyncClient() as client:
        policy = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.001)
        result.attach(
            Downloader(
                client,
                concurrency=1,
                policy=policy,
                metrics=Metrics(),
                bounds=StreamBounds(connect=5, read=5, stall=5),
                max_bytes=max_bytes,
            )
        )
        return await result.save(tmp_path)


async def test_result_downloads_are_capped_and_checked(tmp_path: Path) -> None:
    image = png(64, 64, "result")
    async with media_server() as media:
        media.routes["/page.png"] = Route(b"<!doctype html><p>denied</p>" * 3, "text/html")
        media.routes["/big.png"] = Route(image + b"\0" * 5000, "image/png")
        media.routes["/big-unsized.png"] = Route(image + b"\0" * 5000, "image/png", length=False)
        media.routes["/ok.png"] = Route(image, "image/png")
        with pytest.raises(jm.MalformedResponseError, match="not an image"):
            await _save_from(media.url("/page.png"), tmp_path, max_bytes=10_000)
        assert media.hits["/page.png"] == 2  # retried once, like a garbled answer
        for path in ("/big.png", "/big-unsized.png"):
            with pytest.raises(jm.APIError, match="max_download_bytes") as info:
                await _save_from(media.url(path), tmp_path, max_bytes=len(image) + 100)
            assert info.value.code == "DOWNLOAD_TOO_LARGE"
            assert media.hits[path] == 1  # not retried
        assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240
        [saved] = await _save_from(media.url("/ok.png"), tmp_path, max_bytes=len(image))
    assert saved.read_bytes() == image


async def test_truncated_imagex_answers_are_retried(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(malformed_rate=1.0, endpoints={"ApplyImageUpload"})
    settings = jimeng_emulator.settings(max_retries=2, retry_base_delay=0.001)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        with pytest.raises(jm.MalformedResponseError, match="not JSON"):
            await s.upload_image(png(8, 8, "retry"))
    assert jimeng_emulator.stats.requests["ApplyImageUpload"] == 3


async def test_an_unknown_status_keeps_the_task_waiting_until_it_ends(tmp_path: Path) -> None:
    import httpx

    from jimeng_async.polling import Poller
    from jimeng_async.tasks import GenerationTask

    fast = jm.Settings(poll_first_delay_image=0.0, poll_min_interval=0.001, poll_max_interval=0.01)
    answers: list[dict[str, Any]] = [{"status": -1}, {"status": -2}, {"status": 77}]
    seen: list[jm.TaskStatus] = []
    done = {
        "status": 50,
        "item_list": [{"image": {"large_images": [{"image_url": "https://c/a"}]}}],
    }

    async def fetch(ids: list[str]) -> dict[str, Any]:
        return {"h": answers.pop(0) if answers else done}

    poller = Poller(fetch, fast)
    async with httpx.AsyncClient() as client:
        bounds = StreamBounds(connect=1, read=1, stall=1)
        downloader = Downloader(
            client, concurrency=1, policy=RetryPolicy(), metrics=Metrics(), bounds=bounds
        )
        task = GenerationTask(
            history_id="h",
            kind="image",
            submit_id=None,
            poller=poller,
            downloader=downloader,
            limit=30,
        )
        async for step in task.progress():
            seen.append(step.status)
        result = await task.wait(timeout=30)
    assert jm.TaskStatus.UNKNOWN in seen
    assert seen[-1] == jm.TaskStatus.COMPLETED
    assert isinstance(result, jm.ImageResult)
    assert result.images[0].url == "https://c/a"
