"""Validated user input of a generation, checked before any request is sent.

Bad input raises `InvalidInputError` naming the field and what is allowed, never pydantic's
ValidationError. The allowed values are the protocol tables in `drafts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from typing_extensions import Self

from . import drafts
from .drafts import ModelKind, check_image_count
from .errors import InvalidInputError

__all__ = [
    "MAX_PROMPT_CHARS",
    "MAX_SEED",
    "ImageRequest",
    "VideoRequest",
    "check_image_count",
]

#: A client-side bound that keeps absurd prompts from reaching the service; the web app's own
#: prompt box is shorter, and the service answers longer prompts with ret 4002.
MAX_PROMPT_CHARS = 2000
#: Seeds are unsigned 32-bit numbers in the web app (its random seeds lie in drafts.SEED_RANGE).
MAX_SEED = 2**32 - 1

_PROMPT_RULE = f"non-empty text of at most {MAX_PROMPT_CHARS} characters"
_NEGATIVE_PROMPT_RULE = f"text of at most {MAX_PROMPT_CHARS} characters"
_SEED_RULE = f"None or an integer from 0 to {MAX_SEED}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _clean_text(value: str, *, field: str, rule: str, required: bool) -> str:
    """`value` stripped (as Python strips), refused if empty when required, or too long."""
    text = value.strip()
    if required and not text:
        raise InvalidInputError(field, "is empty", allowed=rule)
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidInputError(field, f"is {len(text)} characters long", allowed=rule)
    return text


def _one_of(value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError("not one of the choices")
    return value


class _Request(BaseModel):
    """Shared machinery: strict, frozen, no extra fields, errors as InvalidInputError."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    kind: ClassVar[ModelKind]
    #: field -> what it may be, as error messages show it.
    allowed: ClassVar[Mapping[str, str]]

    if not TYPE_CHECKING:
        # Only at run time, so that type checkers keep the typed constructor the pydantic plugin
        # synthesises, while callers never see a ValidationError.
        def __init__(self, /, **data: Any) -> None:
            try:
                super().__init__(**data)
            except ValidationError as exc:
                raise type(self).input_error(exc) from None

    @classmethod
    def build(cls, **kwargs: Any) -> Self:
        """Validate `kwargs` into a request; raises InvalidInputError for the first bad field."""
        return cls(**kwargs)

    @classmethod
    def input_error(cls, exc: ValidationError) -> InvalidInputError:
        """The InvalidInputError for the first failing field of a pydantic ValidationError."""
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or cls.__name__
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, InvalidInputError):
            return cause
        error_type = first["type"]
        if error_type == "missing":
            return InvalidInputError(field, "is required", allowed=cls.allowed.get(field))
        if error_type == "extra_forbidden":
            return InvalidInputError(
                field, "is not a parameter", allowed=", ".join(cls.model_fields)
            )
        message = f"{_short(first.get('input'))} is not allowed"
        return InvalidInputError(field, message, allowed=cls.allowed.get(field))


class ImageRequest(_Request):
    """A text-to-image or blend request (the blend images themselves travel separately)."""

    kind: ClassVar[ModelKind] = "image"
    allowed: ClassVar[Mapping[str, str]] = {
        "prompt": _PROMPT_RULE,
        "model": drafts.model_choices("image"),
        "ratio": ", ".join(drafts.IMAGE_RATIOS),
        "resolution": ", ".join(drafts.IMAGE_RESOLUTIONS),
        "negative_prompt": _NEGATIVE_PROMPT_RULE,
        "sample_strength": "a number from 0 to 1",
        "seed": _SEED_RULE,
        "intelligent_ratio": "True or False",
    }

    prompt: str
    model: str = drafts.DEFAULT_IMAGE_MODEL
    ratio: str = "1:1"
    resolution: str = "2k"
    negative_prompt: str = ""
    sample_strength: float = Field(0.5, ge=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    intelligent_ratio: bool = False

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, value: str) -> str:
        return _clean_text(value, field="prompt", rule=_PROMPT_RULE, required=True)

    @field_validator("negative_prompt")
    @classmethod
    def _check_negative_prompt(cls, value: str) -> str:
        return _clean_text(
            value, field="negative_prompt", rule=_NEGATIVE_PROMPT_RULE, required=False
        )

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        drafts.resolve_model(value, kind="image")
        return value

    @field_validator("ratio")
    @classmethod
    def _check_ratio(cls, value: str) -> str:
        return _one_of(value, drafts.IMAGE_RATIOS)

    @field_validator("resolution")
    @classmethod
    def _check_resolution(cls, value: str) -> str:
        return _one_of(value, drafts.IMAGE_RESOLUTIONS)

    @property
    def model_id(self) -> str:
        """The model id sent to the service: the alias resolved, or the raw id as given."""
        return drafts.resolve_model(self.model, kind=self.kind)

    @property
    def size(self) -> tuple[int, int, int]:
        """(width, height, image_ratio code) of the output, from drafts.IMAGE_SIZES."""
        return drafts.IMAGE_SIZES[(self.ratio, self.resolution)]


class VideoRequest(_Request):
    """A video request: from text, or from first (and end) frames given separately."""

    kind: ClassVar[ModelKind] = "video"
    allowed: ClassVar[Mapping[str, str]] = {
        "prompt": _PROMPT_RULE,
        "model": drafts.model_choices("video"),
        "ratio": ", ".join(drafts.VIDEO_RATIOS),
        "resolution": ", ".join(drafts.VIDEO_RESOLUTIONS),
        "duration": ", ".join(str(seconds) for seconds in drafts.VIDEO_DURATIONS),
        "seed": _SEED_RULE,
    }

    prompt: str
    model: str = drafts.DEFAULT_VIDEO_MODEL
    ratio: str = "16:9"
    resolution: str = "720p"
    duration: int = 5
    seed: int | None = Field(None, ge=0, le=MAX_SEED)

    @field_validator("prompt")
    @classmethod
    def _check_prompt(cls, value: str) -> str:
        return _clean_text(value, field="prompt", rule=_PROMPT_RULE, required=True)

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        drafts.resolve_model(value, kind="video")
        return value

    @field_validator("ratio")
    @classmethod
    def _check_ratio(cls, value: str) -> str:
        return _one_of(value, drafts.VIDEO_RATIOS)

    @field_validator("resolution")
    @classmethod
    def _check_resolution(cls, value: str) -> str:
        return _one_of(value, drafts.VIDEO_RESOLUTIONS)

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: int) -> int:
        if value not in drafts.VIDEO_DURATIONS:
            raise ValueError("not one of the durations")
        return value

    @property
    def model_id(self) -> str:
        """The model id sent to the service: the alias resolved, or the raw id as given."""
        return drafts.resolve_model(self.model, kind=self.kind)
