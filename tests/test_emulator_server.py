"""The emulator's lifecycle, public helpers, pytest fixtures and command line."""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from test_emulator_web import ok, signed_parts

from jimeng_async.testing import Emulator, EmulatorConfig
from jimeng_async.testing.__main__ import parse_account

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.mark.anyio
async def test_pytest_fixtures(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    assert jimeng_emulator.time_scale == 0.01
    assert jimeng_emulator.seed == 1234
    assert jimeng_emulator.credits_of(jimeng_token) == 1000
    async with httpx.AsyncClient(base_url=jimeng_emulator.url) as client:
        data = await ok(client, jimeng_token, "user_credit", {})
    assert data["credit"]["total_credit"] == 1000


@pytest.mark.anyio
async def test_lifecycle_binds_first_and_closes_cleanly() -> None:
    emulator = Emulator(time_scale=0.01)
    with pytest.raises(RuntimeError):
        _ = emulator.url
    async with emulator:
        port = emulator.port
        assert emulator.url == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=emulator.url) as client:
            response = await client.get("/no/such/path")
            assert response.status_code == 404
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert "127.0.0.1" in repr(emulator)
    assert TOKEN not in repr(emulator)


@pytest.mark.anyio
async def test_given_port_and_reset() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    async with Emulator(port=free_port, config=EmulatorConfig(web_latency=(0, 0))) as emulator:
        assert emulator.port == free_port
        token = emulator.add_account(token=TOKEN, credits=3)
        assert token == TOKEN
        async with httpx.AsyncClient(base_url=emulator.url) as client:
            await ok(client, token, "user_credit", {})
        assert emulator.stats.requests["user_credit"] == 1
        emulator.reset()
        assert emulator.stats.requests == {}
        assert emulator.records == {}
        with pytest.raises(KeyError):
            emulator.credits_of(token)


def test_add_account_token_forms() -> None:
    emulator = Emulator(seed=1)
    assert emulator.add_account("us", token="us-" + TOKEN) == "us-" + TOKEN
    assert emulator.add_account("hk", token="feedface" * 4) == "hk-" + "feedface" * 4
    assert emulator.add_account("jp").startswith("jp-")
    with pytest.raises(ValueError, match="already"):
        emulator.add_account("us", token="US-" + TOKEN)
    with pytest.raises(ValueError, match="region"):
        emulator.add_account("xx")
    with pytest.raises(ValueError, match="us token"):
        emulator.add_account("cn", token="us-" + "1" * 32)
    same = [Emulator(seed=9).add_account() for _ in range(2)]
    assert same[0] == same[1]


def test_environment_names_every_region() -> None:
    emulator = Emulator(time_scale=0.5, port=8790)
    emulator._port = 8790  # as if started: environment() only needs the address
    env = emulator.environment()
    for region in ("CN", "US", "HK", "JP", "SG"):
        for key in ("BASE_URL", "COMMERCE_URL", "IMAGEX_URL"):
            assert env[f"JIMENG_{region}_{key}"] == "http://127.0.0.1:8790"
    assert env["JIMENG_POLL_MIN_INTERVAL"] == "0.5"


def test_parse_account_argument() -> None:
    assert parse_account("cn").token is None
    spec = parse_account(f"us:us-{TOKEN}:500")
    assert (spec.region, spec.token, spec.credits) == ("us", f"us-{TOKEN}", 500)
    assert parse_account("cn::7").credits == 7
    for bad in ("mars", "cn:x:many", "cn:x:-1", "cn:a:1:2"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"REGION|CREDITS"):
            parse_account(bad)


def test_command_line_serves_until_terminated() -> None:
    command = [sys.executable, "-m", "jimeng_async.testing", "--port", "0", "--time-scale",
               "0.01", "--account", f"cn:{TOKEN}:500", "--account", "us"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(lines)
        url_match = re.search(r"running at (http://127\.0\.0\.1:\d+)", output)
        assert url_match, output
        url = url_match.group(1)
        assert f"export JIMENG_US_IMAGEX_URL={url}" in output
        assert TOKEN not in output  # a given token is shown masked
        random_us = re.search(r"account us (us-[0-9a-f]{32}) credits=100", output)
        assert random_us, output
        assert "export JIMENG_TOKEN=...  # the token you gave" in output  # the first account
        path, params, headers = signed_parts(TOKEN, "user_credit")
        response = httpx.post(url + path, params=params, headers=headers, content=b"{}")
        assert response.json()["data"]["credit"]["total_credit"] == 500
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _serve_until_ready(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    return process, "".join(lines)


def test_command_line_defaults_give_a_usable_account_at_a_demo_pace() -> None:
    command = [sys.executable, "-m", "jimeng_async.testing", "--port", "0"]
    process, output = _serve_until_ready(command)
    try:
        assert "(time scale 0.05)" in output, output
        account = re.search(r"account cn ([0-9a-f]{32}) credits=100", output)
        assert account, output
        assert f"export JIMENG_TOKEN={account.group(1)}\n" in output
        url_match = re.search(r"running at (http://127\.0\.0\.1:\d+)", output)
        assert url_match, output
        path, params, headers = signed_parts(account.group(1), "user_credit")
        response = httpx.post(
            url_match.group(1) + path, params=params, headers=headers, content=b"{}"
        )
        assert response.json()["data"]["credit"]["total_credit"] == 100
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()
