"""Validated user input of a generation, checked before any request is sent.

Bad input raises `InvalidInputError` naming the field and what is allowed, never pydantic's
ValidationError. The allowed values are the model registry's (`registry`): a model not offered
in the token's region, a size it does not make or a duration it does not take is refused here,
with the list of what is allowed.
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
    model_validator,
)
from typing_extensions import Self

from . import drafts, registry
from .drafts import ModelKind, check_image_count
from .errors import InvalidInputError

__all__ = [
    "MAX_PROMPT_CHARS",
    "MAX_SEED",
    "ImageRequest",
    "VideoRequest",
    "check_image_count",
    "find_model",
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


def find_model(value: str, *, kind: ModelKind) -> registry.Model | None:
    """The registry's model for an alias or id of `kind`; None for an unknown raw model id.

    Names of the other kind, blanks and unknown "jimeng-..." names are refused (see
    `drafts.resolve_model`).
    """
    drafts.resolve_model(value, kind=kind)
    model = registry.lookup(value)
    return model if model is not None and model.kind == kind else None


def _check_offered(model: registry.Model, region: str | None) -> None:
    """Refuse a withdrawn model, or one the token's region does not offer."""
    allowed = ", ".join(registry.aliases_in(model.kind, region))
    if model.withdrawn:
        raise InvalidInputError(
            "model", f"{model.alias!r} was withdrawn by the service", allowed=allowed
        )
    if region is not None and region not in model.regions:
        raise InvalidInputError(
            "model", f"{model.alias!r} is not offered in region {region}", allowed=allowed
        )


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
    resolution: str | None = None
    negative_prompt: str = ""
    sample_strength: float = Field(0.5, ge=0.0, le=1.0)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    intelligent_ratio: bool = False
    region: str | None = None

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
    def _check_resolution(cls, value: str | None) -> str | None:
        return None if value is None else _one_of(value, drafts.IMAGE_RESOLUTIONS)

    @model_validator(mode="after")
    def _check_model_rules(self) -> Self:
        model = self.registered_model
        if not isinstance(model, registry.ImageModel):
            return self
        _check_offered(model, self.region)
        if self.ratio not in model.ratios:
            message = f"{self.ratio!r} is not made by {model.alias} ({model.describe()})"
            raise InvalidInputError("ratio", message, allowed=", ".join(model.ratios))
        if self.resolution is not None and self.resolution not in model.resolutions:
            message = f"{self.resolution!r} is not made by {model.alias} ({model.describe()})"
            raise InvalidInputError("resolution", message, allowed=", ".join(model.resolutions))
        return self

    @property
    def registered_model(self) -> registry.Model | None:
        """The registry's entry of `model`; None for a raw id it does not know."""
        return find_model(self.model, kind=self.kind)

    @property
    def model_id(self) -> str:
        """The model id sent to the service: the alias resolved, or the raw id as given."""
        return drafts.resolve_model(self.model, kind=self.kind)

    @property
    def effective_resolution(self) -> str:
        """`resolution`, or the model's default (2k; 1k for fixed-size models)."""
        if self.resolution is not None:
            return self.resolution
        model = self.registered_model
        return model.default_resolution if isinstance(model, registry.ImageModel) else "2k"

    @property
    def size(self) -> tuple[int, int, int]:
        """(width, height, image_ratio code) of the output, from the registry."""
        model = self.registered_model
        if isinstance(model, registry.ImageModel):
            return model.size(self.ratio, self.effective_resolution)
        return drafts.IMAGE_SIZES[(self.ratio, self.effective_resolution)]


class VideoRequest(_Request):
    """A video request: from text, or from first (and end) frames given separately."""

    kind: ClassVar[ModelKind] = "video"
    allowed: ClassVar[Mapping[str, str]] = {
        "prompt": _PROMPT_RULE,
        "model": drafts.model_choices("video"),
        "ratio": ", ".join(drafts.VIDEO_RATIOS),
        "resolution": ", ".join(drafts.VIDEO_RESOLUTIONS) + " (only models that take one)",
        "duration": "whole seconds the model takes (jimeng-async models)",
        "seed": _SEED_RULE,
    }

    prompt: str
    model: str = drafts.DEFAULT_VIDEO_MODEL
    ratio: str = "16:9"
    resolution: str | None = None
    duration: int | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    region: str | None = None

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
    def _check_resolution(cls, value: str | None) -> str | None:
        return None if value is None else _one_of(value, drafts.VIDEO_RESOLUTIONS)

    @model_validator(mode="after")
    def _check_model_rules(self) -> Self:
        model = self.registered_model
        durations = model.durations if model is not None else drafts.VIDEO_DURATIONS
        name = model.alias if model is not None else repr(self.model)
        if self.duration is not None and self.duration not in durations:
            raise InvalidInputError(
                "duration",
                f"{self.duration!r} s is not taken by {name}",
                allowed=registry.durations_text(durations) + " (seconds)",
            )
        if model is None:
            return self
        _check_offered(model, self.region)
        if self.resolution is not None and not model.sends_resolution:
            raise InvalidInputError(
                "resolution",
                f"{model.alias} takes no resolution (the service picks it)",
                allowed="None, or a model that takes one: "
                + ", ".join(m.alias for m in registry.VIDEO_MODELS.values() if m.sends_resolution),
            )
        return self

    @property
    def registered_model(self) -> registry.VideoModel | None:
        """The registry's entry of `model`; None for a raw id it does not know."""
        model = find_model(self.model, kind=self.kind)
        return model if isinstance(model, registry.VideoModel) else None

    @property
    def model_id(self) -> str:
        """The model id sent to the service: the alias resolved, or the raw id as given."""
        return drafts.resolve_model(self.model, kind=self.kind)

    @property
    def duration_seconds(self) -> int:
        """`duration`, or the model's default (5 s where it takes 5 s, else its shortest)."""
        if self.duration is not None:
            return self.duration
        model = self.registered_model
        return model.default_duration if model is not None else drafts.VIDEO_DURATIONS[0]

    @property
    def resolution_sent(self) -> str | None:
        """The `resolution` the draft carries: None for models that take none, else 720p or
        the one asked for."""
        model = self.registered_model
        if model is not None and not model.sends_resolution:
            return None
        return self.resolution or drafts.VIDEO_RESOLUTIONS[0]
