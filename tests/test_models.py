"""Response parsing: tolerant of extra and missing optional fields, typed errors otherwise."""

from __future__ import annotations

from typing import Any

import pytest

from jimeng_async import AccountInfo, CreditInfo, CreditReceipt, ResponseFieldError, TaskStatus
from jimeng_async.models import history_records, parse_record


def test_account_info_flattens_and_keeps_going_without_optional_fields() -> None:
    info = AccountInfo.from_data(
        {
            "user_id": 123,
            "user_info": {"nickname": "n", "region": "cn"},
            "account_status": {"is_vip": True, "vip_level": 2},
            "permission_info": {"can_generate_video": False},
            "unknown": {"x": 1},
        }
    )
    assert (info.user_id, info.nickname, info.is_vip, info.vip_level) == ("123", "n", True, 2)
    assert info.can_generate_video is False
    assert info.can_generate_image is None
    assert AccountInfo.from_data({"user_id": "9"}).user_id == "9"


def test_account_info_without_user_id_names_the_field() -> None:
    with pytest.raises(ResponseFieldError, match="user_id"):
        AccountInfo.from_data({"user_info": {}})


def test_credits_total_is_sum_unless_given() -> None:
    info = CreditInfo.from_data(
        {"credit": {"gift_credit": 1, "purchase_credit": 2, "vip_credit": 3}}
    )
    assert (info.gift, info.purchase, info.vip, info.total) == (1, 2, 3, 6)
    assert info.can_receive_daily is None
    given = CreditInfo.from_data(
        {
            "credit": {"gift_credit": 1, "total_credit": 10},
            "benefit_status": {"can_receive_daily": True},
        }
    )
    assert given.total == 10
    assert given.can_receive_daily is True


@pytest.mark.parametrize(
    ("data", "field"),
    [({}, "credit"), ({"credit": {"gift_credit": "many"}}, "gift"), ({"credit": []}, "credit")],
)
def test_credits_malformed(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ResponseFieldError, match=field):
        CreditInfo.from_data(data)


def test_receipt() -> None:
    # The total comes from a fresh balance read, never from the answer's cur_total_credits.
    receipt = CreditReceipt.from_data({"cur_total_credits": 100, "receive_quota": 100}, total=250)
    assert (receipt.received, receipt.total) == (100, 250)
    newer = {"receive_quota": 100, "is_first_receive": True, "has_popup": False}
    assert CreditReceipt.from_data(newer, total=100).is_first_receive is True
    assert CreditReceipt.from_data({}, total=7).received == 0
    with pytest.raises(ResponseFieldError, match="received"):
        CreditReceipt.from_data({"receive_quota": "lots"}, total=1)


def _image_item(url: str) -> dict[str, Any]:
    return {
        "common_attr": {"cover_url": "cover"},
        "image": {"large_images": [{"image_url": url, "width": 2, "height": 3, "format": "png"}]},
    }


def test_image_record_and_fallback_to_cover() -> None:
    record = parse_record(
        "1",
        {
            "status": 50,
            "fail_code": "0",
            "item_list": [_image_item("u1"), {"common_attr": {"cover_url": "c2"}}, {"junk": 1}],
        },
        "image",
    )
    assert record.status is TaskStatus.COMPLETED
    assert record.status.succeeded
    assert [a.url for a in record.assets()] == ["u1", "c2"]
    assert record.assets()[0].width == 2
    assert record.fail_code is None


def test_video_record_fallbacks() -> None:
    origin = {
        "video": {
            "transcoded_video": {"origin": {"video_url": "v", "duration": 5.0}},
            "thumbnail_url": "t",
        }
    }
    medium = {"video": {"transcoded_video": {"medium": {"video_url": "m"}}}}
    play = {"video": {"play_url": "p"}}
    download = {"video": {"download_url": "d"}}
    record = parse_record(
        "1", {"status": 10, "item_list": [origin, medium, play, download]}, "video"
    )
    assert [a.url for a in record.assets()] == ["v", "m", "p", "d"]
    assert record.assets()[0].duration == 5.0
    assert record.assets()[0].cover_url == "t"


def test_queue_and_failure_fields() -> None:
    record = parse_record(
        "7",
        {
            "status": 30,
            "fail_code": 2038,
            "queue_info": {"queue_idx": 3, "queue_length": 9},
            "forecast_cost_time": {"forecast_queue_cost": 12},
        },
        "image",
    )
    assert record.status is TaskStatus.FAILED
    assert record.fail_code == "2038"
    assert record.queue is not None
    assert (record.queue.position, record.queue.length) == (3, 9)
    assert record.queue.forecast_queue_seconds == 12


@pytest.mark.parametrize("raw", [None, [], {"status": "busy"}, {"item_list": []}])
def test_record_without_status_is_a_typed_error(raw: Any) -> None:
    with pytest.raises(ResponseFieldError):
        parse_record("1", raw, "image")


@pytest.mark.parametrize("code", [99, -1, -2, -3, 1, 2**40, "7"])
def test_unknown_status_is_unknown_and_still_running(code: Any) -> None:
    record = parse_record("1", {"status": code}, "image")
    assert record.status is TaskStatus.UNKNOWN
    assert not record.status.terminal
    assert not record.status.succeeded
    assert record.status_code == int(code)


def test_history_records_keyed_or_listed() -> None:
    assert history_records({"1": {"status": 20}}) == {"1": {"status": 20}}
    listed = history_records({"history_list": [{"history_record_id": 5, "status": 20}, "x"]})
    assert list(listed) == ["5"]
