"""The error tree. Every exception the library raises on purpose is a `JimengError`.

::

    JimengError
    ├── ConfigurationError (also ValueError)   a setting or environment variable is wrong
    │   └── SignerRequiredError                a guarded model needs a request signer
    ├── InvalidInputError (also ValueError)    bad argument; names the field and what is allowed
    ├── UploadError                            a file cannot be uploaded (format, size, ImageX)
    │   └── InvalidSourceError (also InvalidInputError)  the source itself is at fault
    ├── GenerationTimeoutError                 the generation limit passed; resume with history_id
    ├── TaskCancelledError                     the caller cancelled its wait (the job goes on)
    ├── SessionClosedError                     the session was closed (aclose); resume elsewhere
    ├── JobNotFoundError                       the service does not know the history id
    ├── UnknownStatusError                     a record status the library does not know persisted
    ├── PollingError                           polling failed in an unexpected way (a bug)
    └── JimengAPIError(message, code, context) the service or the network said no
        ├── AuthError               AUTH_FAILED        HTTP 401, ret 1015 / 1001 / 1002
        ├── PermissionDeniedError   PERMISSION_DENIED  HTTP 403, ret 1004 (banned), 3018 (app
        │   │                                          version too old?), 3000, 1018
        │   ├── RegionNotAllowedError                  ret 3000: IP region is not the token's
        │   ├── AccountPunishedError                   ret 1018: generation limited
        │   └── RiskControlError    RISK_CONTROL       ret 1019 / 4013 / -4 (not retried)
        ├── RateLimitError          RATE_LIMIT         HTTP 429 (retry_after)
        ├── ServerError             SERVER_ERROR       HTTP 5xx
        ├── NetworkError            NETWORK_ERROR      connect / read errors, time-outs
        └── APIError                API_ERROR          any other ret (ret, errmsg)
            ├── InsufficientCreditsError               ret 5000 / 1006
            ├── ContentFilteredError                   ret 4001 / 2038
            ├── InvalidRequestError                    ret 4002 / 2002 / 1000
            ├── ServiceBusyError                       ret 2004 / 1014 / 5001 (retried)
            ├── MalformedResponseError                 not JSON / not an envelope (retried)
            ├── ResponseFieldError                     a field the method needs is missing
            └── GenerationFailedError                  record status 30 (fail_code, history_id)
                └── GenerationFilteredError            fail_code 2038 / 2043 / 2047 / 4011

`context` holds the endpoint, HTTP status, ret and request id (the `x-tt-logid` header, or
ImageX's RequestId: what a user quotes to the service): never a token, Cookie or Sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._redact import redact_text

AUTH_FAILED = "AUTH_FAILED"
PERMISSION_DENIED = "PERMISSION_DENIED"
RATE_LIMIT = "RATE_LIMIT"
SERVER_ERROR = "SERVER_ERROR"
API_ERROR = "API_ERROR"
NETWORK_ERROR = "NETWORK_ERROR"
RISK_CONTROL = "RISK_CONTROL"


class JimengError(Exception):
    """Root of every error this library raises on purpose."""


class ConfigurationError(JimengError, ValueError):
    """A setting, argument or environment variable of the configuration is not allowed."""


class SignerRequiredError(ConfigurationError):
    """A model the service guards with browser signatures was asked for without a signer."""


class InvalidInputError(JimengError, ValueError):
    """An argument is not allowed; raised before any request is sent."""

    def __init__(self, field: str, message: str, *, allowed: str | None = None) -> None:
        self.field = field
        self.allowed = allowed
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        super().__init__(text)


class UploadError(JimengError):
    """A file cannot be uploaded: unknown format, empty, too large, or refused by ImageX."""

    def __init__(
        self, message: str, *, code: str | None = None, request_id: str | None = None
    ) -> None:
        self.code = code
        #: ImageX's ResponseMetadata.RequestId, when the refusal came from ImageX.
        self.request_id = request_id
        super().__init__(message)


class InvalidSourceError(InvalidInputError, UploadError):
    """An image source that cannot be uploaded as it is: wrong kind, unreadable, not a supported
    image, truncated or corrupt, too large. Both an input error (`field` names the argument, with
    the index for lists) and an upload error (`code`: source, empty, format, too_large)."""

    def __init__(
        self, field: str, message: str, *, code: str = "source", allowed: str | None = None
    ) -> None:
        InvalidInputError.__init__(self, field, message, allowed=allowed)
        self.code = code


class GenerationTimeoutError(JimengError, TimeoutError):
    """The generation limit passed. The job may still finish: resume it by `history_id`."""

    def __init__(self, message: str, *, history_id: str, kind: str) -> None:
        self.history_id = history_id
        self.kind = kind
        super().__init__(message)


class TaskCancelledError(JimengError):
    """`GenerationTask.cancel()` stopped the wait; the service has no cancel, so the job runs on."""

    def __init__(self, message: str, *, history_id: str) -> None:
        self.history_id = history_id
        super().__init__(message)


class SessionClosedError(JimengError):
    """The session was closed. A job's `history_id` (when set) resumes it in an open session."""

    def __init__(self, message: str, *, history_id: str | None = None) -> None:
        self.history_id = history_id
        super().__init__(message)


class JobNotFoundError(JimengError):
    """The service's answers lacked this history id for the whole grace period."""

    def __init__(self, message: str, *, history_id: str) -> None:
        self.history_id = history_id
        super().__init__(message)


class UnknownStatusError(JimengError):
    """A record kept a status code the library does not know for `unknown_status_grace`.

    `status_code` is the service's raw code (e.g. -1, 77). The job may still finish: resume it
    by `history_id` later, or upgrade the library if the service added a status.
    """

    def __init__(self, message: str, *, history_id: str, status_code: int | None) -> None:
        self.history_id = history_id
        self.status_code = status_code
        super().__init__(message)


class PollingError(JimengError):
    """Polling a job failed in a way the library did not expect (its cause is chained)."""


class JimengAPIError(JimengError):
    """The service (or the network to it) refused a request."""

    default_code = API_ERROR

    def __init__(
        self,
        message: str,
        code: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = redact_text(message)
        self.code = code or self.default_code
        self.context: dict[str, Any] = dict(context or {})
        super().__init__(self.message)

    def __str__(self) -> str:
        where = self.context.get("endpoint")
        return f"[{self.code}] {self.message}" + (f" ({where})" if where else "")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, context={self.context!r})"
        )

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed."""
        return False


class AuthError(JimengAPIError):
    """The refresh token is invalid or expired (HTTP 401, ret 1015 / 1001 / 1002)."""

    default_code = AUTH_FAILED


class PermissionDeniedError(JimengAPIError):
    """The account may not do this (HTTP 403, or ret 1004: banned)."""

    default_code = PERMISSION_DENIED


class RegionNotAllowedError(PermissionDeniedError):
    """ret 3000: the caller's IP region does not match the token's region."""


class AccountPunishedError(PermissionDeniedError):
    """ret 1018: the account is punished and its generation limited."""


class RiskControlError(PermissionDeniedError):
    """ret 1019 / 4013 / -4: the service's risk control refused the call; never retried.

    Seedance 2.0 generate calls need the browser's msToken / a_bogus: plug in a request signer
    (`Settings(request_signer=...)`, see `jimeng_async.signer`).
    """

    default_code = RISK_CONTROL


class RateLimitError(JimengAPIError):
    """Too many requests (HTTP 429); `retry_after` is the service's wait in seconds, if given."""

    default_code = RATE_LIMIT

    def __init__(
        self,
        message: str,
        code: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code, context)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return True


class ServerError(JimengAPIError):
    """The service answered with HTTP 5xx."""

    default_code = SERVER_ERROR

    @property
    def retryable(self) -> bool:
        return True


class NetworkError(JimengAPIError):
    """The request did not complete: connection refused or dropped, or a time-out."""

    default_code = NETWORK_ERROR

    @property
    def retryable(self) -> bool:
        return True


class APIError(JimengAPIError):
    """The envelope carried a non-zero `ret` (or a malformed payload)."""

    default_code = API_ERROR

    def __init__(
        self,
        message: str,
        code: str | None = None,
        context: Mapping[str, Any] | None = None,
        *,
        ret: str | None = None,
        errmsg: str | None = None,
    ) -> None:
        super().__init__(message, code, context)
        self.ret = ret
        self.errmsg = errmsg


class InsufficientCreditsError(APIError):
    """Not enough credits for the job (ret 5000 / 1006); nothing was charged."""


class ContentFilteredError(APIError):
    """Moderation blocked the prompt or an image (ret 4001 / 2038)."""


class InvalidRequestError(APIError):
    """The service refused the parameters (ret 4002 / 2002)."""


class ServiceBusyError(APIError):
    """The service is busy or the account's queue is full (ret 2004 / 1014 / 5001); retried."""

    @property
    def retryable(self) -> bool:
        return True


class MalformedResponseError(APIError):
    """The body was not JSON or not the service's envelope; retried like a dropped answer."""

    @property
    def retryable(self) -> bool:
        return True


class ResponseFieldError(APIError):
    """A well-formed answer lacks a field (or has one of the wrong type) that the call needs."""


class GenerationFailedError(APIError):
    """The job ended in status 30. `fail_code` says why (2039 timed out, 2040 resources)."""

    def __init__(
        self,
        message: str,
        *,
        fail_code: str,
        history_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, API_ERROR, context, ret=None, errmsg=message)
        self.fail_code = fail_code
        self.history_id = history_id


class GenerationFilteredError(GenerationFailedError, ContentFilteredError):
    """The job ended in status 30 with fail_code 2038: moderation filtered the output."""


AUTH_RETS = frozenset({"1015", "1001", "1002"})

_RET_CLASSES: dict[str, type[APIError]] = {
    "5000": InsufficientCreditsError,
    "1006": InsufficientCreditsError,
    "4001": ContentFilteredError,
    "2038": ContentFilteredError,
    "4002": InvalidRequestError,
    "2002": InvalidRequestError,
    "1000": InvalidRequestError,
    "2004": ServiceBusyError,
    "1014": ServiceBusyError,
    "5001": ServiceBusyError,
}

RISK_CONTROL_RETS = frozenset({"1019", "4013", "-4"})

#: ret -> (class, what most likely caused it and what to do).
_PERMISSION_RETS: dict[str, tuple[type[PermissionDeniedError], str]] = {
    "1004": (PermissionDeniedError, "the account is banned"),
    "3018": (
        PermissionDeniedError,
        "permission denied; most often the app version is outdated: set a newer one with "
        "Settings(app_version=...) or JIMENG_APP_VERSION (and da_version / DEFAULT_DA_VERSION)",
    ),
    "3000": (
        RegionNotAllowedError,
        "region not allowed: the IP region you call from does not match the token's region",
    ),
    "1018": (AccountPunishedError, "the account is punished: generation is limited"),
    "1019": (
        RiskControlError,
        "risk control: this call needs the browser's msToken / a_bogus; plug in a request "
        "signer with Settings(request_signer=...)",
    ),
    "4013": (
        RiskControlError,
        "risk control (suspected abnormal behaviour): this call needs the browser's msToken / "
        "a_bogus; plug in a request signer with Settings(request_signer=...)",
    ),
    "-4": (RiskControlError, "risk control refused the call; try again later in the web app"),
}


def error_for_ret(ret: str, errmsg: str, context: Mapping[str, Any]) -> JimengAPIError:
    """The error that an envelope with a non-zero `ret` stands for."""
    message = f"ret {ret}: {errmsg or 'no message'}"
    if ret in AUTH_RETS:
        return AuthError(message, context=context)
    if ret in _PERMISSION_RETS:
        cls_, why = _PERMISSION_RETS[ret]
        return cls_(f"{message} ({why})", context=context)
    cls = _RET_CLASSES.get(ret, APIError)
    return cls(message, context=context, ret=ret, errmsg=errmsg)


#: fail codes that mean moderation refused the job (4011: a face in the input material).
FILTERED_FAIL_CODES = frozenset({"2038", "2043", "2047", "4011"})
_FAIL_REASONS = {
    "2038": "content filtered",
    "2043": "content filtered",
    "2047": "content filtered",
    "4011": "a face in the input material is not allowed",
    "2039": "generation timed out",
    "2040": "not enough resources or credits",
}


def generation_failure(
    fail_code: str, history_id: str, message: str | None
) -> GenerationFailedError:
    """The error for a record that ended in status 30 (`fail_code` a number or a string)."""
    fail_code = str(fail_code)
    text = f"generation {history_id} failed with fail_code {fail_code}"
    if message:
        text += f": {message}"
    if fail_code in _FAIL_REASONS:
        text += f" ({_FAIL_REASONS[fail_code]})"
    cls = GenerationFilteredError if fail_code in FILTERED_FAIL_CODES else GenerationFailedError
    return cls(text, fail_code=fail_code, history_id=history_id, context={"history_id": history_id})
