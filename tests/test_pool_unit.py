"""The pool's pure parts: token and proxy arguments, error classes, ids, the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jimeng_async as jm
from jimeng_async.pool import (
    account_key,
    batch_submit_id,
    estimated_cost,
    is_credit_error,
    out_of_rotation_reason,
)
from jimeng_async.pool_journal import Journal
from jimeng_async.state import JobEntry, MemoryState

TOKEN_A = "a" * 32
TOKEN_B = "us-" + "b" * 32


def test_tokens_come_from_the_argument_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIMENG_TOKENS", f" {TOKEN_A} , {TOKEN_B},")
    pool = jm.JimengPool()
    assert [a.token_masked for a in pool._accounts] == ["***aaaa", "us-***bbbb"]
    pool = jm.JimengPool([TOKEN_B])  # the argument wins
    assert len(pool._accounts) == 1
    assert TOKEN_B not in repr(pool)


def test_bad_token_arguments_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIMENG_TOKENS", raising=False)
    with pytest.raises(jm.InvalidInputError, match="JIMENG_TOKENS"):
        jm.JimengPool()
    with pytest.raises(jm.InvalidInputError, match="tokens: a token is given twice"):
        jm.JimengPool([TOKEN_A, TOKEN_A])
    with pytest.raises(jm.InvalidInputError, match="tokens"):
        jm.JimengPool([TOKEN_A, 3])  # type: ignore[list-item]


def test_sessions_share_one_connection_pool_per_proxy() -> None:
    token_c = "c" * 32
    pool = jm.JimengPool([TOKEN_A, TOKEN_B, token_c], proxies=[None, "http://127.0.0.1:9", None])
    clients = [a.session.transport.client for a in pool._accounts]
    assert clients[0] is clients[2]
    assert clients[1] is not clients[0]
    assert len(pool._clients) == 2
    by_token = jm.JimengPool([TOKEN_A, TOKEN_B], proxies={TOKEN_B: "https://127.0.0.1:9"})
    assert len(by_token._clients) == 2


@pytest.mark.parametrize(
    "proxies",
    [
        ["ftp://user:secret@proxy:21", None],
        [None],
        {"x" * 32: "http://user:secret@proxy:8080"},
        "http://user:secret@proxy:8080",
    ],
)
def test_bad_proxies_are_refused_without_showing_them(proxies: object) -> None:
    with pytest.raises(jm.InvalidInputError, match="proxies") as caught:
        jm.JimengPool([TOKEN_A, TOKEN_B], proxies=proxies)  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)
    assert TOKEN_A not in str(caught.value)


def test_bad_pool_options_name_the_field() -> None:
    with pytest.raises(jm.InvalidInputError, match="claim_ttl"):
        jm.JimengPool([TOKEN_A], claim_ttl=0)
    with pytest.raises(jm.InvalidInputError, match="state") as caught:
        jm.JimengPool([TOKEN_A], state="http://user:secret@host")
    assert "secret" not in str(caught.value)
    with pytest.raises(jm.InvalidInputError, match="costs"):
        jm.JimengPool([TOKEN_A], costs={"audio": 1})
    pool = jm.JimengPool([TOKEN_A])
    with pytest.raises(jm.InvalidInputError, match="concurrency"):
        pool.map_images(["a"], concurrency=0)
    with pytest.raises(jm.InvalidInputError, match="inputs"):
        pool.map_images("a cat")
    with pytest.raises(jm.InvalidInputError, match="journal"):
        pool.map_images(["a"], journal=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (jm.AuthError("x", context={"ret": "1015"}), "ret 1015"),
        (jm.AuthError("x", context={"status": 401}), "HTTP 401"),
        (jm.PermissionDeniedError("x", context={"ret": "1004"}), "banned"),
        (jm.APIError("x", ret="1018"), "punished"),
        (jm.APIError("x", context={"ret": "3018"}), "outdated app"),
        (jm.APIError("x", ret="2004"), None),
        (jm.RegionNotAllowedError("x", context={"ret": "3000"}), "region not allowed"),
        (jm.RiskControlError("x", context={"ret": "1019"}), None),  # the job, not the account
        (jm.PermissionDeniedError("x", context={"status": 403}), "HTTP 403"),
        (jm.InsufficientCreditsError("x", ret="5000"), None),
    ],
)
def test_which_errors_take_an_account_out(error: jm.APIError, reason: str | None) -> None:
    found = out_of_rotation_reason(error)
    assert found is None if reason is None else reason in (found or "")


def test_costs_come_from_the_registry_unless_overridden() -> None:
    image_2k = estimated_cost("image", {"prompt": "a"}, costs={})
    assert estimated_cost("image", {"resolution": "4k"}, costs={}) > image_2k >= 1
    five = estimated_cost("video", {"duration": 5}, costs={})
    assert estimated_cost("video", {"duration": 10}, costs={}) == 2 * five
    assert estimated_cost("video", {"duration": 10}, costs={"video": 7}) == 7
    assert estimated_cost("image", {"model": "no-such-model"}, costs={}) == 1


def test_credit_errors() -> None:
    assert is_credit_error(jm.InsufficientCreditsError("x", ret="5000"))
    assert is_credit_error(jm.APIError("x", ret="1006"))
    assert not is_credit_error(jm.APIError("x", ret="2004"))


@given(st.text(min_size=1, max_size=40), st.integers(0, 10**6), st.integers(0, 5))
def test_submit_ids_are_stable_per_input_and_new_per_move(
    batch: str, index: int, moves: int
) -> None:
    assert batch_submit_id(batch, index, moves) == batch_submit_id(batch, index, moves)
    assert batch_submit_id(batch, index, moves) != batch_submit_id(batch, index, moves + 1)
    assert batch_submit_id(batch, index, moves) != batch_submit_id(batch, index + 1, moves)


def test_account_keys_hide_the_token() -> None:
    assert account_key(TOKEN_A) == account_key(f" {TOKEN_A} ")
    assert TOKEN_A[:8] not in account_key(TOKEN_A)
    assert account_key(TOKEN_A) != account_key(TOKEN_B)


async def _write(journal: Journal, *events: dict[str, object]) -> None:
    for event in events:
        await journal.write(event)


@pytest.mark.anyio
async def test_the_journal_keeps_the_latest_state_and_skips_a_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    assert journal.read() == (None, {})
    common = {"kind": "image", "account_key": "k1", "moves": 0}
    await _write(
        journal,
        {"event": "batch", "batch_id": "b1", "kind": "image"},
        {"event": "placed", "index": 0, "submit_id": "s0", **common},
        {"event": "submitted", "index": 0, "submit_id": "s0", "history_id": "h0", **common},
        {"event": "placed", "index": 1, "submit_id": "s1", **common},
        {"event": "finished", "index": 0, "outcome": "ok", "history_id": "h0"},
    )
    with journal.path.open("a") as out:
        out.write('{"event": "submitted", "index": 1, "hist')  # the process died mid-write
    batch_id, entries = journal.read()
    assert batch_id == "b1"
    assert entries[0] == JobEntry(0, "image", "s0", "k1", "done", "h0")
    assert entries[1] == JobEntry(1, "image", "s1", "k1", "placed", "")
    assert all(json.loads(line) for line in journal.path.read_text().splitlines()[:-1])


@pytest.mark.anyio
async def test_memory_state_leases_and_claims() -> None:
    state = MemoryState()
    assert [await state.acquire("a", "query", f"l{i}", 2, 60) for i in range(3)] == [
        True,
        True,
        False,
    ]
    await state.release("a", "query", "l0")
    assert await state.acquire("a", "query", "l3", 2, 60)
    assert await state.claim_job("b:0", "w1", 60)
    assert not await state.claim_job("b:0", "w2", 60)
    await state.drop_claim("b:0", "w1")
    assert await state.claim_job("b:0", "w2", 60)
    assert not await state.reserve_credits("a", 1)  # unknown balance: nothing to reserve
    await state.update_account("a", credits=1)
    assert await state.reserve_credits("a", 1)
    assert not await state.reserve_credits("a", 1)
