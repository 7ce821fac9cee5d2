"""The issue #15 mechanics: query slots with an urgent lane, the header cache, the small state
of a pending job and the forecast-driven schedule (against a fake service, no timing)."""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import jimeng_async as jm
from jimeng_async import Settings, TaskStatus
from jimeng_async.auth import build_headers
from jimeng_async.config import DEFAULT_REGIONS
from jimeng_async.headers import HeaderCache
from jimeng_async.polling import Poller
from jimeng_async.slots import QuerySlots, job_order
from jimeng_async.testing import Emulator

pytestmark = pytest.mark.anyio

FAST = Settings(
    poll_first_delay_image=0.0,
    poll_first_delay_video=0.0,
    poll_min_interval=0.002,
    poll_max_interval=0.02,
    poll_batch_size=3,
)
SAFETY = 10  # seconds: only a guard against a hang, never what a test measures


class FakeService:
    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.calls: list[list[str]] = []

    async def fetch(self, ids: list[str]) -> Mapping[str, Any]:
        self.calls.append(list(ids))
        return {i: self.records[i] for i in ids if i in self.records}


# -- query slots ------------------------------------------------------------------------------


async def test_an_urgent_caller_takes_the_next_slot_before_earlier_callers() -> None:
    slots = QuerySlots(1)
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        async with slots.urgent() if urgent else slots:
            order.append(name)

    with anyio.fail_after(SAFETY):
        await slots.acquire()  # the only slot is busy
        async with anyio.create_task_group() as group:
            group.start_soon(take, "submit 1", False)
            group.start_soon(take, "submit 2", False)
            await anyio.wait_all_tasks_blocked()
            group.start_soon(take, "poll", True)
            await anyio.wait_all_tasks_blocked()
            assert slots.waiting == 3
            assert slots.ordinary_waiting == 2  # the backlog a poll round looks at
            assert order == []
            slots.release()
    assert order == ["poll", "submit 1", "submit 2"]


async def test_a_job_keeps_the_place_in_line_it_took_when_it_started() -> None:
    """A blend's later queries (token, check, generate) go before the submits that started
    after the blend, though they arrive later; outside a job and within one, first come first
    served; a cancelled caller's place is skipped."""
    slots = QuerySlots(1)
    order: list[str] = []
    early_job_ready = anyio.Event()

    async def query(name: str) -> None:
        async with slots:
            order.append(name)

    async def blend() -> None:
        with job_order():
            await early_job_ready.wait()  # its upload: the later submits queue meanwhile
            await query("blend token")
            await query("blend generate")

    async def submit(name: str) -> None:
        with job_order():
            await query(name)

    with anyio.fail_after(SAFETY):
        await slots.acquire()  # the only slot is busy
        async with anyio.create_task_group() as group:
            group.start_soon(blend)
            await anyio.wait_all_tasks_blocked()
            group.start_soon(submit, "submit 1")
            group.start_soon(query, "no job")
            cancelled = anyio.CancelScope()

            async def gives_up() -> None:
                with cancelled:
                    await submit("cancelled")

            group.start_soon(gives_up)
            group.start_soon(submit, "submit 2")
            await anyio.wait_all_tasks_blocked()
            early_job_ready.set()
            await anyio.wait_all_tasks_blocked()
            assert slots.waiting == 5
            cancelled.cancel()
            await anyio.wait_all_tasks_blocked()
            assert slots.waiting == 4
            slots.release()
    # The blend's generate, asked for once its token is in, still goes before the rest.
    assert order == ["blend token", "submit 1", "blend generate", "no job", "submit 2"]


async def test_nested_jobs_keep_the_outer_place() -> None:
    slots = QuerySlots(1)
    order: list[str] = []

    async def query(name: str) -> None:
        async with slots:
            order.append(name)

    async def outer() -> None:
        with job_order():
            await anyio.lowlevel.checkpoint()
            with job_order():  # e.g. a pool's submit around the session's
                await query("outer")

    with anyio.fail_after(SAFETY):
        await slots.acquire()
        async with anyio.create_task_group() as group:
            with job_order():
                group.start_soon(outer)  # a task started inside a job inherits its place
            await anyio.wait_all_tasks_blocked()
            with job_order():
                group.start_soon(query, "later")
            await anyio.wait_all_tasks_blocked()
            slots.release()
    assert order == ["outer", "later"]


async def test_query_slots_never_exceed_the_limit() -> None:
    slots = QuerySlots(2)
    inside = peak = 0

    async def call(urgent: bool) -> None:
        nonlocal inside, peak
        async with slots.urgent() if urgent else slots:
            inside += 1
            peak = max(peak, inside)
            await anyio.lowlevel.checkpoint()
            inside -= 1

    with anyio.fail_after(SAFETY):
        async with anyio.create_task_group() as group:
            for i in range(20):
                group.start_soon(call, i % 3 == 0)
    assert peak == 2
    assert inside == 0


async def test_a_cancelled_waiter_gives_up_its_place_and_its_slot() -> None:
    slots = QuerySlots(1)
    with anyio.fail_after(SAFETY):
        await slots.acquire()
        async with anyio.create_task_group() as group:
            scope = anyio.CancelScope()

            async def waiter() -> None:
                with scope:
                    async with slots:
                        await anyio.sleep(SAFETY)

            group.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            slots.release()  # handed to the waiter...
            scope.cancel()  # ...which is cancelled as it gets it: the slot comes back
        assert slots.waiting == 0
        await slots.acquire()  # busy again, so that the next waiter queues
        async with anyio.create_task_group() as group:
            scope2 = anyio.CancelScope()

            async def waiter2() -> None:
                with scope2:
                    await slots.acquire()

            group.start_soon(waiter2)
            await anyio.wait_all_tasks_blocked()
            scope2.cancel()  # cancelled while queued: it leaves the queue
        assert slots.waiting == 0
        slots.release()
        await slots.acquire()  # the one slot is free again: nobody took it in between
        slots.release()


# -- headers ----------------------------------------------------------------------------------


def test_cached_headers_are_build_headers_of_the_same_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    profile = DEFAULT_REGIONS["cn"]
    clock = [1_790_000_000.2]
    monkeypatch.setattr("jimeng_async.headers.time.time", lambda: clock[0])
    cache = HeaderCache(session_id="s" * 32, profile=profile, settings=settings)
    path = "/mweb/v1/get_history_by_ids"

    def expected(now: int, commerce: bool = False) -> dict[str, str]:
        return build_headers(
            session_id="s" * 32, profile=profile, path=path, settings=settings,
            commerce=commerce, now=now,
        )  # fmt: skip

    first = cache.headers(path, commerce=False, referer_path="/ai-tool/image/generate")
    assert first == expected(1_790_000_000)
    first["Content-Type"] = "application/json"  # a caller's change stays its own
    again = cache.headers(path, commerce=False, referer_path="/ai-tool/image/generate")
    assert again == expected(1_790_000_000)
    commerce = cache.headers(path, commerce=True, referer_path="/ai-tool/image/generate")
    assert commerce == expected(1_790_000_000, commerce=True)
    clock[0] += 1.0  # a new second: Device-Time, Sign and the Cookie move with it
    later = cache.headers(path, commerce=False, referer_path="/ai-tool/image/generate")
    assert later == expected(1_790_000_001)
    assert later["Sign"] != again["Sign"]


def test_cached_headers_carry_the_cache_s_own_second_and_origin_on_us(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the cache's clock is fake (auth's stays real): its headers are built for the
    cache's second, and the commerce flag reaches them (on us, the commerce origin differs)."""
    fake_time = types.SimpleNamespace(time=lambda: 1_790_000_000.7)
    monkeypatch.setattr("jimeng_async.headers.time", fake_time)
    settings = Settings()
    profile = DEFAULT_REGIONS["us"]
    cache = HeaderCache(session_id="s" * 32, profile=profile, settings=settings)
    path, referer = "/commerce/v1/benefits/user_credit", "/ai-tool/image/generate"
    for commerce in (True, False):
        expected = build_headers(
            session_id="s" * 32, profile=profile, path=path, settings=settings,
            commerce=commerce, now=1_790_000_000,
        )  # fmt: skip
        assert cache.headers(path, commerce=commerce, referer_path=referer) == expected
        wire = cache.wire(path, commerce=commerce, referer_path=referer, json_body=False)
        assert wire.multi_items() == list(httpx.Headers(expected).multi_items())
        assert expected["Device-Time"] == "1790000000"
    assert profile.commerce_origin != profile.origin


def test_ready_wire_headers_are_build_headers_of_the_same_second_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    profile = DEFAULT_REGIONS["cn"]
    clock = [1_790_000_000.2]
    monkeypatch.setattr("jimeng_async.headers.time.time", lambda: clock[0])
    cache = HeaderCache(session_id="s" * 32, profile=profile, settings=settings)
    path, referer = "/commerce/v1/benefits/user_credit", "/ai-tool/image/generate"

    def expected(now: int) -> list[tuple[str, str]]:
        built = build_headers(
            session_id="s" * 32, profile=profile, path=path, settings=settings,
            commerce=True, now=now,
        )  # fmt: skip
        return list(httpx.Headers({**built, "Content-Type": "application/json"}).multi_items())

    wire = cache.wire(path, commerce=True, referer_path=referer, json_body=True)
    assert wire.multi_items() == expected(1_790_000_000)
    assert wire.multi_items()[-1] == ("content-type", "application/json")
    assert cache.wire(path, commerce=True, referer_path=referer, json_body=True) is wire
    bare = cache.wire(path, commerce=True, referer_path=referer, json_body=False)
    assert "content-type" not in bare
    assert bare.multi_items() == expected(1_790_000_000)[:-1]
    # A caller's dict changes neither the ready headers nor later dicts.
    mine = cache.headers(path, commerce=True, referer_path=referer)
    mine["X-Mine"] = "1"
    assert "x-mine" not in cache.wire(path, commerce=True, referer_path=referer, json_body=False)
    assert "X-Mine" not in cache.headers(path, commerce=True, referer_path=referer)
    clock[0] += 1.0  # a new second: new headers, built again
    later = cache.wire(path, commerce=True, referer_path=referer, json_body=True)
    assert later is not wire
    assert later.multi_items() == expected(1_790_000_001)


# -- the state of a pending job and its schedule ----------------------------------------------


def _item(n: int) -> dict[str, Any]:
    url = f"https://cdn.example/{n}.png"
    return {"image": {"large_images": [{"image_url": url, "width": 8, "height": 8}]}}


async def test_a_pending_job_keeps_its_status_and_item_count_not_the_record() -> None:
    service = FakeService()
    poller = Poller(service.fetch, FAST)
    watch = poller.watch("a", "image")
    service.records["a"] = {"status": 20, "item_list": [_item(1), _item(2)]}
    with anyio.fail_after(SAFETY):
        await poller.wait(watch, watch.stamp, math.inf)
    assert (watch.status, watch.items, watch.record) == (TaskStatus.PROCESSING, 2, None)
    stamp = watch.stamp
    service.records["a"] = {"status": 20, "item_list": [_item(1), _item(2), _item(3)]}
    with anyio.fail_after(SAFETY):
        await poller.wait(watch, stamp, math.inf)  # one more item is a change
    assert watch.items == 3
    assert watch.stamp > stamp
    service.records["a"] = {"status": 50, "item_list": [_item(n) for n in range(4)]}
    with anyio.fail_after(SAFETY):
        await poller.wait(watch, watch.stamp, math.inf)
    assert watch.record is not None
    assert len(watch.record.items) == 4
    assert watch.finished
    assert watch.status is TaskStatus.COMPLETED


async def test_an_image_job_is_asked_for_at_once_then_at_its_forecast_end() -> None:
    settings = Settings(poll_min_interval=0.5, poll_max_interval=5.0)
    assert settings.poll_first_delay_image == 0.0  # the default: the first answer forecasts
    service = FakeService()
    poller = Poller(service.fetch, settings)
    now = anyio.current_time()
    watch = poller.watch("q", "image")
    assert watch.next_due - now <= 0.5 / 4 + 1e-9  # the next quarter of poll_min_interval
    service.records["q"] = {
        "status": 20,
        "queue_info": {"queue_idx": 1, "queue_length": 3},
        "forecast_cost_time": {"forecast_queue_cost": 1.0, "forecast_generate_cost": 6.0},
    }
    with anyio.fail_after(SAFETY):
        await poller.wait(watch, watch.stamp, math.inf)
    asked = anyio.current_time()
    assert watch.expected == pytest.approx(asked + 7.0, abs=0.05)
    # asked again just after the forecast end, within 3/4 of poll_min_interval of it
    assert watch.expected < watch.next_due <= watch.expected + 0.5 * 0.75 + 1e-9


# -- credit checks of a batch of submits ------------------------------------------------------


async def test_submits_covered_by_the_last_balance_do_not_check_it_again(
    jimeng_emulator: Emulator,
) -> None:
    token = jimeng_emulator.add_account(credits=3)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        for i in range(3):  # 1 credit each: the first balance (3) covers all three
            await s.submit_image(f"covered {i}", seed=i)
        assert jimeng_emulator.stats.requests["user_credit"] == 1
        assert jimeng_emulator.stats.requests["credit_receive"] == 0
        await s.submit_image("not covered", seed=9)  # spent: checked again, 0, received
    assert jimeng_emulator.stats.requests["user_credit"] == 3  # the check, and receive's own
    assert jimeng_emulator.stats.requests["credit_receive"] == 1
    assert jimeng_emulator.stats.requests["generate"] == 4
