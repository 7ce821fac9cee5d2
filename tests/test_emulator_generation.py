"""Generation on the emulator: drafts validation, credits, idempotent submits, records, history.

The emulator runs at time_scale 1 with its clock frozen; the tests move it with `advance()`,
so every timeline step is exact and nothing sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from test_emulator_web import blend_body, edit_draft, image_body, ok, video_body, web

from jimeng_async.images import ImageHeader
from jimeng_async.testing import EmulatorConfig
from jimeng_async.testing.server import Emulator

pytestmark = pytest.mark.anyio

CONFIG = EmulatorConfig(web_latency=(0.0, 0.0))
EPSILON = 1e-6  # past a phase boundary despite float rounding
UPLOADS = {
    "tos-cn-i-a/one": ImageHeader("png", 640, 480),
    "tos-cn-i-a/two": ImageHeader("jpeg", 800, 800),
}


@pytest.fixture
async def emulator(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Emulator]:
    async with Emulator(time_scale=1.0, seed=3, config=CONFIG) as emu:
        emu.freeze_clock()
        owner: dict[str, str] = {}

        def committed(token: str, uri: str) -> ImageHeader | None:
            # Stand-in for a real upload: UPLOADS belong to the first account that asks.
            owner.setdefault(uri, token)
            return UPLOADS.get(uri) if owner[uri] == token else None

        monkeypatch.setattr(emu.imagex, "committed_image", committed)
        yield emu


async def submit(client: httpx.AsyncClient, token: str, body: dict[str, Any]) -> str:
    data = await ok(client, token, "generate", body)
    history_id: str = data["aigc_data"]["history_record_id"]
    assert data["aigc_data"]["submit_id"] == body["submit_id"]
    assert data["aigc_data"]["task"]["task_id"] == history_id
    return history_id


async def history(client: httpx.AsyncClient, token: str, ids: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = await ok(
        client, token, "get_history_by_ids", {"history_ids": ids, "image_info": {"width": 2048}}
    )
    return data


async def test_image_job_is_charged_and_recorded(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    body = image_body("a red fox")
    history_id = await submit(client, token, body)
    assert history_id.isdigit()
    assert emulator.credits_of(token) == 9
    assert emulator.stats.credits_charged == 1
    assert emulator.stats.submits[body["submit_id"]] == 1
    record = (await history(client, token, [history_id]))[history_id]
    assert record["status"] == 20
    assert record["fail_code"] == "0"
    assert record["submit_id"] == body["submit_id"]
    assert record["task"]["create_time"] > 0
    assert record["task"]["finish_time"] == 0


async def test_us_account_generates_with_its_aid(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account("us", credits=10)
    wrong = await web(client, token, "generate", image_body("x"))
    assert wrong["ret"] == "2002"
    assert "http_common_info.aid" in wrong["errmsg"]
    await submit(client, token, image_body("x", aid=513641))
    assert emulator.credits_of(token) == 9


async def test_insufficient_credits_charge_nothing(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=4)
    envelope = await web(client, token, "generate", video_body("waves"))
    assert envelope["ret"] == "5000"
    assert emulator.credits_of(token) == 4
    assert emulator.stats.credits_charged == 0
    assert emulator.records == {}
    poor = emulator.add_account(credits=0)
    assert (await web(client, poor, "generate", image_body("cat")))["ret"] == "5000"
    assert emulator.records == {}


async def test_repeated_submit_id_returns_the_same_job(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    body = image_body("a lighthouse")
    first = await submit(client, token, body)
    again = await submit(client, token, body)
    assert again == first
    assert emulator.credits_of(token) == 9
    assert emulator.stats.submits[body["submit_id"]] == 2
    assert emulator.stats.duplicate_submits == 0
    assert len(emulator.records) == 1
    emulator.set_credits(token, 0)  # the retry still answers, and still charges nothing
    assert await submit(client, token, body) == first
    other = emulator.add_account(credits=10)
    assert await submit(client, other, body) != first


async def test_careless_retries_are_counted(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=10)
    await submit(client, token, image_body("a bridge", seed=2_500_000_001))
    await submit(client, token, image_body("a bridge", seed=2_500_000_002))
    assert emulator.stats.duplicate_submits == 1
    await submit(client, token, image_body("another bridge"))
    assert emulator.stats.duplicate_submits == 1
    emulator.advance(61)
    await submit(client, token, image_body("a bridge"))
    assert emulator.stats.duplicate_submits == 1
    assert emulator.stats.credits_charged == 4


def _core(draft: dict[str, Any]) -> dict[str, Any]:
    abilities = draft["component_list"][0]["abilities"]
    holder = abilities.get("generate") or abilities["blend"]
    core: dict[str, Any] = holder["core_param"]
    return core


def _video_input(draft: dict[str, Any]) -> dict[str, Any]:
    params = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]
    entry: dict[str, Any] = params["video_gen_inputs"][0]
    return entry


def _set(
    getter: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any
) -> Callable[[dict[str, Any]], None]:
    def change(draft: dict[str, Any]) -> None:
        getter(draft)[key] = value

    return change


def _drop(
    getter: Callable[[dict[str, Any]], dict[str, Any]], key: str
) -> Callable[[dict[str, Any]], None]:
    def change(draft: dict[str, Any]) -> None:
        del getter(draft)[key]

    return change


ONE = ("tos-cn-i-a/one", 640, 480)
BAD_DRAFTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown model", edit_draft(image_body("x"), _set(_core, "model", "dall-e")), "model"),
    ("size not in the table",
     edit_draft(image_body("x"), _set(lambda d: _core(d)["large_image_info"], "width", 2000)),
     "large_image_info.width"),
    ("wrong ratio code", edit_draft(image_body("x"), _set(_core, "image_ratio", 3)),
     "image_ratio"),
    ("resolution type", edit_draft(image_body("x"), _set(lambda d: _core(d)["large_image_info"],
                                                          "resolution_type", "8k")),
     "resolution_type"),
    ("sample strength", edit_draft(image_body("x"), _set(_core, "sample_strength", 1.5)),
     "sample_strength"),
    ("seed type", edit_draft(image_body("x"), _set(_core, "seed", "42")), "seed"),
    ("node without id", edit_draft(image_body("x"), _drop(_core, "id")), "core_param.id"),
    ("node without type", edit_draft(image_body("x"),
                                     _drop(lambda d: _core(d)["large_image_info"], "type")),
     "large_image_info.type"),
    ("empty prompt", edit_draft(image_body("x"), _set(_core, "prompt", " ")), "prompt"),
    ("root model", {**image_body("x"), "extend": {"root_model": "text2img_xl_sft"}},
     "root_model"),
    ("empty submit id", {**image_body("x"), "submit_id": ""}, "submit_id"),
    ("draft not JSON", {**image_body("x"), "draft_content": "{"}, "draft_content"),
    ("two components", edit_draft(image_body("x"), lambda d: d["component_list"].append(
        d["component_list"][0])), "component_list"),
    ("blend prompt", edit_draft(blend_body("x", [ONE]), _set(_core, "prompt", "x")), "prompt"),
    ("blend foreign uri", blend_body("x", [("tos-cn-i-a/stranger", 10, 10)]), "image_uri"),
    ("blend size", blend_body("x", [("tos-cn-i-a/one", 641, 480)]), "width"),
    ("blend 11 images", blend_body("x", [ONE] * 11), "ability_list"),
    ("video duration", video_body("x", duration_ms=16000), "duration_ms"),
    ("video resolution", video_body("x", resolution="480p"), "resolution"),
    ("video ratio", video_body("x", ratio="2:1"), "video_aspect_ratio"),
    ("video fps", edit_draft(video_body("x"), _set(_video_input, "fps", 30)), "fps"),
    ("video model", video_body("x", model="high_aes_general_v40"), "model_req_key"),
    ("video commerce info", {**video_body("x"), "extend": {
        "root_model": "dreamina_ic_generate_video_model_vgfm_3.0"}}, "m_video_commerce_info"),
    ("video foreign frame", video_body("x", first=("tos-cn-i-a/stranger", 10, 10)),
     "first_frame_image"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_DRAFTS], ids=[name for name, _, _ in BAD_DRAFTS]
)
async def test_bad_drafts_are_refused_naming_the_field(
    emulator: Emulator, client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    token = emulator.add_account(credits=10)
    envelope = await web(client, token, "generate", body)
    assert envelope["ret"] == "2002", envelope
    assert field in envelope["errmsg"]
    assert emulator.credits_of(token) == 10
    assert emulator.records == {}


async def test_intelligent_ratio_omits_image_ratio(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)

    def intelligent(draft: dict[str, Any]) -> None:
        _core(draft)["intelligent_ratio"] = True

    kept = await web(client, token, "generate", edit_draft(image_body("x"), intelligent))
    assert kept["ret"] == "2002"
    assert "image_ratio" in kept["errmsg"]
    body = edit_draft(edit_draft(image_body("x"), intelligent), _drop(_core, "image_ratio"))
    await submit(client, token, body)


async def test_history_batches_are_limited(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=20)
    ids = [await submit(client, token, image_body(f"tree {i}")) for i in range(11)]
    assert len(set(ids)) == 11
    records = await history(client, token, ids[:10])
    assert sorted(records) == sorted(ids[:10])
    too_many = await web(client, token, "get_history_by_ids", {"history_ids": ids})
    assert too_many["ret"] == "2002"
    assert "at most 10" in too_many["errmsg"]
    bad: dict[str, Any]
    for bad in ({"history_ids": []}, {"history_ids": "1"}, {"history_ids": [1]}, {}):
        assert (await web(client, token, "get_history_by_ids", bad))["ret"] == "2002"
    assert emulator.stats.history_batch_sizes == [10]


async def test_history_shows_only_the_callers_records(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    alice = emulator.add_account(credits=10)
    bob = emulator.add_account("us", credits=10)
    mine = await submit(client, alice, image_body("alice's cat"))
    theirs = await submit(client, bob, image_body("bob's dog", aid=513641))
    seen = await history(client, alice, [mine, theirs, "123"])
    assert list(seen) == [mine]
    assert list(await history(client, bob, [mine, theirs])) == [theirs]


async def test_history_by_submit_ids(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=10)
    body = image_body("a kite")
    history_id = await submit(client, token, body)
    data = await ok(client, token, "get_history_by_ids", {"submit_ids": [body["submit_id"]]})
    assert data[body["submit_id"]]["id"] == history_id


async def test_image_record_timeline_and_items(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    history_id = await submit(client, token, image_body("a sunrise"))
    phases = emulator.records[history_id].phases
    queued = (await history(client, token, [history_id]))[history_id]
    assert queued["status"] == 20
    assert queued["item_list"] == []
    assert queued["queue_info"] == {"queue_idx": 1, "queue_length": 1}
    assert queued["forecast_cost_time"]["forecast_queue_cost"] > 0

    span = phases.processing_end - phases.queue_end
    seen_items = []
    elapsed = 0.0
    for step in range(4):
        target = phases.queue_end + span * (step + 0.5) / 4
        emulator.advance(target - elapsed)
        elapsed = target
        record = (await history(client, token, [history_id]))[history_id]
        assert record["status"] == 20
        assert "queue_info" not in record
        assert "forecast_cost_time" not in record
        seen_items.append(len(record["item_list"]))
    assert seen_items == [0, 1, 2, 3]

    expected = [
        (phases.post_end - 0.01, 42),
        (phases.finish - 0.01, 45),
        (phases.finish + EPSILON, 50),
    ]
    for target, status in expected:
        emulator.advance(target - elapsed)
        elapsed = target
        assert emulator.record_status(history_id) == status
    done = (await history(client, token, [history_id]))[history_id]
    assert done["status"] == 50
    assert len(done["item_list"]) == 4
    assert done["task"]["finish_time"] >= done["task"]["create_time"]
    image = done["item_list"][0]["image"]["large_images"][0]
    assert (image["width"], image["height"], image["format"]) == (2048, 2048, "png")
    assert "/cdn/" in image["image_url"]
    assert "x-signature=" in image["image_url"]
    assert len({item["common_attr"]["id"] for item in done["item_list"]}) == 4


async def test_queue_position_counts_waiting_jobs(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    ids = [await submit(client, token, image_body(f"queue {i}")) for i in range(3)]
    records = await history(client, token, ids)
    places = sorted(r["queue_info"]["queue_idx"] for r in records.values())
    assert places == [1, 2, 3]
    assert {r["queue_info"]["queue_length"] for r in records.values()} == {3}


async def test_blocked_words_fail_after_the_queue(
    emulator: Emulator, client: httpx.AsyncClient
) -> None:
    token = emulator.add_account(credits=10)
    history_id = await submit(client, token, image_body("something BLOCKED here"))
    assert emulator.record_status(history_id) == 20
    emulator.advance(emulator.records[history_id].phases.queue_end + EPSILON)
    record = (await history(client, token, [history_id]))[history_id]
    assert (record["status"], str(record["fail_code"])) == (30, "2038")
    assert record["item_list"] == []
    assert record["fail_msg"]


async def test_failure_rate_fails_jobs_with_other_codes() -> None:
    config = EmulatorConfig(web_latency=(0.0, 0.0), failure_rate=1.0)
    async with Emulator(time_scale=1.0, seed=5, config=config) as emulator, \
            httpx.AsyncClient(base_url=emulator.url) as client:  # fmt: skip
        emulator.freeze_clock()
        token = emulator.add_account(credits=10)
        history_id = await submit(client, token, image_body("fine prompt"))
        emulator.advance(emulator.records[history_id].phases.finish + EPSILON)
        record = (await history(client, token, [history_id]))[history_id]
        assert record["status"] == 30
        # The service sends fail_code as a number or as a string (PROTOCOL.md §6).
        assert str(record["fail_code"]) in ("2039", "2040")


@pytest.mark.parametrize(("rate", "kind"), [(0.0, str), (1.0, int)])
async def test_fail_code_is_a_number_or_a_string(rate: float, kind: type) -> None:
    config = EmulatorConfig(web_latency=(0.0, 0.0), numeric_fail_code_rate=rate)
    async with Emulator(time_scale=1.0, seed=5, config=config) as emulator, \
            httpx.AsyncClient(base_url=emulator.url) as client:  # fmt: skip
        emulator.freeze_clock()
        token = emulator.add_account(credits=10)
        history_id = await submit(client, token, image_body("a blocked word"))
        emulator.advance(emulator.records[history_id].phases.finish + EPSILON)
        record = (await history(client, token, [history_id]))[history_id]
        assert record["status"] == 30
        assert type(record["fail_code"]) is kind
        assert str(record["fail_code"]) == "2038"


async def test_video_job_with_frames(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=10)
    body = video_body(
        "the sea at night",
        duration_ms=10000,
        resolution="1080p",
        ratio="9:16",
        first=ONE,
        end=("tos-cn-i-a/two", 800, 800),
    )
    history_id = await submit(client, token, body)
    assert emulator.credits_of(token) == 5
    record = emulator.records[history_id]
    emulator.advance(record.phases.post_end)
    assert (await history(client, token, [history_id]))[history_id]["item_list"] == []
    emulator.advance(record.phases.finish - record.phases.post_end + EPSILON)
    done = (await history(client, token, [history_id]))[history_id]
    assert done["status"] == 50
    assert done["generate_type"] == "video"
    (item,) = done["item_list"]
    origin = item["video"]["transcoded_video"]["origin"]
    assert (origin["width"], origin["height"], origin["duration"]) == (1080, 1920, 10)
    assert origin["video_url"] == item["video"]["play_url"]
    assert item["video"]["thumbnail_url"] == item["common_attr"]["cover_url"]


async def test_blend_with_uploaded_images(emulator: Emulator, client: httpx.AsyncClient) -> None:
    token = emulator.add_account(credits=10)
    body = blend_body("make it night", [ONE, ("tos-cn-i-a/two", 800, 800)])
    history_id = await submit(client, token, body)
    assert emulator.record_json(history_id)["generate_type"] == "blend"
    assert emulator.records[history_id].spec.image_uris == ("tos-cn-i-a/one", "tos-cn-i-a/two")
    other = emulator.add_account(credits=10)
    refused = await web(client, other, "generate", blend_body("x", [ONE]))
    assert refused["ret"] == "2002"
    assert "image_uri" in refused["errmsg"]
    draft = json.loads(body["draft_content"])
    assert draft["component_list"][0]["generate_type"] == "blend"


async def test_a_thawed_clock_runs_on_from_where_it_stood(emulator: Emulator) -> None:
    state = emulator.state
    stood = state.now()
    emulator.advance(50.0)
    assert state.now() == stood + 50.0  # frozen: only advance moves it
    wall_minus_now = state.wall() - state.now()
    emulator.thaw_clock()
    assert state.now() >= stood + 50.0  # no jump back
    # Running again: the emulator clock follows the monotonic clock, the wall clock with it.
    assert state.now() - time.monotonic() == pytest.approx(stood + 50.0 - time.monotonic(), abs=1)
    assert state.wall() - state.now() == pytest.approx(wall_minus_now, abs=1e-2)
    emulator.thaw_clock()  # a running clock is left as it is
    assert state.now() >= stood + 50.0
