"""The decoding boundary: arbitrary JSON, any depth and any types, yields data or a JimengError."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jimeng_async import _decode
from jimeng_async._decode import (
    MAX_FIELD_INT,
    json_depth,
    load_json,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
)
from jimeng_async.config import DEFAULT_REGIONS
from jimeng_async.errors import JimengError, MalformedResponseError, UploadError
from jimeng_async.images import ImageHeader
from jimeng_async.imagex import UploadToken, _imagex_result, parse_apply, parse_commit
from jimeng_async.models import (
    AccountInfo,
    CreditInfo,
    CreditReceipt,
    TaskStatus,
    history_records,
    hq_video_url,
    parse_record,
)
from jimeng_async.polling import record_kind
from jimeng_async.transport import decode_envelope

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
#: Keys the decoders look for, so that generated objects reach the interesting branches.
KEYS = st.sampled_from(
    [
        "ret",
        "errmsg",
        "data",
        "status",
        "item_list",
        "queue_info",
        "forecast_cost_time",
        "fail_code",
        "fail_msg",
        "credit",
        "gift_credit",
        "total_credit",
        "user_id",
        "user_info",
        "account_status",
        "permission_info",
        "history_list",
        "id",
        "history_record_id",
        "image",
        "large_images",
        "image_url",
        "video",
        "transcoded_video",
        "origin",
        "video_url",
        "width",
        "Result",
        "ResponseMetadata",
        "Error",
        "Code",
        "Results",
        "Uri",
        "UriStatus",
        "PluginResult",
        "ImageWidth",
        "ImageHeight",
        "UploadAddress",
        "StoreInfos",
        "StoreUri",
        "Auth",
        "SessionKey",
        "UploadHosts",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "receive_quota",
        "cur_total_credits",
        "queue_idx",
        "duration",
    ]
)
shaped = st.recursive(
    json_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=40,
)
objects = st.dictionaries(KEYS, shaped, max_size=8)
HEADER = ImageHeader("png", 10, 20)


def _response(body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=body, request=httpx.Request("POST", "https://x.test/"))


def _every_decoder(payload: Any, raw: bytes) -> None:
    """Feed one answer to every decoder; each may return or raise a JimengError only."""
    calls: list[Callable[[], object]] = [
        lambda: decode_envelope(_response(raw), {}),
        lambda: _imagex_result(_response(raw), "CommitImageUpload"),
    ]
    if isinstance(payload, dict):
        calls += [
            lambda: AccountInfo.from_data(payload),
            lambda: CreditInfo.from_data(payload),
            lambda: CreditReceipt.from_data(payload, total=0),
            lambda: hq_video_url(payload),
            lambda: record_kind(payload),
            lambda: history_records(payload),
            lambda: parse_apply(payload),
            lambda: parse_commit(payload, HEADER, 10),
            lambda: UploadToken.from_data(payload, DEFAULT_REGIONS["cn"]),
            lambda: UploadToken.from_data(payload, DEFAULT_REGIONS["us"]),
        ]
        for raw_record in history_records(payload).values():
            calls += [
                partial(parse_record, "1", raw_record, "image"),
                partial(parse_record, "1", raw_record, "video"),
            ]
    calls += [
        lambda: parse_record("1", payload, "image"),
        lambda: parse_record("1", payload, "video"),
    ]
    for call in calls:
        with contextlib.suppress(JimengError):
            call()


@settings(max_examples=300, deadline=None)
@given(st.one_of(objects, shaped))
def test_arbitrary_json_gives_data_or_a_jimeng_error(payload: Any) -> None:
    raw = json.dumps(payload).encode()
    _every_decoder(payload, raw)
    _every_decoder(
        {"ret": "0", "data": payload}, json.dumps({"ret": "0", "data": payload}).encode()
    )
    _every_decoder({"Result": payload}, json.dumps({"Result": payload}).encode())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_jimeng_error_or_data(raw: bytes) -> None:
    decoders: list[Callable[[], object]] = [
        lambda: decode_envelope(_response(raw), {}),
        lambda: _imagex_result(_response(raw), "ApplyImageUpload"),
    ]
    for decode in decoders:
        with contextlib.suppress(JimengError):
            decode()


@pytest.mark.parametrize("depth", [65, 1000, sys.getrecursionlimit() * 4])
@pytest.mark.parametrize("opener", [b"[", b'{"a":', b'{"ret":0,"data":{"x":'])
def test_nesting_beyond_the_limit_is_malformed_not_recursion(opener: bytes, depth: int) -> None:
    closer = b"]" if opener == b"[" else b"}"
    raw = opener * depth + b"1" + closer * depth
    with pytest.raises(MalformedResponseError, match="nests deeper than 64"):
        decode_envelope(_response(raw), {})
    with pytest.raises(MalformedResponseError, match="nests deeper"):
        _imagex_result(_response(raw), "CommitImageUpload")


def test_nesting_at_the_limit_is_decoded() -> None:
    raw = b'{"ret":"0","data":{"a":' + b"[" * 62 + b"1" + b"]" * 62 + b"}}"
    assert json_depth(raw) == 64
    data = decode_envelope(_response(raw), {})
    assert isinstance(data["a"], list)


def _depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth_of(v) for v in value), default=0)
    return 0


bracket_text = st.text(alphabet='[]{}"\\ax', max_size=8)
nested = st.recursive(
    st.none() | st.integers() | bracket_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(bracket_text, inner, max_size=3),
    max_leaves=30,
)


@given(nested)
def test_json_depth_is_the_nesting_of_the_value(value: Any) -> None:
    """Whatever brackets, quotes and backslashes its strings hold (raw and escaped)."""
    for raw in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        assert json_depth(raw) == _depth_of(value)


def test_brackets_inside_strings_do_not_count() -> None:
    assert json_depth(b'{"a": "[[[[{{{{\\"[[["}') == 1
    assert json_depth(b"[[]]") == 2
    assert json_depth(b"[[],[[]]]") == 3
    assert json_depth(b'"x"') == 0
    assert json_depth(b"[" * 10, limit=3) == 4  # stops counting past the limit


def test_size_bound_and_non_json_constants() -> None:
    with pytest.raises(MalformedResponseError, match="larger than 10 bytes"):
        load_json(b'{"a": "0123456789"}', max_bytes=10)
    assert load_json(b'{"a": 1}', max_bytes=8) == {"a": 1}
    for raw in (b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"\xff\xfe", b"", b"{"):
        with pytest.raises(MalformedResponseError, match="not JSON"):
            load_json(raw)
    assert load_json(b"1e400") == math.inf  # a number, read through opt_float as None
    assert opt_float(load_json(b"1e400")) is None


def test_envelope_ret_must_be_a_short_scalar() -> None:
    for body in (b'{"ret": null}', b'{"ret": [0]}', b'{"ret": {"a": 1}}', b"[1]", b'{"ret": true}'):
        with pytest.raises(MalformedResponseError, match="not an envelope"):
            decode_envelope(_response(body), {})
    assert decode_envelope(_response(b'{"ret": 0, "data": {"a": 1}}'), {}) == {"a": 1}


def test_readers_are_exact() -> None:
    values: tuple[object, ...] = ("a", "", 5, None, True, 1.5, [], {})
    assert [opt_str(v) for v in values] == [
        "a",
        None,
        "5",
        None,
        None,
        None,
        None,
        None,
    ]
    assert opt_int(5) == 5
    assert opt_int(5.0) == 5
    assert opt_int("42") == 42
    assert opt_int("-7") == -7
    bad_values: tuple[object, ...] = (
        5.5,
        "5.5",
        "٣",
        "²",
        " 5",
        "1_000",
        True,
        None,
        [],
        math.inf,
        "9" * 30,
    )
    for bad in bad_values:
        assert opt_int(bad) is None, bad
    assert opt_int(MAX_FIELD_INT) == MAX_FIELD_INT
    assert opt_int(MAX_FIELD_INT + 1) is None
    assert opt_int(0, low=1) is None
    assert opt_int(11, high=10) is None
    assert opt_int(10, high=10) == 10
    assert opt_float(2) == 2.0
    assert opt_float("2.5") == 2.5
    assert opt_float(10**400) is None
    assert opt_float(False) is None
    assert opt_float("nan") is None
    assert [opt_bool(v) for v in (True, False, 1, 0, 2, "true", None)] == [
        True,
        False,
        True,
        False,
        None,
        None,
        None,
    ]
    assert _decode.first_obj([{"a": 1}, 2]) == {"a": 1}
    assert _decode.first_obj([2, {"a": 1}]) == {}
    assert _decode.obj([1]) == {}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"Results": [{"Uri": "tos/a"}], "PluginResult": None}, (10, 20)),
        ({"Results": [{"Uri": "tos/a"}], "PluginResult": "x"}, (10, 20)),
        ({"Results": [{"Uri": "tos/a"}], "PluginResult": {"ImageWidth": 5}}, (10, 20)),
        ({"Results": [{"Uri": "tos/a"}], "PluginResult": [{"ImageWidth": "wide"}]}, (10, 20)),
        ({"Results": [{"Uri": "tos/a"}], "PluginResult": [{"ImageWidth": 10**30}]}, (10, 20)),
        ({"Results": [{"Uri": "tos/a"}], "PluginResult": [{"ImageWidth": -3}]}, (10, 20)),
        (
            {"Results": [{"Uri": "tos/a"}], "PluginResult": [{"ImageWidth": 7, "ImageHeight": 9}]},
            (7, 9),
        ),
    ],
)
def test_commit_plugin_result_is_read_tolerantly(
    result: dict[str, Any], expected: tuple[int, int]
) -> None:
    ref = parse_commit(result, HEADER, 10)
    assert (ref.uri, ref.width, ref.height) == ("tos/a", *expected)


@pytest.mark.parametrize("uri", [None, "", 5, [], {"a": 1}])
def test_commit_without_a_string_uri_is_an_upload_error(uri: Any) -> None:
    with pytest.raises(UploadError, match=r"lacks Results\[0\]\.Uri"):
        parse_commit({"Results": [{"Uri": uri}]}, HEADER, 10)


def test_commit_uri_status_other_than_2000_is_refused() -> None:
    with pytest.raises(UploadError, match="UriStatus 4001"):
        parse_commit({"Results": [{"Uri": "u", "UriStatus": 4001}]}, HEADER, 10)
    assert parse_commit({"Results": [{"Uri": "u", "UriStatus": "2000"}]}, HEADER, 1).uri == "u"


def test_unknown_service_statuses_never_alias_client_statuses() -> None:
    for code in (-1, -2, -3):
        assert TaskStatus.from_code(code) is TaskStatus.UNKNOWN
    for code in (0, 10, 20, 30, 42, 45, 50):
        assert TaskStatus.from_code(code).value == code
    assert not TaskStatus.UNKNOWN.terminal


def test_record_fields_of_the_wrong_type_are_dropped_not_raised() -> None:
    record = parse_record(
        "1",
        {
            "status": "20",
            "queue_info": {"queue_idx": 1e300, "queue_length": "3"},
            "forecast_cost_time": {"forecast_queue_cost": 10**400},
            "fail_code": {"a": 1},
            "item_list": [
                {"image": {"large_images": [{"image_url": "https://c/a", "width": 1.5}]}}
            ],
        },
        "image",
    )
    assert record.status is TaskStatus.PROCESSING
    assert record.queue is not None
    assert record.queue.length is None  # a string is not a queue length
    assert record.queue.forecast_queue_seconds is None
    assert record.fail_code is None
    assert record.assets()[0].width is None
