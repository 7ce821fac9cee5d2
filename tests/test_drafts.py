"""Field-by-field checks of the draft and generate-body builders against SHAPES.md."""

from __future__ import annotations

import itertools
import json
import random
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jimeng_async import drafts, registry
from jimeng_async.drafts import (
    IMAGE_SIZES,
    MAX_BLEND_IMAGES,
    SEED_RANGE,
    VIDEO_COMMERCE_INFO,
    UploadedImage,
    build_generate_body,
    build_image_draft,
    build_video_draft,
    check_image_count,
    compact_json,
    history_image_info,
    image_node,
    random_seed,
    resolve_model,
)
from jimeng_async.errors import InvalidInputError
from jimeng_async.inputs import ImageRequest, VideoRequest

NOW_MS = 1_700_000_000_123


def counter_ids() -> Any:
    """An id factory giving id-0, id-1, ... so that drafts are deterministic."""
    numbers = itertools.count()
    return lambda: f"id-{next(numbers)}"


def fixed_clock() -> int:
    return NOW_MS


def upload(i: int, fmt: str = "png") -> UploadedImage:
    return UploadedImage(uri=f"tos-cn-i-x/{i}", width=100 + i, height=200 + i, format=fmt)


def walk_dicts(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON tree (lists entered, strings not parsed)."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from walk_dicts(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk_dicts(child)


def assert_nodes_well_formed(draft: dict[str, Any], *, uuid4_ids: bool) -> None:
    """Every node has a string `type` and an `id` unique in the draft (a uuid4 by default)."""
    nodes = list(walk_dicts(draft))
    ids = [node["id"] for node in nodes]
    assert all(isinstance(node.get("type"), str) for node in nodes)
    assert len(ids) == len(set(ids))
    if uuid4_ids:
        assert all(uuid.UUID(node_id).version == 4 for node_id in ids)


def component_of(draft: dict[str, Any]) -> dict[str, Any]:
    assert len(draft["component_list"]) == 1
    component: dict[str, Any] = draft["component_list"][0]
    assert draft["main_component_id"] == component["id"]
    return component


def image_draft(images: tuple[UploadedImage, ...] = (), **fields: Any) -> dict[str, Any]:
    req = ImageRequest(**{"prompt": "a cat", "seed": 2_550_000_000, **fields})
    return build_image_draft(req, images=images, new_id=counter_ids(), now_ms=fixed_clock)


def video_draft(
    first: UploadedImage | None = None, end: UploadedImage | None = None, **fields: Any
) -> dict[str, Any]:
    req = VideoRequest(**{"prompt": "waves", "seed": 2_550_000_001, **fields})
    return build_video_draft(
        req,
        first_frame=first,
        end_frame=end,
        submit_id="sub-1",
        new_id=counter_ids(),
        now_ms=fixed_clock,
    )


def expected_image_node(image: UploadedImage) -> dict[str, Any]:
    return {
        "type": "image",
        "source_from": "upload",
        "platform_type": 1,
        "name": "",
        "image_uri": image.uri,
        "uri": image.uri,
        "width": image.width,
        "height": image.height,
        "format": image.format,
    }


def without_id(node: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in node.items() if key != "id"}


# --- the outer draft and the text-to-image component ------------------------------------------


def test_image_draft_outer_fields() -> None:
    draft = image_draft()
    assert without_id(draft) == {
        "type": "draft",
        "min_version": "3.0.2",
        "min_features": [],
        "is_from_tsn": True,
        "version": "3.3.9",
        "main_component_id": component_of(draft)["id"],
        "component_list": [component_of(draft)],
    }


def test_text_to_image_component_fields() -> None:
    component = component_of(image_draft(negative_prompt="blurry", sample_strength=0.7))
    assert component["type"] == "image_base_component"
    assert component["min_version"] == "3.0.2"
    assert component["aigc_mode"] == "workbench"
    assert component["generate_type"] == "generate"
    assert without_id(component["metadata"]) == {
        "type": "",
        "created_platform": 3,
        "created_platform_version": "",
        "created_time_in_ms": str(NOW_MS),
        "created_did": "",
    }
    abilities = component["abilities"]
    assert set(abilities) == {"type", "id", "generate"}
    generate = abilities["generate"]
    assert set(generate) == {"type", "id", "core_param", "gen_option"}
    assert without_id(generate["gen_option"]) == {"type": "", "generate_all": False}
    core = generate["core_param"]
    assert list(core) == [
        "type",
        "id",
        "model",
        "prompt",
        "negative_prompt",
        "seed",
        "sample_strength",
        "image_ratio",
        "large_image_info",
        "intelligent_ratio",
    ]
    assert core["model"] == "high_aes_general_v40l"
    assert core["prompt"] == "a cat"
    assert core["negative_prompt"] == "blurry"
    assert core["seed"] == 2_550_000_000
    assert core["sample_strength"] == 0.7
    assert core["intelligent_ratio"] is False


def test_every_node_has_type_and_unique_uuid4_id() -> None:
    req = ImageRequest(prompt="a cat")
    for images in ((), (upload(0),), tuple(upload(i) for i in range(MAX_BLEND_IMAGES))):
        assert_nodes_well_formed(build_image_draft(req, images=images), uuid4_ids=True)
    video = VideoRequest(prompt="waves")
    draft = build_video_draft(video, first_frame=upload(0), end_frame=upload(1), submit_id="s")
    assert_nodes_well_formed(draft, uuid4_ids=True)


def test_two_builds_share_no_ids() -> None:
    req = ImageRequest(prompt="a cat")
    first = {node["id"] for node in walk_dicts(build_image_draft(req))}
    second = {node["id"] for node in walk_dicts(build_image_draft(req))}
    assert first.isdisjoint(second)


@pytest.mark.parametrize(("ratio", "resolution"), list(IMAGE_SIZES))
def test_sizes_and_ratio_codes(ratio: str, resolution: str) -> None:
    width, height, code = IMAGE_SIZES[(ratio, resolution)]
    core = component_of(image_draft(ratio=ratio, resolution=resolution))["abilities"]["generate"][
        "core_param"
    ]
    assert core["image_ratio"] == code
    assert without_id(core["large_image_info"]) == {
        "type": "",
        "height": height,
        "width": width,
        "resolution_type": resolution,
    }


def test_size_table_has_24_entries() -> None:
    assert len(IMAGE_SIZES) == 24


@pytest.mark.parametrize("resolution", ["1k", "2k", "4k"])
def test_intelligent_ratio_omits_image_ratio(resolution: str) -> None:
    core = component_of(image_draft(intelligent_ratio=True, resolution=resolution))["abilities"][
        "generate"
    ]["core_param"]
    assert "image_ratio" not in core
    assert core["intelligent_ratio"] is True
    info = core["large_image_info"]
    valid_pairs = {(w, h) for (_, res), (w, h, _) in IMAGE_SIZES.items() if res == resolution}
    assert (info["width"], info["height"]) in valid_pairs
    assert info["resolution_type"] == resolution


def test_raw_model_id_is_passed_through() -> None:
    core = component_of(image_draft(model="high_aes_general_v50"))["abilities"]["generate"][
        "core_param"
    ]
    assert core["model"] == "high_aes_general_v50"


def test_missing_seed_is_drawn_from_rng() -> None:
    req = ImageRequest(prompt="a cat")
    draft_a = build_image_draft(req, new_id=counter_ids(), now_ms=fixed_clock, rng=random.Random(7))
    draft_b = build_image_draft(req, new_id=counter_ids(), now_ms=fixed_clock, rng=random.Random(7))
    assert draft_a == draft_b
    seed = component_of(draft_a)["abilities"]["generate"]["core_param"]["seed"]
    assert SEED_RANGE[0] <= seed < SEED_RANGE[1]


def test_default_clock_is_now() -> None:
    before = drafts.wall_clock_ms()
    draft = build_image_draft(ImageRequest(prompt="a cat"))
    after = drafts.wall_clock_ms()
    created = int(component_of(draft)["metadata"]["created_time_in_ms"])
    assert before <= created <= after


# --- blend --------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, MAX_BLEND_IMAGES])
def test_blend_fields(count: int) -> None:
    images = tuple(upload(i, "jpeg" if i % 2 else "png") for i in range(count))
    draft = image_draft(images, sample_strength=0.3, ratio="3:2", resolution="1k")
    component = component_of(draft)
    assert component["type"] == "image_base_component"
    assert component["generate_type"] == "blend"
    abilities = component["abilities"]
    assert set(abilities) == {"type", "id", "blend", "gen_option"}
    assert without_id(abilities["gen_option"]) == {"type": "", "generate_all": False}
    assert draft["min_version"] == "3.2.9"
    blend = abilities["blend"]
    # The blend ability carries its own min_version from two images on (PROTOCOL.md §5).
    assert blend.get("min_version") == ("3.2.9" if count >= 2 else None)
    assert set(blend) - {"min_version"} == {
        "type",
        "id",
        "min_features",
        "core_param",
        "ability_list",
        "prompt_placeholder_info_list",
        "postedit_param",
    }
    assert blend["min_features"] == []
    core = blend["core_param"]
    assert core["prompt"] == "##a cat"
    assert core["image_ratio"] == 7
    assert (core["large_image_info"]["width"], core["large_image_info"]["height"]) == (1584, 1056)
    assert core["sample_strength"] == 0.3
    assert len(blend["ability_list"]) == count
    for image, ability in zip(images, blend["ability_list"], strict=True):
        assert ability["type"] == ""
        assert ability["name"] == "byte_edit"
        assert ability["image_uri_list"] == [image.uri]
        assert [without_id(node) for node in ability["image_list"]] == [expected_image_node(image)]
        assert ability["strength"] == 0.3
    placeholders = blend["prompt_placeholder_info_list"]
    assert [p["ability_index"] for p in placeholders] == list(range(count))
    assert all(p["type"] == "" for p in placeholders)
    assert without_id(blend["postedit_param"]) == {"type": "", "generate_type": 0}
    assert_nodes_well_formed(draft, uuid4_ids=False)


def test_blend_of_too_many_images_is_refused() -> None:
    images = tuple(upload(i) for i in range(MAX_BLEND_IMAGES + 1))
    with pytest.raises(InvalidInputError) as info:
        image_draft(images)
    assert info.value.field == "images"
    assert "1 to 10" in str(info.value)


def test_image_node_fields() -> None:
    node = image_node(UploadedImage("tos/abc", 640, 480, "webp"), new_id=lambda: "the-id")
    assert node == {
        "id": "the-id",
        **expected_image_node(UploadedImage("tos/abc", 640, 480, "webp")),
    }


# --- video --------------------------------------------------------------------------------------


def video_input(draft: dict[str, Any]) -> dict[str, Any]:
    params = component_of(draft)["abilities"]["gen_video"]["text_to_video_params"]
    assert len(params["video_gen_inputs"]) == 1
    gen_input: dict[str, Any] = params["video_gen_inputs"][0]
    return gen_input


def test_video_draft_fields_without_frames() -> None:
    draft = video_draft(model="jimeng-video-3.0", ratio="21:9", resolution="1080p")
    assert draft["type"] == "draft"
    assert draft["min_version"] == "3.0.5"
    assert draft["version"] == "3.3.9"
    assert draft["is_from_tsn"] is True
    assert draft["min_features"] == []
    component = component_of(draft)
    assert component["type"] == "video_base_component"
    assert component["min_version"] == "1.0.0"
    assert component["aigc_mode"] == "workbench"
    assert component["generate_type"] == "gen_video"
    assert component["metadata"]["created_time_in_ms"] == str(NOW_MS)
    assert component["metadata"]["created_platform"] == 3
    abilities = component["abilities"]
    assert set(abilities) == {"type", "id", "gen_video"}
    gen_video = abilities["gen_video"]
    assert set(gen_video) == {"type", "id", "text_to_video_params", "video_task_extra"}
    params = gen_video["text_to_video_params"]
    assert params["type"] == ""
    assert params["model_req_key"] == "dreamina_ic_generate_video_model_vgfm_3.0"
    assert params["priority"] == 0
    assert params["seed"] == 2_550_000_001
    assert params["video_aspect_ratio"] == "21:9"
    assert without_id(video_input(draft)) == {
        "type": "",
        "min_version": "3.0.5",
        "prompt": "waves",
        "video_mode": 2,
        "fps": 24,
        "duration_ms": 5000,
        "resolution": "1080p",
    }
    assert json.loads(gen_video["video_task_extra"]) == {
        "promptSource": "custom",
        "isDefaultSeed": 0,
        "originSubmitId": "sub-1",
    }
    assert_nodes_well_formed(draft, uuid4_ids=False)


def test_video_with_first_frame_only() -> None:
    gen_input = video_input(video_draft(upload(1)))
    assert without_id(gen_input["first_frame_image"]) == expected_image_node(upload(1))
    assert "end_frame_image" not in gen_input


def test_video_with_both_frames() -> None:
    draft = video_draft(upload(1, "jpeg"), upload(2, "webp"))
    gen_input = video_input(draft)
    assert without_id(gen_input["first_frame_image"]) == expected_image_node(upload(1, "jpeg"))
    assert without_id(gen_input["end_frame_image"]) == expected_image_node(upload(2, "webp"))
    assert_nodes_well_formed(draft, uuid4_ids=False)


def test_video_with_end_frame_only() -> None:
    gen_input = video_input(video_draft(None, upload(2)))
    assert without_id(gen_input["end_frame_image"]) == expected_image_node(upload(2))
    assert "first_frame_image" not in gen_input


@pytest.mark.parametrize(("duration", "duration_ms"), [(5, 5000), (10, 10000)])
def test_video_duration_to_ms(duration: int, duration_ms: int) -> None:
    assert video_input(video_draft(duration=duration))["duration_ms"] == duration_ms


@pytest.mark.parametrize("ratio", drafts.VIDEO_RATIOS)
def test_video_aspect_ratios(ratio: str) -> None:
    params = component_of(video_draft(ratio=ratio))["abilities"]["gen_video"][
        "text_to_video_params"
    ]
    assert params["video_aspect_ratio"] == ratio


def test_video_random_seed_marks_default_seed() -> None:
    req = VideoRequest(prompt="waves")
    draft = build_video_draft(req, submit_id="s-9", rng=random.Random(3))
    gen_video = component_of(draft)["abilities"]["gen_video"]
    assert SEED_RANGE[0] <= gen_video["text_to_video_params"]["seed"] < SEED_RANGE[1]
    extra = json.loads(gen_video["video_task_extra"])
    assert extra["isDefaultSeed"] == 1
    assert extra["originSubmitId"] == "s-9"


# --- generate body ------------------------------------------------------------------------------

IMAGE_METRICS = {
    "templateId": "",
    "generateCount": 1,
    "promptSource": "custom",
    "templateSource": "",
    "lastRequestId": "",
    "originRequestId": "",
}


def test_image_generate_body() -> None:
    draft = image_draft()
    body = build_generate_body(
        draft=draft, model_id="high_aes_general_v40", submit_id="sub-7", aid=513695, video=False
    )
    assert list(body) == [
        "extend",
        "submit_id",
        "metrics_extra",
        "draft_content",
        "http_common_info",
    ]
    assert body["extend"] == {"root_model": "high_aes_general_v40", "template_id": ""}
    assert body["submit_id"] == "sub-7"
    assert body["http_common_info"] == {"aid": 513695}
    assert json.loads(body["metrics_extra"]) == IMAGE_METRICS
    assert json.loads(body["draft_content"]) == draft


def test_video_generate_body_carries_commerce_info() -> None:
    draft = video_draft()
    body = build_generate_body(
        draft=draft, model_id="dreamina_x", submit_id="sub-8", aid=513641, video=True
    )
    assert body["extend"] == {
        "root_model": "dreamina_x",
        "template_id": "",
        "m_video_commerce_info": VIDEO_COMMERCE_INFO,
        "m_video_commerce_info_list": [VIDEO_COMMERCE_INFO],
    }
    assert body["http_common_info"] == {"aid": 513641}
    assert json.loads(body["draft_content"]) == draft
    body["extend"]["m_video_commerce_info"]["resource_id"] = "changed"
    assert VIDEO_COMMERCE_INFO["resource_id"] == "generate_video"


def test_json_strings_are_compact_and_keep_unicode() -> None:
    draft = image_draft(prompt="一只猫, on a mat: yes")
    body = build_generate_body(draft=draft, model_id="m", submit_id="s", aid=1, video=False)
    for key in ("metrics_extra", "draft_content"):
        text = body[key]
        assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
        assert ", " not in text.replace("一只猫, on a mat: yes", "")
    assert "一只猫" in body["draft_content"]


def test_compact_json() -> None:
    assert compact_json({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'


# --- models, seeds, counts, history image info ---------------------------------------------------


@pytest.mark.parametrize(("alias", "model_id"), list(drafts.IMAGE_MODELS.items()))
def test_resolve_image_aliases(alias: str, model_id: str) -> None:
    assert resolve_model(alias, kind="image") == model_id
    assert resolve_model(model_id, kind="image") == model_id


@pytest.mark.parametrize(("alias", "model_id"), list(drafts.VIDEO_MODELS.items()))
def test_resolve_video_aliases(alias: str, model_id: str) -> None:
    assert resolve_model(alias, kind="video") == model_id
    assert resolve_model(model_id, kind="video") == model_id


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("jimeng-video-3.0", "image"),
        ("dreamina_ic_generate_video_model_vgfm_3.0", "image"),
        ("jimeng-4.0", "video"),
        ("high_aes_general_v40", "video"),
        ("", "image"),
        ("high aes", "image"),
        ("model\tid", "video"),
        ("jimeng-5.9", "image"),
        ("Jimeng-Video-9", "video"),
    ],
)
def test_resolve_model_refusals(value: str, kind: drafts.ModelKind) -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_model(value, kind=kind)
    assert info.value.field == "model"
    aliases = registry.aliases_in(kind, None)
    assert all(alias in str(info.value) for alias in aliases)


def test_resolve_model_passes_unknown_raw_ids() -> None:
    assert resolve_model("high_aes_general_v99", kind="image") == "high_aes_general_v99"
    assert resolve_model("dreamina_future_model", kind="video") == "dreamina_future_model"


@given(st.integers(min_value=0, max_value=2**32))
def test_random_seed_in_range_and_repeatable(rng_seed: int) -> None:
    seed = random_seed(random.Random(rng_seed))
    assert SEED_RANGE[0] <= seed < SEED_RANGE[1]
    assert random_seed(random.Random(rng_seed)) == seed


def test_random_seed_without_rng_varies() -> None:
    seeds = {random_seed() for _ in range(20)}
    assert all(SEED_RANGE[0] <= s < SEED_RANGE[1] for s in seeds)
    assert len(seeds) > 1


@pytest.mark.parametrize("count", [1, 5, MAX_BLEND_IMAGES])
def test_check_image_count_accepts(count: int) -> None:
    assert check_image_count(count) == count


@pytest.mark.parametrize("count", [0, -1, MAX_BLEND_IMAGES + 1, True])
def test_check_image_count_refuses(count: int) -> None:
    with pytest.raises(InvalidInputError) as info:
        check_image_count(count, field="blend_images")
    assert info.value.field == "blend_images"
    assert info.value.allowed == "1 to 10 images"


def test_history_image_info() -> None:
    info = history_image_info()
    assert (info["width"], info["height"], info["format"]) == (2048, 2048, "webp")
    scenes = info["image_scene_list"]
    assert {scene["scene"] for scene in scenes} == {"smart_crop", "normal"}
    assert all(set(scene) == {"scene", "width", "height", "uniq_key", "format"} for scene in scenes)
    assert all(scene["format"] == "webp" for scene in scenes)
    keys = [scene["uniq_key"] for scene in scenes]
    assert len(keys) == len(set(keys))
    crop = next(s for s in scenes if s["scene"] == "smart_crop")
    assert crop["uniq_key"] == f"smart_crop-w:{crop['width']}-h:{crop['height']}"
    normal = next(s for s in scenes if s["scene"] == "normal")
    assert normal["uniq_key"] == str(normal["width"])
    count = len(scenes)
    scenes.clear()
    assert len(history_image_info()["image_scene_list"]) == count


# --- agreement with the emulator's strict checker ------------------------------------------------


def test_bodies_pass_the_emulators_checker() -> None:
    from jimeng_async.testing.drafts_check import Context, check_generate
    from jimeng_async.testing.probe import ImageInfo
    from jimeng_async.testing.tables import REGIONS

    uploads = {f"tos-cn-i-x/{i}": upload(i) for i in range(MAX_BLEND_IMAGES)}

    def committed(uri: str) -> ImageInfo | None:
        image = uploads.get(uri)
        return None if image is None else ImageInfo(image.format, image.width, image.height)

    image_req = ImageRequest(prompt="a cat", ratio="16:9", resolution="4k")
    smart_req = ImageRequest(prompt="a cat", model="jimeng-3.0", intelligent_ratio=True)
    video_req = VideoRequest(
        prompt="waves", model="jimeng-video-3.0", ratio="9:16", duration=10, resolution="1080p"
    )
    cases: list[tuple[ImageRequest | VideoRequest, dict[str, Any], bool]] = [
        (image_req, build_image_draft(image_req), False),
        (image_req, build_image_draft(image_req, images=tuple(uploads.values())), False),
        (smart_req, build_image_draft(smart_req), False),
        (video_req, build_video_draft(video_req, submit_id="s"), True),
        (
            video_req,
            build_video_draft(video_req, first_frame=upload(0), end_frame=upload(1), submit_id="s"),
            True,
        ),
    ]
    for req, draft, video in cases:
        body = build_generate_body(
            draft=draft, model_id=req.model_id, submit_id="sub", aid=513695, video=video
        )
        spec = check_generate(body, Context(REGIONS["cn"], committed)).spec
        assert spec.model == req.model_id
        assert spec.kind == ("video" if video else "image")


# --- exact values the mutation run asked for ---------------------------------------------------


def _phrase(text: str, message: str) -> bool:
    """`text` stands in `message` as its own words (not inside a longer token)."""
    return re.search(rf"(^|[\s(:]){re.escape(text)}($|[\s),])", message) is not None


def test_video_bodies_carry_the_models_own_benefit_type() -> None:
    model = registry.VIDEO_MODELS["jimeng-video-seedance-2.0"]
    expected = {**VIDEO_COMMERCE_INFO, "benefit_type": "dreamina_video_seedance_20_pro"}
    assert drafts.video_commerce_info(model.id) == expected
    body = build_generate_body(
        draft=video_draft(), model_id=model.id, submit_id="s", aid=513695, video=True
    )
    assert body["extend"]["m_video_commerce_info"] == expected
    assert body["extend"]["m_video_commerce_info_list"] == [expected]


def test_wall_clock_is_in_whole_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jimeng_async.drafts.time.time_ns", lambda: 1_700_000_000_123_999_999)
    assert drafts.wall_clock_ms() == 1_700_000_000_123


def test_model_choices_lists_the_aliases_then_raw_ids() -> None:
    for kind in ("image", "video"):
        aliases = ", ".join(registry.aliases_in(kind, None))
        assert drafts.model_choices(kind) == aliases + ", or a raw model id without spaces"


def test_a_model_that_is_not_a_string_is_named() -> None:
    with pytest.raises(InvalidInputError) as info:
        resolve_model(5, kind="video")  # type: ignore[arg-type]
    assert info.value.field == "model"
    assert info.value.allowed == drafts.model_choices("video")
    assert _phrase("must be a string", str(info.value))


def test_model_refusals_say_why() -> None:
    cases = [
        ("jimeng-4.0", "video", "'jimeng-4.0' is an image model, not a video model"),
        ("jimeng-video-3.0", "image", "'jimeng-video-3.0' is a video model, not an image model"),
        ("jimeng-9", "image", "'jimeng-9' is not a known alias"),
        ("a b", "image", "'a b' is not a model alias or id"),
    ]
    for value, kind, reason in cases:
        with pytest.raises(InvalidInputError) as info:
            resolve_model(value, kind=kind)  # type: ignore[arg-type]
        assert _phrase(reason, str(info.value)), str(info.value)
    long_name = "jimeng-" + "x" * 80
    with pytest.raises(InvalidInputError) as cut:
        resolve_model(long_name, kind="image")
    assert _phrase(f"{long_name[:60]!r} is not a known alias", str(cut.value))
    spaced = "a " + "y" * 80
    with pytest.raises(InvalidInputError) as cut_spaced:
        resolve_model(spaced, kind="image")
    assert _phrase(f"{spaced[:60]!r} is not a model alias or id", str(cut_spaced.value))


def test_an_image_count_refusal_names_the_count() -> None:
    with pytest.raises(InvalidInputError) as info:
        check_image_count(11)
    assert info.value.field == "images"
    assert _phrase("11 images given", str(info.value))


def test_image_nodes_take_their_ids_from_the_draft_factory() -> None:
    blend = image_draft((upload(1), upload(2)))
    video = video_draft(upload(3), upload(4))
    for draft in (blend, video):
        ids = [node["id"] for node in walk_dicts(draft)]
        assert all(node_id.startswith("id-") for node_id in ids), ids


def test_a_video_seed_left_open_comes_from_the_rng() -> None:
    req = VideoRequest(prompt="waves")

    def seed_of(rng_seed: int) -> int:
        draft = build_video_draft(req, submit_id="s", rng=random.Random(rng_seed))
        seed: int = component_of(draft)["abilities"]["gen_video"]["text_to_video_params"]["seed"]
        return seed

    assert seed_of(11) == seed_of(11) == random_seed(random.Random(11))
