"""JimengPool against the emulator: placement, rotation, moves, batches, journal resume."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import anyio
import pytest

import jimeng_async as jm
from jimeng_async.pool import account_key
from jimeng_async.testing import Emulator, EmulatorConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    # No daily credits: an account's balance is exactly what the test gives it.
    config = EmulatorConfig(daily_receive_quota=0)
    async with Emulator(time_scale=0.01, seed=14, config=config) as emu:
        yield emu


def owner(emu: Emulator, history_id: str | None) -> str:
    assert history_id is not None
    return emu.records[history_id].token


async def test_placement_by_credits_then_load_then_round_robin(emulator: Emulator) -> None:
    broke = emulator.add_account("cn", credits=0)
    busy, b, c = (emulator.add_account("cn", credits=100) for _ in range(3))
    async with jm.JimengPool([broke, busy, b, c], settings=emulator.settings()) as pool:
        for lease in ("x", "y"):  # two jobs of another worker already run on `busy`
            await pool.state.acquire(account_key(busy), "job", lease, 100, 600)
        tasks = [await pool.submit_image(f"a kite, take {i}") for i in range(4)]
        health = {h.token: h for h in await pool.health()}
    owners = [owner(emulator, t.history_id) for t in tasks]
    assert owners == [b, c, b, c]  # busy has load 2, broke cannot pay
    assert emulator.credits_of(broke) == 0
    assert emulator.stats.credits_charged == 4
    assert health[jm.JimengSession(broke).masked_token].state == "exhausted"
    assert health[jm.JimengSession(busy).masked_token].in_flight == 2


async def test_dead_accounts_leave_rotation_and_the_batch_completes(emulator: Emulator) -> None:
    expired = emulator.add_account("cn", credits=100, expired=True)
    banned = emulator.add_account("us", credits=100, banned=True)
    good = [emulator.add_account("cn", credits=100), emulator.add_account("us", credits=100)]
    prompts = [f"a harbour at dawn, take {i}" for i in range(12)]
    async with jm.JimengPool([expired, banned, *good], settings=emulator.settings()) as pool:
        outcomes = [o async for o in pool.map_images(prompts, concurrency=4)]
        health = await pool.health()
    assert sorted(o.index for o in outcomes) == list(range(12))
    assert all(o.ok and o.result is not None for o in outcomes), [o.error for o in outcomes]
    assert all(o.input == prompts[o.index] for o in outcomes)
    assert {owner(emulator, o.history_id) for o in outcomes} == set(good)
    states = [(h.state, h.reason) for h in health]
    assert states[0][0] == "out"
    assert "1015" in states[0][1]
    assert states[1][0] == "out"
    assert "1004" in states[1][1]
    assert [s for s, _ in states[2:]] == ["active", "active"]
    assert emulator.stats.credits_charged == 12
    assert emulator.stats.duplicate_submits == 0


async def test_a_credits_refusal_moves_the_job_once_with_a_new_submit_id() -> None:
    # The pool expects 1 credit a job; the service charges 3, so the first account refuses.
    config = EmulatorConfig(daily_receive_quota=0, image_cost=3)
    async with Emulator(time_scale=0.01, seed=3, config=config) as emu:
        short = emu.add_account("cn", credits=2)
        rich = emu.add_account("cn", credits=100)
        async with jm.JimengPool([short, rich], settings=emu.settings()) as pool:
            [outcome] = [o async for o in pool.map_images(["a red door"])]
            health = await pool.health()
        assert outcome.ok, outcome.error
        assert owner(emu, outcome.history_id) == rich
        assert len(emu.stats.submits) == 2  # the refused id on `short`, a new one on `rich`
        assert outcome.submit_id in emu.stats.submits
        assert emu.stats.credits_charged == 3  # charged once
        assert (health[0].state, health[0].credits) == ("exhausted", 0)


async def test_a_job_no_account_can_pay_fails_after_one_move() -> None:
    config = EmulatorConfig(daily_receive_quota=0, image_cost=3)
    async with Emulator(time_scale=0.01, seed=4, config=config) as emu:
        tokens = [emu.add_account("cn", credits=2) for _ in range(3)]
        async with jm.JimengPool(tokens, settings=emu.settings()) as pool:
            [outcome] = [o async for o in pool.map_images(["a blue door"])]
        assert isinstance(outcome.error, jm.InsufficientCreditsError)
        assert len(emu.stats.submits) == 2  # the first account, then one move only
        assert emu.stats.credits_charged == 0


async def test_no_payable_account_is_a_pool_error_before_any_submit(emulator: Emulator) -> None:
    token = emulator.add_account("cn", credits=0)
    async with jm.JimengPool([token], settings=emulator.settings()) as pool:
        with pytest.raises(jm.PoolError, match=r"health\(\)"):
            await pool.submit_image("a cat")
    assert emulator.stats.requests["generate"] == 0


async def test_refresh_brings_an_exhausted_account_back(emulator: Emulator) -> None:
    token = emulator.add_account("cn", credits=0)
    async with jm.JimengPool([token], settings=emulator.settings()) as pool:
        with pytest.raises(jm.PoolError):
            await pool.submit_image("a cat")
        emulator.set_credits(token, 10)
        [health] = await pool.refresh_credits()
        assert (health.state, health.credits) == ("active", 10)
        result = await pool.generate_image("a cat")
    assert len(result.images) == 4


async def test_each_outcome_once_and_inputs_pulled_lazily(emulator: Emulator) -> None:
    tokens = [emulator.add_account("cn", credits=1000) for _ in range(2)]
    pulled = 0

    def prompts() -> Iterator[str]:
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield f"a lantern, take {i}"

    seen: list[int] = []
    pool = jm.JimengPool(tokens, settings=emulator.settings())  # no `async with`: aclose()
    async with aclosing(pool.map_images(prompts(), concurrency=4)) as outcomes:
        async for outcome in outcomes:
            assert outcome.ok, outcome.error
            seen.append(outcome.index)
            # in flight (4) + finished waiting for us (4) + the one being pulled
            assert pulled <= len(seen) + 2 * 4 + 1
            if len(seen) == 30:
                break
    await pool.aclose()
    await pool.aclose()  # idempotent
    assert len(set(seen)) == 30
    assert pulled < 60


async def test_a_resumed_batch_submits_nothing_twice(emulator: Emulator, tmp_path: Path) -> None:
    tokens = [emulator.add_account("cn", credits=100) for _ in range(2)]
    journal = tmp_path / "batch.jsonl"
    prompts = [f"a mountain hut, take {i}" for i in range(10)]
    first: list[jm.Outcome] = []
    async with (
        jm.JimengPool(tokens, settings=emulator.settings()) as pool,
        aclosing(pool.map_images(prompts, concurrency=4, journal=journal)) as run,
    ):
        async for outcome in run:
            first.append(outcome)
            if len(first) == 3:
                break  # the worker stops mid-batch, jobs in flight
    submitted_before = set(emulator.stats.submits)
    assert len(submitted_before) > 3  # some jobs were submitted but not yet reported
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert events[0]["event"] == "batch"
    assert not any(t in journal.read_text() for t in tokens)

    async with jm.JimengPool(tokens, settings=emulator.settings()) as pool:
        second = [o async for o in pool.map_images(prompts, concurrency=4, journal=journal)]
    assert sorted(o.index for o in second) == list(range(10))
    assert all(o.ok for o in second), [o.error for o in second]
    resumed = {o.index for o in second if o.resumed}
    assert resumed >= {o.index for o in first}
    assert emulator.stats.duplicate_submits == 0
    assert len(emulator.records) == 10
    assert emulator.stats.credits_charged == 10  # no job charged twice
    assert all(count == 1 for count in emulator.stats.submits.values())


async def test_bad_inputs_become_error_outcomes(emulator: Emulator) -> None:
    token = emulator.add_account("cn", credits=100)
    async with jm.JimengPool([token], settings=emulator.settings()) as pool:
        outcomes = [
            o
            async for o in pool.map_images(
                ["a dune", 42, {"prompt": "a dune", "ratio": "7:5"}, {"prompt": "a dune at night"}]
            )
        ]
    by_index = {o.index: o for o in outcomes}
    assert by_index[0].ok
    assert by_index[3].ok
    assert isinstance(by_index[1].error, jm.InvalidInputError)
    assert isinstance(by_index[2].error, jm.InvalidInputError)
    assert "ratio" in str(by_index[2].error)
    assert emulator.stats.credits_charged == 2


async def test_videos_in_a_batch(emulator: Emulator) -> None:
    token = emulator.add_account("cn", credits=100)
    async with jm.JimengPool([token], settings=emulator.settings()) as pool:
        outcomes = [o async for o in pool.map_videos(["waves", {"prompt": "rain", "duration": 5}])]
    assert sorted(o.index for o in outcomes) == [0, 1]
    assert all(isinstance(o.result, jm.VideoResult) for o in outcomes)


async def test_a_job_whose_account_dies_after_submit_fails_at_the_next_poll(
    emulator: Emulator,
) -> None:
    doomed, spare = (emulator.add_account("cn", credits=100) for _ in range(2))
    emulator.freeze_clock()  # the job stays queued: only the dead account can end its wait
    submitted = anyio.Event()
    rounds: list[int] = []

    async def on_task(index: int, task: jm.GenerationTask) -> None:
        assert owner(emulator, task.history_id) == doomed  # first in rotation, both idle
        emulator.expire_account(doomed)
        rounds.append(emulator.stats.requests["get_history_by_ids"])
        submitted.set()

    async with jm.JimengPool([doomed, spare], settings=emulator.settings()) as pool:
        [outcome] = [o async for o in pool.map_images(["a lighthouse"], on_task=on_task)]
        health = {h.token: h for h in await pool.health()}
        after = await pool.submit_image("a lighthouse, again")  # placed on the spare
    assert submitted.is_set()
    assert isinstance(outcome.error, jm.AuthError)
    # Ended by the first history round after the token died, not by the generation limit.
    assert emulator.stats.requests["get_history_by_ids"] - rounds[0] <= 2
    doomed_health = health[jm.JimengSession(doomed).masked_token]
    assert (doomed_health.state, doomed_health.in_flight) == ("out", 0)
    assert "1015" in doomed_health.reason
    assert owner(emulator, after.history_id) == spare


async def test_generate_on_a_dead_account_takes_it_out_of_rotation(emulator: Emulator) -> None:
    doomed = emulator.add_account("cn", credits=100)
    emulator.freeze_clock()
    async with jm.JimengPool([doomed], settings=emulator.settings()) as pool:
        async with anyio.create_task_group() as group:
            group.start_soon(_expire_once_submitted, emulator, doomed)
            with pytest.raises(jm.AuthError):
                await pool.generate_image("a lighthouse")
        [health] = await pool.health()
        with pytest.raises(jm.PoolError):
            await pool.submit_image("a lighthouse")
    assert health.state == "out"
    assert emulator.stats.requests["generate"] == 1


async def _expire_once_submitted(emulator: Emulator, token: str) -> None:
    """Revoke `token` as soon as its job exists (the emulator's record), watched per poll."""
    while not emulator.records:
        await anyio.wait_all_tasks_blocked()
    emulator.expire_account(token)


async def test_a_pool_closes_from_another_task_with_jobs_in_flight(emulator: Emulator) -> None:
    tokens = [emulator.add_account("cn", credits=100) for _ in range(2)]
    emulator.freeze_clock()  # every job stays in flight until the pool closes
    pool = jm.JimengPool(tokens, settings=emulator.settings())
    in_flight = 0
    all_in = anyio.Event()
    outcomes: list[jm.Outcome] = []

    async def on_task(index: int, task: jm.GenerationTask) -> None:
        nonlocal in_flight
        in_flight += 1
        if in_flight == 4:
            all_in.set()

    async def consume() -> None:
        async for outcome in pool.map_images([f"a kite {i}" for i in range(4)], on_task=on_task):
            outcomes.append(outcome)

    async def close_when_in_flight() -> None:
        await all_in.wait()
        await pool.aclose()

    with anyio.fail_after(30):  # a guard against a hang, not a timing assertion
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            group.start_soon(close_when_in_flight)
    assert sorted(o.index for o in outcomes) == [0, 1, 2, 3]
    assert all(isinstance(o.error, jm.SessionClosedError) for o in outcomes)
    assert all(o.history_id for o in outcomes)  # resumable by id
    with pytest.raises(jm.PoolError, match="closed"):
        await pool.submit_image("a kite")
    await pool.aclose()  # idempotent
    assert emulator.stats.requests["generate"] == 4
