"""jimeng_async: an asyncio-native client for the Jimeng (即梦) / Dreamina generation web API.

    import jimeng_async as jm

    async with jm.JimengSession("us-xxxx") as s:
        result = await s.generate_image("a cat in the snow", ratio="16:9")
        await result.save("out/")

The library logs to the `jimeng_async` logger and installs no handlers; a redacting filter
(`RedactingFilter`) on it and on the httpx and httpcore loggers keeps secrets out of log lines.
The local emulator, for tests and offline runs, is `jimeng_async.testing.Emulator`
(extra: `emulator`).
"""

from __future__ import annotations

from . import _redact
from ._redact import RedactingFilter, redact_text
from .config import REGIONS, RegionProfile, Settings
from .errors import (
    API_ERROR,
    AUTH_FAILED,
    NETWORK_ERROR,
    PERMISSION_DENIED,
    RATE_LIMIT,
    SERVER_ERROR,
    APIError,
    AuthError,
    ConfigurationError,
    ContentFilteredError,
    GenerationFailedError,
    GenerationFilteredError,
    GenerationTimeoutError,
    InsufficientCreditsError,
    InvalidInputError,
    InvalidRequestError,
    InvalidSourceError,
    JimengAPIError,
    JimengError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    RateLimitError,
    ResponseFieldError,
    ServerError,
    ServiceBusyError,
    SessionClosedError,
    TaskCancelledError,
    UploadError,
)
from .metrics import Metrics
from .models import (
    AccountInfo,
    Asset,
    CreditInfo,
    CreditReceipt,
    ImageRef,
    QueueInfo,
    TaskStatus,
)
from .results import ImageResult, VideoResult
from .session import JimengSession
from .tasks import GenerationTask, Progress

__version__ = "0.1.0"

_redact.install()

__all__ = [
    "API_ERROR",
    "AUTH_FAILED",
    "NETWORK_ERROR",
    "PERMISSION_DENIED",
    "RATE_LIMIT",
    "REGIONS",
    "SERVER_ERROR",
    "APIError",
    "AccountInfo",
    "Asset",
    "AuthError",
    "ConfigurationError",
    "ContentFilteredError",
    "CreditInfo",
    "CreditReceipt",
    "GenerationFailedError",
    "GenerationFilteredError",
    "GenerationTask",
    "GenerationTimeoutError",
    "ImageRef",
    "ImageResult",
    "InsufficientCreditsError",
    "InvalidInputError",
    "InvalidRequestError",
    "InvalidSourceError",
    "JimengAPIError",
    "JimengError",
    "JimengSession",
    "MalformedResponseError",
    "Metrics",
    "NetworkError",
    "PermissionDeniedError",
    "Progress",
    "QueueInfo",
    "RateLimitError",
    "RedactingFilter",
    "RegionProfile",
    "ResponseFieldError",
    "ServerError",
    "ServiceBusyError",
    "SessionClosedError",
    "Settings",
    "TaskCancelledError",
    "TaskStatus",
    "UploadError",
    "VideoResult",
    "__version__",
    "redact_text",
]
