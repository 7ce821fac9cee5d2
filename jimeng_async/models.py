"""Pydantic models of what the service answers, parsed tolerantly, and of what we hand back.

The service publishes no contract: unknown fields are kept (extra="allow") and optional ones may
be missing. A field a method truly needs that is missing or of the wrong type raises
`ResponseFieldError` naming it, never KeyError or TypeError.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._decode import MAX_FIELD_INT, first_obj, obj, opt_bool, opt_float, opt_int, opt_str
from .auth import redact_url
from .errors import ResponseFieldError

M = TypeVar("M", bound=BaseModel)
Kind = Literal["image", "video"]


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


def parse_model(cls: type[M], data: Mapping[str, Any], *, what: str) -> M:
    """Validate `data` as `cls`, turning pydantic's error into a `ResponseFieldError`."""
    try:
        return cls.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(root)"
        raise ResponseFieldError(
            f"{what}: field {field!r}: {first['msg']}", context={"field": field}
        ) from None


_obj = obj
_first_obj = first_obj


def _text(value: Any) -> str | None:
    """A short text field (format, nickname): strings and numbers only, at most 256 chars."""
    text = opt_str(value)
    return None if text is None else text[:256]


class AccountInfo(_Tolerant):
    """Who the token belongs to and what the account may do."""

    user_id: str
    nickname: str | None = None
    avatar_url: str | None = None
    region: str | None = None
    is_vip: bool = False
    vip_level: int | None = None
    is_banned: bool = False
    can_generate_image: bool | None = None
    can_generate_video: bool | None = None
    daily_limit: int | None = None
    used_today: int | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AccountInfo:
        user = _obj(data.get("user_info"))
        status = _obj(data.get("account_status"))
        perms = _obj(data.get("permission_info"))
        flat = {
            "user_id": _text(data.get("user_id")),
            "nickname": _text(user.get("nickname")) or _text(user.get("screen_name")),
            "avatar_url": opt_str(user.get("avatar_url")),
            "region": _text(user.get("region")),
            "is_vip": bool(opt_bool(status.get("is_vip"))),
            "vip_level": opt_int(status.get("vip_level")),
            "is_banned": bool(opt_bool(status.get("is_banned"))),
            "can_generate_image": opt_bool(perms.get("can_generate_image")),
            "can_generate_video": opt_bool(perms.get("can_generate_video")),
            "daily_limit": opt_int(perms.get("daily_limit")),
            "used_today": opt_int(perms.get("used_today")),
        }
        return parse_model(cls, flat, what="account info")


class CreditInfo(_Tolerant):
    """Credits by source; `total` is the larger of two readings (PROTOCOL.md §3).

    One reading is `credit.*` (its total_credit, or the sum of the three kinds); since 2026 the
    balance may instead sit in `credits_detail` / `expiring_credits` while `credit.*` reads 0.
    """

    gift: int = 0
    purchase: int = 0
    vip: int = 0
    total: int
    detail_total: int = 0
    can_receive_daily: bool | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CreditInfo:
        detail_total = _residual(data.get("credits_detail")) + _residual(
            data.get("expiring_credits")
        )
        if not isinstance(data.get("credit"), dict):
            if "credits_detail" in data or "expiring_credits" in data:
                return parse_model(
                    cls,
                    {
                        "total": detail_total,
                        "detail_total": detail_total,
                        "can_receive_daily": _obj(data.get("benefit_status")).get(
                            "can_receive_daily"
                        ),
                    },
                    what="credits",
                )
            raise ResponseFieldError(
                "credits: field 'credit' is missing", context={"field": "credit"}
            )
        credit = data["credit"]
        parts = {
            "gift": credit.get("gift_credit", 0),
            "purchase": credit.get("purchase_credit", 0),
            "vip": credit.get("vip_credit", 0),
        }
        checked = parse_model(_CreditParts, parts, what="credits")
        total = credit.get("total_credit")
        if total is None:
            total = checked.gift + checked.purchase + checked.vip
        elif not isinstance(total, int) or isinstance(total, bool):
            raise ResponseFieldError(
                "credits: field 'credit.total_credit' is not a number",
                context={"field": "credit.total_credit"},
            )
        return parse_model(
            cls,
            {
                "gift": checked.gift,
                "purchase": checked.purchase,
                "vip": checked.vip,
                "total": max(total, detail_total),
                "detail_total": detail_total,
                "can_receive_daily": opt_bool(
                    _obj(data.get("benefit_status")).get("can_receive_daily")
                ),
            },
            what="credits",
        )


_RESIDUAL_KEYS = ("residual_credits", "residual_credit", "credit", "amount")


def _residual(value: Any) -> int:
    """Credits left in a `credits_detail` / `expiring_credits` reading, whatever its nesting.

    A number counts as is; a list sums its entries; an object sums its lists of entries, or
    reads the first of `_RESIDUAL_KEYS` it has (`residual_credits` in observed answers).
    """
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        if not -MAX_FIELD_INT <= value <= MAX_FIELD_INT:  # also inf (JSON's 1e400) and NaN
            raise ResponseFieldError(
                f"credits: a residual credit count ({value!r}) is not a usable number",
                context={"field": "credits_detail"},
            )
        return max(0, int(value))
    if isinstance(value, list):
        return sum(_residual(entry) for entry in value)
    if isinstance(value, dict):
        for key in _RESIDUAL_KEYS:
            if key in value:
                return _residual(value[key])
        return sum(_residual(child) for child in value.values() if isinstance(child, list))
    return 0


class _CreditParts(BaseModel):
    gift: Annotated[int, Field(ge=-MAX_FIELD_INT, le=MAX_FIELD_INT)]
    purchase: Annotated[int, Field(ge=-MAX_FIELD_INT, le=MAX_FIELD_INT)]
    vip: Annotated[int, Field(ge=-MAX_FIELD_INT, le=MAX_FIELD_INT)]


class CreditReceipt(_Tolerant):
    """What receiving the daily credits gave (`received` is 0 when already received today).

    `total` is the balance read again after the receipt: the answer itself no longer carries
    it (older answers had `cur_total_credits`, which is not relied on).
    """

    received: int
    total: int
    is_first_receive: bool | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, total: int) -> CreditReceipt:
        flat = {
            "received": data.get("receive_quota") or 0,
            "total": total,
            "is_first_receive": data.get("is_first_receive"),
        }
        return parse_model(cls, flat, what="credit receipt")


class ImageRef(BaseModel):
    """An uploaded image: the URI to put in drafts, with its size and format."""

    model_config = ConfigDict(frozen=True)

    uri: str
    width: int
    height: int
    format: str = "png"
    size: int | None = None


class TaskStatus(enum.IntEnum):
    """The service's record statuses, plus the client's own PENDING, TIMED_OUT, CANCELLED."""

    PENDING = 0
    PROCESSING = 20
    POST_PROCESSING = 42
    FINALISING = 45
    SUCCESS = 10
    COMPLETED = 50
    FAILED = 30
    TIMED_OUT = -1
    CANCELLED = -2
    UNKNOWN = -3

    @classmethod
    def from_code(cls, code: int) -> TaskStatus:
        """The status of a service code; a code not in PROTOCOL.md §6 (even -1, -2) is UNKNOWN.

        UNKNOWN is not terminal: the job counts as still running until the code persists.
        """
        if code in _SERVICE_CODES:
            return cls(code)
        return cls.UNKNOWN

    @property
    def succeeded(self) -> bool:
        return self in (TaskStatus.SUCCESS, TaskStatus.COMPLETED)

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_SERVICE_CODES = frozenset({0, 10, 20, 30, 42, 45, 50})

_TERMINAL = frozenset(
    {
        TaskStatus.SUCCESS,
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.TIMED_OUT,
        TaskStatus.CANCELLED,
    }
)


class Asset(BaseModel):
    """One result file: a signed CDN URL (it expires: download promptly) and what it holds."""

    model_config = ConfigDict(frozen=True)

    url: str
    width: int | None = None
    height: int | None = None
    format: str | None = None
    duration: float | None = None
    cover_url: str | None = None
    #: The item's id: what get_local_item_list takes for the high-quality video URL.
    item_id: str | None = None
    media: Literal["image", "video"] = "image"

    def __repr_args__(self) -> Any:
        """Fields as pydantic shows them, URLs cut before their signed query."""
        for name, value in super().__repr_args__():
            yield name, (redact_url(value) if name in _URL_FIELDS and value else value)

    def redacted(self) -> Asset:
        """A copy whose URLs have no query (and so no signature), for display."""
        return self.model_copy(
            update={
                "url": redact_url(self.url),
                "cover_url": redact_url(self.cover_url) if self.cover_url else None,
            }
        )


_URL_FIELDS = frozenset({"url", "cover_url"})


class AssetFields(NamedTuple):
    """An `Asset`'s fields as a record gives them: a tuple of plain values, which the garbage
    collector stops visiting, made into an `Asset` only when a result is read. (Thousands of
    finished jobs waiting to be read cost a pause in every full collection otherwise: issue
    #15.)"""

    url: str
    width: int | None = None
    height: int | None = None
    format: str | None = None
    duration: float | None = None
    cover_url: str | None = None
    item_id: str | None = None
    media: Literal["image", "video"] = "image"

    def asset(self) -> Asset:
        return Asset(**self._asdict())


class QueueInfo(BaseModel):
    """Where the job waits, when the service says."""

    model_config = ConfigDict(frozen=True)

    position: int | None = None
    length: int | None = None
    forecast_queue_seconds: float | None = None
    forecast_generate_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One job as `get_history_by_ids` describes it (`parse_record` checks every field).

    A slotted dataclass, not a model: one object for the garbage collector where a model is
    three, and a round may hold thousands of finished records (issue #15).
    """

    history_id: str
    status: TaskStatus
    status_code: int | None = None  # the service's own code, kept for an UNKNOWN status
    fail_code: str | None = None
    fail_msg: str | None = None
    #: Each item's `AssetFields` as an exact tuple: the garbage collector stops visiting those
    #: (not a NamedTuple's).
    items: tuple[tuple[Any, ...], ...] = ()
    queue: QueueInfo | None = None

    def assets(self) -> list[AssetFields]:
        """The items' fields, by name."""
        return [AssetFields(*fields) for fields in self.items]


def _number(value: Any) -> float | None:
    """A finite number, never a string (a forecast, a duration)."""
    return opt_float(value) if isinstance(value, int | float) else None


def _int(value: Any) -> int | None:
    """A width, height or queue position: a whole number, never a string."""
    number = _number(value)
    return None if number is None or not number.is_integer() else opt_int(int(number))


def item_id_of(item: Mapping[str, Any]) -> str | None:
    """An item's id: `item_id`, `id`, `local_item_id` or `common_attr.id` (PROTOCOL.md §6)."""
    for value in (
        item.get("item_id"),
        item.get("id"),
        item.get("local_item_id"),
        _obj(item.get("common_attr")).get("id"),
    ):
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def pick_image(item: Mapping[str, Any]) -> AssetFields | None:
    """The largest image of an item, or the cover as a fallback (PROTOCOL.md §6)."""
    large = _first_obj(_obj(item.get("image")).get("large_images"))
    url = large.get("image_url")
    if isinstance(url, str) and url:
        return AssetFields(
            url=url,
            width=_int(large.get("width")),
            height=_int(large.get("height")),
            format=_text(large.get("format")),
            item_id=item_id_of(item),
        )
    cover = _obj(item.get("common_attr")).get("cover_url")
    if isinstance(cover, str) and cover:
        return AssetFields(url=cover, item_id=item_id_of(item))
    return None


def pick_video(item: Mapping[str, Any]) -> AssetFields | None:
    """The origin rendition, then medium, then play or download URL (PROTOCOL.md §6)."""
    video = _obj(item.get("video"))
    transcoded = _obj(video.get("transcoded_video"))
    cover = video.get("thumbnail_url") or _obj(item.get("common_attr")).get("cover_url")
    for rendition in (_obj(transcoded.get("origin")), _obj(transcoded.get("medium"))):
        url = rendition.get("video_url")
        if isinstance(url, str) and url:
            return AssetFields(
                url=url,
                width=_int(rendition.get("width")),
                height=_int(rendition.get("height")),
                format=_text(rendition.get("format")) or "mp4",
                duration=_number(rendition.get("duration")),
                cover_url=_text(cover),
                item_id=item_id_of(item),
                media="video",
            )
    for key in ("play_url", "download_url"):
        url = video.get(key)
        if isinstance(url, str) and url:
            return AssetFields(
                url=url,
                format="mp4",
                cover_url=_text(cover),
                item_id=item_id_of(item),
                media="video",
            )
    return None


def hq_video_url(data: Mapping[str, Any]) -> str | None:
    """The best video URL in a get_local_item_list answer (PROTOCOL.md §7), or None."""
    item = _first_obj(data.get("item_list"))
    candidates = (
        _obj(_obj(_obj(item.get("common_attr")).get("transcoded_video")).get("origin")),
        _obj(_obj(_obj(item.get("video")).get("transcoded_video")).get("origin")),
    )
    for rendition in candidates:
        url = rendition.get("video_url")
        if isinstance(url, str) and url:
            return url
    url = _obj(item.get("video")).get("download_url")
    return url if isinstance(url, str) and url else None


def parse_record(history_id: str, raw: Any, kind: Kind) -> HistoryRecord:
    """A record from its raw object; raises `ResponseFieldError` if it has no usable status."""
    if not isinstance(raw, dict):
        raise ResponseFieldError(
            f"history {history_id}: the record is not an object", context={"field": history_id}
        )
    status = opt_int(raw.get("status"))
    if status is None:
        raise ResponseFieldError(
            f"history {history_id}: field 'status' is missing or not a number",
            context={"field": "status", "history_id": history_id},
        )
    picker = pick_image if kind == "image" else pick_video
    listed = raw.get("item_list")
    items: list[Any] = listed if isinstance(listed, list) else []
    assets = tuple(a for a in (picker(i) for i in items if isinstance(i, dict)) if a is not None)
    queue_raw = _obj(raw.get("queue_info"))
    forecast = _obj(raw.get("forecast_cost_time"))
    queue = None
    if queue_raw or forecast:
        queue = QueueInfo(
            position=_int(queue_raw.get("queue_idx")),
            length=_int(queue_raw.get("queue_length")),
            forecast_queue_seconds=_number(forecast.get("forecast_queue_cost")),
            forecast_generate_seconds=_number(forecast.get("forecast_generate_cost")),
        )
    fail_code: Any = raw.get("fail_code")  # a number or, in newer answers, a string
    if isinstance(fail_code, float) and fail_code.is_integer():
        fail_code = int(fail_code)
    fail_code = _text(fail_code)
    return HistoryRecord(
        history_id=history_id,
        status=TaskStatus.from_code(status),
        status_code=status,
        fail_code=None if fail_code in (None, "0") else fail_code,
        fail_msg=(opt_str(raw.get("fail_msg")) or "")[:1000] or None,
        items=tuple(map(tuple, assets)),
        queue=queue,
    )


def history_records(data: Mapping[str, Any]) -> dict[str, Any]:
    """The raw records keyed by id, whether the answer is keyed or wraps a `history_list`."""
    listed = data.get("history_list")
    if isinstance(listed, list):
        keyed: dict[str, Any] = {}
        for raw in listed:
            if isinstance(raw, dict):
                rid = opt_str(raw.get("history_record_id")) or opt_str(raw.get("id"))
                if rid is not None:
                    keyed[rid] = raw
        return keyed
    return {str(key): value for key, value in data.items()}
