"""The public Literal types stay equal to the registry's data they mirror."""

from __future__ import annotations

import inspect
from typing import get_args

import pytest

import jimeng_async as jm
from jimeng_async import registry, types
from jimeng_async.session import JimengSession


def _offered(table: object) -> set[str]:
    assert isinstance(table, type(registry.IMAGE_MODELS))
    return {alias for alias, model in table.items() if not model.withdrawn}


def test_model_name_literals_list_every_offered_alias() -> None:
    assert set(get_args(types.ImageModelName)) == _offered(registry.IMAGE_MODELS)
    assert set(get_args(types.VideoModelName)) == _offered(registry.VIDEO_MODELS)


def test_ratio_and_resolution_literals_match_the_registry() -> None:
    assert get_args(types.Ratio) == registry.IMAGE_RATIOS
    assert get_args(types.VideoRatio) == registry.VIDEO_RATIOS
    assert get_args(types.Resolution) == registry.IMAGE_RESOLUTIONS
    assert get_args(types.VideoResolution) == registry.VIDEO_RESOLUTIONS


def test_defaults_are_members_of_their_literals() -> None:
    assert registry.DEFAULT_IMAGE_MODEL in get_args(types.ImageModelName)
    assert registry.DEFAULT_VIDEO_MODEL in get_args(types.VideoModelName)


@pytest.mark.parametrize(
    "method",
    [
        JimengSession.submit_image,
        JimengSession.submit_video,
        JimengSession.generate_image,
        JimengSession.generate_video,
        jm.JimengPool.submit_image,
        jm.JimengPool.submit_video,
        jm.JimengPool.generate_image,
        jm.JimengPool.generate_video,
    ],
)
def test_generation_options_are_explicit_and_keyword_only(method: object) -> None:
    assert callable(method)
    parameters = list(inspect.signature(method).parameters.values())
    assert [p.name for p in parameters[:2]] == ["self", "prompt"]
    for parameter in parameters[2:]:
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, parameter.name
    assert "model" in {p.name for p in parameters}


def test_pool_and_session_take_the_same_generation_options() -> None:
    def names(method: object) -> list[str]:
        assert callable(method)
        return [p for p in inspect.signature(method).parameters if p != "submit_id"]

    assert names(jm.JimengPool.generate_image) == names(JimengSession.generate_image)
    assert names(jm.JimengPool.generate_video) == names(JimengSession.generate_video)
    assert names(jm.JimengPool.submit_image) == names(JimengSession.submit_image)
    assert names(jm.JimengPool.submit_video) == names(JimengSession.submit_video)
