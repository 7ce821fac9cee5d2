"""`EmulatorConfig`: the emulated service's tunables (costs, timelines, limits), all overridable.

Durations are in service seconds: the emulator multiplies the ones that describe the service's
pace (timelines, latency, day length, URL lifetime, duplicate window) by its `time_scale`.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .signing import parse_version

JobKind = Literal["image", "video"]
Range = tuple[float, float]

#: Environment variable that sets the default `min_app_version` (unset: no minimum).
MIN_APP_VERSION_ENV = "JIMENG_EMULATOR_MIN_APP_VERSION"


def _check_range(value: Range) -> Range:
    low, high = value
    if low < 0 or high < low:
        raise ValueError(f"a range must satisfy 0 <= low <= high, got {value}")
    return value


class Timeline(BaseModel):
    """How long each phase of a job lasts, as (min, max) seconds before `time_scale`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    queue: Range
    processing: Range
    post: Range
    finalise: Range

    @field_validator("queue", "processing", "post", "finalise")
    @classmethod
    def _ordered(cls, value: Range) -> Range:
        return _check_range(value)


IMAGE_TIMELINE = Timeline(
    queue=(0.5, 2.0), processing=(4.0, 10.0), post=(0.5, 1.0), finalise=(0.2, 0.5)
)
VIDEO_TIMELINE = Timeline(
    queue=(2.0, 10.0), processing=(30.0, 90.0), post=(2.0, 5.0), finalise=(1.0, 2.0)
)


class EmulatorConfig(BaseModel):
    """Everything about the emulated service that a test or benchmark may want to change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_cost: int = Field(1, ge=0, description="credits charged per image job")
    video_cost: int = Field(5, ge=0, description="credits charged per video job")
    image_items: int = Field(4, ge=1, le=16, description="images per image record")
    history_batch_max: int = Field(10, ge=1, description="most ids per get_history_by_ids")
    blocked_words: tuple[str, ...] = ("blocked", "违禁")
    failure_rate: float = Field(0.0, ge=0.0, le=1.0, description="share of jobs that fail")
    fail_codes: tuple[str, ...] = ("2039", "2040")
    image_timeline: Timeline = IMAGE_TIMELINE
    video_timeline: Timeline = VIDEO_TIMELINE
    daily_receive_quota: int = Field(100, ge=0, description="credits granted once a day")
    day_seconds: float = Field(86400.0, gt=0, description="length of an emulated day (scaled)")
    credential_ttl: float = Field(3600.0, gt=0, description="ImageX credentials (not scaled)")
    max_upload_bytes: int = Field(50 * 1024 * 1024, gt=0)
    result_url_ttl: float = Field(3600.0, gt=0, description="CDN URL lifetime (scaled)")
    duplicate_window: float = Field(60.0, ge=0, description="look-back of duplicate_submits")
    max_clock_skew: float = Field(300.0, gt=0, description="allowed Device-Time skew (wall s)")
    web_latency: Range = Field((0.02, 0.1), description="service time of a web call (scaled)")
    min_app_version: str | None = Field(
        default_factory=lambda: os.environ.get(MIN_APP_VERSION_ENV) or None,
        description=(
            "refuse an Appvr below this (ret 3018); None accepts every version. Defaults to "
            f"${MIN_APP_VERSION_ENV} when set, so a test suite can hold its client to it"
        ),
    )
    numeric_fail_code_rate: float = Field(
        0.5, ge=0.0, le=1.0, description="share of records whose fail_code is a number"
    )

    cdn_chunk_bytes: int = Field(0, ge=0, description="CDN sends files in chunks (0: whole)")
    cdn_chunk_delay: float = Field(0.0, ge=0, description="real seconds between CDN chunks")
    upload_chunk_delay: float = Field(
        0.0, ge=0, description="real seconds the upload host waits between body chunks"
    )

    @field_validator("min_app_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and parse_version(value) is None:
            raise ValueError(
                f"min_app_version must be a dotted version such as 8.4.0, got {value!r}"
            )
        return value

    @field_validator("web_latency")
    @classmethod
    def _ordered(cls, value: Range) -> Range:
        return _check_range(value)

    @field_validator("fail_codes")
    @classmethod
    def _some_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("fail_codes must name at least one code")
        return value

    def cost(self, kind: JobKind) -> int:
        """Credits one job of `kind` costs."""
        return self.image_cost if kind == "image" else self.video_cost

    def timeline(self, kind: JobKind) -> Timeline:
        """The phase ranges of `kind`."""
        return self.image_timeline if kind == "image" else self.video_timeline
