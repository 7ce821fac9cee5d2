"""The error tree. Every exception the library raises on purpose is a `JimengError`.

::

    JimengError                          code             what to do (the `hint`)
    ├── ConfigurationError (ValueError)  CONFIGURATION     fix the named setting / variable
    │   └── SignerRequiredError          SIGNER_REQUIRED   plug in a request signer
    ├── InvalidInputError (ValueError)   INVALID_INPUT     change the named argument
    ├── UploadError                      UPLOAD_FAILED     check the file; `reason`, `request_id`
    │   └── InvalidSourceError (also InvalidInputError)    INVALID_SOURCE
    ├── JimengTimeoutError (TimeoutError) TIMEOUT          a wait passed its limit; the job goes on
    │   ├── GenerationTimeoutError       GENERATION_TIMEOUT  resume by `history_id`
    │   └── RequestTimeoutError (also NetworkError)  REQUEST_TIMEOUT
    ├── TaskCancelledError               TASK_CANCELLED    the job goes on: resume it
    ├── SessionClosedError               SESSION_CLOSED    resume in an open session
    ├── JobNotFoundError                 JOB_NOT_FOUND     check the id and the account
    ├── UnknownStatusError               UNKNOWN_STATUS    an unknown status persisted
    ├── PollingError                     POLLING_ERROR     a bug: report the chained cause
    └── APIError                         API_ERROR         the service or the network said no
        ├── AuthError                    AUTH_FAILED       HTTP 401, ret 1015 / 1001 / 1002
        ├── PermissionDeniedError        PERMISSION_DENIED HTTP 403, ret 1004, 3018
        │   ├── RegionNotAllowedError    REGION_NOT_ALLOWED  ret 3000
        │   ├── AccountPunishedError     ACCOUNT_PUNISHED  ret 1018
        │   └── RiskControlError         RISK_CONTROL      ret 1019 / 4013 / -4 (not retried)
        ├── RateLimitError               RATE_LIMIT        HTTP 429 (`retry_after`)
        ├── ServerError                  SERVER_ERROR      HTTP 5xx
        ├── NetworkError                 NETWORK_ERROR     connection refused or dropped
        ├── InsufficientCreditsError     INSUFFICIENT_CREDITS  ret 5000 / 1006
        ├── ContentFilteredError         CONTENT_FILTERED  ret 4001 / 2038, content check
        ├── InvalidRequestError          INVALID_REQUEST   ret 4002 / 2002 / 1000
        ├── ServiceBusyError             SERVICE_BUSY      ret 2004 / 1014 / 5001 (retried)
        ├── MalformedResponseError       MALFORMED_RESPONSE  not JSON / not an envelope (retried)
        ├── ResponseFieldError           RESPONSE_FIELD    a field the call needs is missing
        ├── GenerationFailedError        GENERATION_FAILED record status 30 (`fail_code`)
        │   └── GenerationFilteredError (also ContentFilteredError)  GENERATION_FILTERED
        └── UnknownAPIError              API_ERROR         any other ret or HTTP 4xx

Every error carries typed attributes (None where they do not apply): `status_code`, `ret`,
`errmsg`, `request_id` (the `x-tt-logid` header, or ImageX's RequestId: what a user quotes to
the service), `endpoint`, `submit_id`, `history_id`, `retry_after`, `field`, `allowed`. `code`
is a stable string per class (an instance may refine it, e.g. DOWNLOAD_TOO_LARGE), and `hint`
the next step for the user, which `str(error)` ends with. Nothing here ever holds a token,
Cookie or Sign: messages and `errmsg` pass through the redaction.

`JimengAPIError` is the deprecated name of `APIError` (the base); `context` is a read-only view
of the attributes under their old keys, kept for code written against the first release.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._redact import redact_text

AUTH_FAILED = "AUTH_FAILED"
PERMISSION_DENIED = "PERMISSION_DENIED"
RATE_LIMIT = "RATE_LIMIT"
SERVER_ERROR = "SERVER_ERROR"
API_ERROR = "API_ERROR"
NETWORK_ERROR = "NETWORK_ERROR"
RISK_CONTROL = "RISK_CONTROL"
INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
CONTENT_FILTERED = "CONTENT_FILTERED"
INVALID_REQUEST = "INVALID_REQUEST"
GENERATION_FAILED = "GENERATION_FAILED"
TIMEOUT = "TIMEOUT"

#: context keys that are typed attributes (old key -> attribute name).
_CONTEXT_ATTRIBUTES = {
    "status": "status_code",
    "ret": "ret",
    "errmsg": "errmsg",
    "request_id": "request_id",
    "endpoint": "endpoint",
    "submit_id": "submit_id",
    "history_id": "history_id",
    "retry_after": "retry_after",
    "field": "field",
    "allowed": "allowed",
}


def _sentence(text: str) -> str:
    text = text.rstrip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


class JimengError(Exception):
    """Root of every error this library raises on purpose.

    `str(error)` is what happened followed by `hint`, the next step for the user.
    """

    #: A stable name for the kind of failure, for logs and branching without isinstance.
    code: str = "JIMENG_ERROR"
    #: The next step for the user; every message ends with it.
    hint: str = "See docs/errors.md for what this error means and what to do."

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        context: Mapping[str, Any] | None = None,
        status_code: int | None = None,
        ret: str | None = None,
        errmsg: str | None = None,
        request_id: str | None = None,
        endpoint: str | None = None,
        submit_id: str | None = None,
        history_id: str | None = None,
        retry_after: float | None = None,
        field: str | None = None,
        allowed: str | None = None,
    ) -> None:
        given = dict(context or {})
        taken = {key: given.pop(key, None) for key in _CONTEXT_ATTRIBUTES}
        self.message = redact_text(message)
        if code is not None:
            self.code = code
        if hint is not None:
            self.hint = hint
        status = status_code if status_code is not None else taken["status"]
        #: The HTTP status of the answer that failed, if one came.
        self.status_code: int | None = status if isinstance(status, int) else None
        #: The envelope's `ret` (a string), for errors the service answered with.
        self.ret: str | None = ret if ret is not None else _text(taken["ret"])
        #: The service's own words for `ret` (redacted).
        self.errmsg: str | None = redact_text(errmsg) if errmsg else _text(taken["errmsg"])
        #: The service's request id: quote it when you report a problem to the service.
        self.request_id: str | None = request_id or _text(taken["request_id"])
        #: The endpoint (or ImageX action) the request went to.
        self.endpoint: str | None = endpoint or _text(taken["endpoint"])
        #: The submit's idempotency key: submitting again with it is never charged twice.
        self.submit_id: str | None = submit_id or _text(taken["submit_id"])
        #: The job's id: `session.resume(history_id)` picks it up again.
        self.history_id: str | None = history_id or _text(taken["history_id"])
        #: Seconds the service asked to wait (HTTP 429 Retry-After).
        given_wait = retry_after if retry_after is not None else taken["retry_after"]
        self.retry_after: float | None = (
            float(given_wait) if isinstance(given_wait, int | float) else None
        )
        #: The argument or response field at fault.
        self.field: str | None = field or _text(taken["field"])
        #: What the argument may be.
        self.allowed: str | None = allowed or _text(taken["allowed"])
        self._extra = given
        super().__init__(self.message)

    @property
    def context(self) -> Mapping[str, Any]:
        """The attributes under their old keys, plus any extra detail (read-only)."""
        view = dict(self._extra)
        for key, name in _CONTEXT_ATTRIBUTES.items():
            value = getattr(self, name)
            if value is not None:
                view[key] = value
        return MappingProxyType(view)

    def describe(self) -> str:
        """What happened, without the hint."""
        return self.message

    def __str__(self) -> str:
        return f"{_sentence(self.describe())} {self.hint}".strip()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.message, self.__dict__.copy()))

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again may succeed."""
        return False


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _restore(cls: type[JimengError], message: str, state: dict[str, Any]) -> JimengError:
    """Rebuild a pickled error without calling its (keyword-only) constructor."""
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigurationError(JimengError, ValueError):
    """A setting, argument or environment variable of the configuration is not allowed."""

    code = "CONFIGURATION"
    hint = (
        "Fix the setting or environment variable named above (README, 'Settings' lists them "
        "with their JIMENG_* variables)."
    )


class SignerRequiredError(ConfigurationError):
    """A model the service guards with browser signatures was asked for without a signer."""

    code = "SIGNER_REQUIRED"
    hint = (
        "Plug in a request signer with Settings(request_signer=...) (see jimeng_async.signer), "
        "or choose a model without the guard; nothing was sent."
    )


class InvalidInputError(JimengError, ValueError):
    """An argument is not allowed; raised before any request is sent."""

    code = "INVALID_INPUT"
    hint = "Change the argument named above to an allowed value; nothing was sent."

    def __init__(
        self,
        field: str,
        message: str,
        *,
        allowed: str | None = None,
        hint: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        text = f"{field}: {message}"
        if allowed:
            text += f" (allowed: {allowed})"
        # Not super(): in InvalidSourceError the next class is UploadError, which takes no field.
        JimengError.__init__(self, text, field=field, allowed=allowed, hint=hint, context=context)
        self.field: str = field


class UploadError(JimengError):
    """A file cannot be uploaded: unknown format, empty, too large, or refused by ImageX.

    `reason` names the sub-case: ImageX's own error code, or `upload` (the PUT was refused).
    """

    code = "UPLOAD_FAILED"
    hint = (
        "Check the file (png, jpeg, webp, gif or bmp within Settings.max_upload_bytes) and the "
        "ImageX address settings, then upload it again; quote request_id if ImageX refused it."
    )

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        #: The sub-case: ImageX's error code (e.g. SignatureDoesNotMatch) or a local reason.
        self.reason = reason


class InvalidSourceError(InvalidInputError, UploadError):
    """An image source that cannot be uploaded as it is: wrong kind, unreadable, not a supported
    image, truncated or corrupt, too large. Both an input error (`field` names the argument, with
    the index for lists) and an upload error (`reason`: source, empty, format, too_large)."""

    code = "INVALID_SOURCE"
    hint = (
        "Pass a readable png, jpeg, webp, gif or bmp image (a path, bytes, a binary file or an "
        "https URL) within Settings.max_upload_bytes; nothing was uploaded."
    )

    def __init__(
        self, field: str, message: str, *, reason: str = "source", allowed: str | None = None
    ) -> None:
        InvalidInputError.__init__(self, field, message, allowed=allowed)
        self.reason = reason


class JimengTimeoutError(JimengError, TimeoutError):
    """A wait passed its limit. `except TimeoutError` catches it too."""

    code = TIMEOUT
    hint = (
        "The job goes on at the service: wait again with a longer timeout, or resume it later "
        "with session.resume(history_id)."
    )


class GenerationTimeoutError(JimengTimeoutError):
    """The generation limit passed. The job may still finish: resume it by `history_id`."""

    code = "GENERATION_TIMEOUT"
    hint = (
        "The job may still finish: resume it with session.resume(exc.history_id, kind=exc.kind), "
        "or raise Settings(generation_timeout=...) / JIMENG_GENERATION_TIMEOUT."
    )

    def __init__(self, message: str, *, history_id: str, kind: str) -> None:
        super().__init__(message, history_id=history_id)
        self.history_id: str = history_id
        self.kind = kind


class TaskCancelledError(JimengError):
    """`GenerationTask.cancel()` stopped the wait; the service has no cancel, so the job runs on."""

    code = "TASK_CANCELLED"
    hint = "The job goes on at the service: session.resume(exc.history_id) fetches its result."

    def __init__(self, message: str, *, history_id: str) -> None:
        super().__init__(message, history_id=history_id)
        self.history_id: str = history_id


class SessionClosedError(JimengError):
    """The session was closed. A job's `history_id` (when set) resumes it in an open session."""

    code = "SESSION_CLOSED"
    hint = (
        "Open a new JimengSession (async with) and call it there; a job goes on at the service: "
        "resume it with session.resume(history_id)."
    )

    def __init__(self, message: str, *, history_id: str | None = None) -> None:
        super().__init__(message, history_id=history_id)


class JobNotFoundError(JimengError):
    """The service's answers lacked this history id for the whole grace period."""

    code = "JOB_NOT_FOUND"
    hint = (
        "Check the history id, and that this token is the account (and region) that submitted "
        "the job; Settings(job_not_found_grace=...) sets how long an unknown id is awaited."
    )

    def __init__(self, message: str, *, history_id: str) -> None:
        super().__init__(message, history_id=history_id)
        self.history_id: str = history_id


class UnknownStatusError(JimengError):
    """A job's record kept a status code the library does not know for `unknown_status_grace`.

    `record_status` is the service's raw code (e.g. -1, 77); the job may still finish.
    """

    code = "UNKNOWN_STATUS"
    hint = (
        "Resume the job later by its history_id; if the service added a status, upgrade "
        "jimeng-async. Settings(unknown_status_grace=...) sets how long such a status is awaited."
    )

    def __init__(self, message: str, *, history_id: str, record_status: int | None) -> None:
        super().__init__(message, history_id=history_id)
        self.history_id: str = history_id
        self.record_status = record_status


class PollingError(JimengError):
    """Polling a job failed in a way the library did not expect (its cause is chained)."""

    code = "POLLING_ERROR"
    hint = (
        "This is a bug in jimeng_async: resume the job with session.resume(history_id) and "
        "report the chained cause."
    )


class APIError(JimengError):
    """The service (or the network to it) refused a request: the base of every such error.

    `str()` reads `[CODE] what happened (endpoint). Next step.`
    """

    code = API_ERROR
    hint = "See docs/errors.md for this code; quote request_id to the service if it persists."

    def __init__(
        self,
        message: str,
        code: str | None = None,
        context: Mapping[str, Any] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, context=context, **details)

    def describe(self) -> str:
        where = f" ({self.endpoint})" if self.endpoint else ""
        return f"[{self.code}] {self.message}{where}"

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.message!r}, code={self.code!r}, context={dict(self.context)!r})"


#: Deprecated: the first release's name of `APIError`, the base of the service's errors.
JimengAPIError = APIError


class AuthError(APIError):
    """The refresh token is invalid or expired (HTTP 401, ret 1015 / 1001 / 1002)."""

    code = AUTH_FAILED
    hint = (
        "Copy a fresh `sessionid` cookie from the browser (JIMENG_TOKEN) and check its region "
        "prefix (us-, hk-, jp-, sg-; none for cn)."
    )


class PermissionDeniedError(APIError):
    """The account may not do this (HTTP 403, ret 1004: banned, ret 3018)."""

    code = PERMISSION_DENIED
    hint = (
        "Check in the web app that this account may use the feature; a banned account needs "
        "another token."
    )


class RegionNotAllowedError(PermissionDeniedError):
    """ret 3000: the caller's IP region does not match the token's region."""

    code = "REGION_NOT_ALLOWED"
    hint = (
        "Call from an IP in the token's region (e.g. through a proxy there), or use a token "
        "whose region prefix matches where you call from."
    )


class AccountPunishedError(PermissionDeniedError):
    """ret 1018: the account is punished and its generation limited."""

    code = "ACCOUNT_PUNISHED"
    hint = "Wait until the web app lifts the limit on this account, or use another account."


class RiskControlError(PermissionDeniedError):
    """ret 1019 / 4013 / -4: the service's risk control refused the call; never retried.

    Seedance 2.0 generate calls need the browser's msToken / a_bogus: plug in a request signer
    (`Settings(request_signer=...)`, see `jimeng_async.signer`).
    """

    code = RISK_CONTROL
    hint = (
        "Plug in a request signer with Settings(request_signer=...) (see jimeng_async.signer), "
        "or slow down and try again later in the web app."
    )


class RateLimitError(APIError):
    """Too many requests (HTTP 429); `retry_after` is the service's wait in seconds, if given."""

    code = RATE_LIMIT
    hint = (
        "Slow down: wait retry_after seconds (when given), lower Settings.max_queries / "
        "max_uploads, or spread jobs over a JimengPool."
    )

    @property
    def retryable(self) -> bool:
        return True


class ServerError(APIError):
    """The service answered with HTTP 5xx."""

    code = SERVER_ERROR
    hint = (
        "The service failed (already retried Settings.max_retries times): try again later, and "
        "quote request_id if it persists."
    )

    @property
    def retryable(self) -> bool:
        return True


class NetworkError(APIError):
    """The request did not complete: connection refused or dropped."""

    code = NETWORK_ERROR
    hint = (
        "Check your connection, proxy and firewall (already retried Settings.max_retries times), "
        "then try again."
    )

    @property
    def retryable(self) -> bool:
        return True


class RequestTimeoutError(NetworkError, JimengTimeoutError):
    """No answer within the request time-out; a `NetworkError` and a `TimeoutError`."""

    code = "REQUEST_TIMEOUT"
    hint = (
        "Check your connection or proxy, or raise Settings(request_timeout=...) / "
        "JIMENG_REQUEST_TIMEOUT (already retried Settings.max_retries times)."
    )


class InsufficientCreditsError(APIError):
    """Not enough credits for the job (ret 5000 / 1006); nothing was charged."""

    code = INSUFFICIENT_CREDITS
    hint = (
        "Top up the account or wait for the daily credits (session.credits() shows the "
        "balance); nothing was charged."
    )


class ContentFilteredError(APIError):
    """Moderation blocked the prompt or an image (ret 4001 / 2038)."""

    code = CONTENT_FILTERED
    hint = "Reword the prompt or replace the input image named above, then submit again."


class InvalidRequestError(APIError):
    """The service refused the parameters (ret 4002 / 2002 / 1000)."""

    code = INVALID_REQUEST
    hint = (
        "Check the model's ratios, resolutions and durations (jimeng_async.models()) and the "
        "input images; if they are allowed, update jimeng_async."
    )


class ServiceBusyError(APIError):
    """The service is busy or the account's queue is full (ret 2004 / 1014 / 5001); retried."""

    code = "SERVICE_BUSY"
    hint = (
        "The service or the account's queue is busy (already retried): try again in a few "
        "minutes, or submit fewer jobs at once."
    )

    @property
    def retryable(self) -> bool:
        return True


class MalformedResponseError(APIError):
    """The body was not JSON or not the service's envelope; retried like a dropped answer."""

    code = "MALFORMED_RESPONSE"
    hint = (
        "The answer is not what the service sends (already retried): check the region's base "
        "URL settings and any proxy in between, then try again."
    )

    @property
    def retryable(self) -> bool:
        return True


class ResponseFieldError(APIError):
    """A well-formed answer lacks a field (or has one of the wrong type) that the call needs."""

    code = "RESPONSE_FIELD"
    hint = (
        "The service's answer changed shape: update jimeng_async, or report the field and "
        "request_id."
    )


class GenerationFailedError(APIError):
    """The job ended in status 30. `fail_code` says why (2039 timed out, 2040 resources)."""

    code = GENERATION_FAILED
    hint = (
        "Submit the job again (a new job, charged again), perhaps with a simpler prompt or "
        "fewer inputs; fail_code says why it failed."
    )

    def __init__(
        self,
        message: str,
        *,
        fail_code: str,
        history_id: str,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, context=context, history_id=history_id, errmsg=message)
        self.fail_code = fail_code
        self.history_id: str = history_id


class GenerationFilteredError(GenerationFailedError, ContentFilteredError):
    """The job ended in status 30 with a moderation fail_code (2038 / 2043 / 2047 / 4011)."""

    code = "GENERATION_FILTERED"
    hint = (
        "Reword the prompt or replace the input images (a face in an input image is refused), "
        "then submit again."
    )


class UnknownAPIError(APIError):
    """Any other non-zero `ret` or HTTP 4xx: one this library does not classify."""

    code = API_ERROR
    hint = "Look up ret / errmsg in the service's web app, and quote request_id when you report it."


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

#: ret -> (class, what most likely caused it, the next step when the class's hint is not it).
_PERMISSION_RETS: dict[str, tuple[type[PermissionDeniedError], str, str | None]] = {
    "1004": (PermissionDeniedError, "the account is banned", None),
    "3018": (
        PermissionDeniedError,
        "permission denied; most often the app version is outdated",
        "Set a newer app version with Settings(app_version=...) or JIMENG_APP_VERSION (and "
        "da_version / DEFAULT_DA_VERSION).",
    ),
    "3000": (
        RegionNotAllowedError,
        "region not allowed: the IP region you call from does not match the token's region",
        None,
    ),
    "1018": (AccountPunishedError, "the account is punished: generation is limited", None),
    "1019": (
        RiskControlError,
        "risk control: this call needs the browser's msToken / a_bogus",
        "Plug in a request signer with Settings(request_signer=...) (see jimeng_async.signer).",
    ),
    "4013": (
        RiskControlError,
        "risk control (suspected abnormal behaviour): this call needs the browser's msToken / "
        "a_bogus",
        "Plug in a request signer with Settings(request_signer=...) (see jimeng_async.signer).",
    ),
    "-4": (
        RiskControlError,
        "risk control refused the call",
        "Slow down and try again later in the web app; a request signer "
        "(Settings(request_signer=...)) may help.",
    ),
}


def error_for_ret(ret: str, errmsg: str, context: Mapping[str, Any]) -> APIError:
    """The error that an envelope with a non-zero `ret` stands for."""
    message = f"ret {ret}: {errmsg or 'no message'}"
    if ret in AUTH_RETS:
        return AuthError(message, context=context, ret=ret, errmsg=errmsg)
    if ret in _PERMISSION_RETS:
        cls_, why, hint = _PERMISSION_RETS[ret]
        return cls_(f"{message} ({why})", context=context, ret=ret, errmsg=errmsg, hint=hint)
    cls = _RET_CLASSES.get(ret, UnknownAPIError)
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
    return cls(text, fail_code=fail_code, history_id=history_id)
