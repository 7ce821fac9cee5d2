"""Exit codes of `jimeng-async`, one per class of failure, so scripts can branch on them."""

from __future__ import annotations

from ..errors import (
    AuthError,
    ConfigurationError,
    ContentFilteredError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidInputError,
    InvalidRequestError,
    JimengTimeoutError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFieldError,
    ServerError,
    ServiceBusyError,
    UploadError,
)

OK = 0
GENERATION_FAILED = 1
USAGE = 2
AUTH = 3
CREDITS = 4
FILTERED = 5
BUSY = 6
NETWORK = 7
TIMEOUT = 8
INTERRUPTED = 130

#: (code, meaning) as `--help` and docs/cli.md list them.
TABLE: tuple[tuple[int, str], ...] = (
    (OK, "success"),
    (GENERATION_FAILED, "a job failed (or any other error)"),
    (USAGE, "bad arguments or input, refused before any request; missing extra"),
    (AUTH, "token invalid, expired or banned"),
    (CREDITS, "not enough credits"),
    (FILTERED, "prompt or output blocked by moderation"),
    (BUSY, "rate limited or service busy, after retries"),
    (NETWORK, "network or server error, after retries"),
    (TIMEOUT, "the generation limit or a wait passed (the job goes on: resume it)"),
    (INTERRUPTED, "interrupted by Ctrl-C (submitted jobs go on: resume them)"),
)

# Most specific first: a filtered generation is both a failure and a moderation block.
_BY_CLASS: tuple[tuple[type[BaseException], int], ...] = (
    (ContentFilteredError, FILTERED),
    (InsufficientCreditsError, CREDITS),
    (AuthError, AUTH),
    (PermissionDeniedError, AUTH),
    (RateLimitError, BUSY),
    (ServiceBusyError, BUSY),
    (NetworkError, NETWORK),
    (ServerError, NETWORK),
    (MalformedResponseError, NETWORK),
    (ResponseFieldError, NETWORK),
    (JimengTimeoutError, TIMEOUT),  # after NetworkError: a request time-out is a network one
    (InvalidInputError, USAGE),
    (ConfigurationError, USAGE),
    (InvalidRequestError, USAGE),
    (UploadError, USAGE),
    (GenerationFailedError, GENERATION_FAILED),
)


def exit_code_for(error: BaseException) -> int:
    """The exit code that stands for `error`."""
    for cls, code in _BY_CLASS:
        if isinstance(error, cls):
            return code
    return GENERATION_FAILED


def help_text() -> str:
    """The exit code table as a few lines for `--help`."""
    return "exit codes:\n" + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in TABLE)
