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

from typing import TYPE_CHECKING, Any

from . import _redact
from ._redact import RedactingFilter, redact_text
from .config import REGIONS, RegionProfile, Settings
from .errors import (
    API_ERROR,
    AUTH_FAILED,
    CONTENT_FILTERED,
    GENERATION_FAILED,
    INSUFFICIENT_CREDITS,
    INVALID_REQUEST,
    NETWORK_ERROR,
    PERMISSION_DENIED,
    RATE_LIMIT,
    RISK_CONTROL,
    SERVER_ERROR,
    TIMEOUT,
    AccountPunishedError,
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
    JimengTimeoutError,
    JobNotFoundError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    PollingError,
    RateLimitError,
    RegionNotAllowedError,
    RequestTimeoutError,
    ResponseFieldError,
    RiskControlError,
    ServerError,
    ServiceBusyError,
    SessionClosedError,
    SignerRequiredError,
    TaskCancelledError,
    UnknownAPIError,
    UnknownStatusError,
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
from .pool import AccountHealth, JimengPool, Outcome, PoolError
from .registry import ImageModel, VideoModel, estimated_cost, models
from .results import ImageResult, Result, VideoResult
from .session import JimengSession
from .signer import RequestSignature, RequestSigner, SignableRequest
from .state import MemoryState, PoolState

if TYPE_CHECKING:
    from .state.redis import RedisState
from .sync import SyncSession
from .tasks import GenerationTask, Progress, ProgressCallback
from .types import (
    Duration,
    ImageModelName,
    ImageSource,
    Kind,
    Ratio,
    Resolution,
    VideoModelName,
    VideoRatio,
    VideoResolution,
)
from .waiting import as_completed

__version__ = "0.1.0"

_redact.install()


def __getattr__(name: str) -> Any:
    if name == "RedisState":  # needs the `redis` extra: imported on first use
        from .state.redis import RedisState

        return RedisState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "API_ERROR",
    "AUTH_FAILED",
    "CONTENT_FILTERED",
    "GENERATION_FAILED",
    "INSUFFICIENT_CREDITS",
    "INVALID_REQUEST",
    "NETWORK_ERROR",
    "PERMISSION_DENIED",
    "RATE_LIMIT",
    "REGIONS",
    "RISK_CONTROL",
    "SERVER_ERROR",
    "TIMEOUT",
    "APIError",
    "AccountHealth",
    "AccountInfo",
    "AccountPunishedError",
    "Asset",
    "AuthError",
    "ConfigurationError",
    "ContentFilteredError",
    "CreditInfo",
    "CreditReceipt",
    "Duration",
    "GenerationFailedError",
    "GenerationFilteredError",
    "GenerationTask",
    "GenerationTimeoutError",
    "ImageModel",
    "ImageModelName",
    "ImageRef",
    "ImageResult",
    "ImageSource",
    "InsufficientCreditsError",
    "InvalidInputError",
    "InvalidRequestError",
    "InvalidSourceError",
    "JimengAPIError",
    "JimengError",
    "JimengPool",
    "JimengSession",
    "JimengTimeoutError",
    "JobNotFoundError",
    "Kind",
    "MalformedResponseError",
    "MemoryState",
    "Metrics",
    "NetworkError",
    "Outcome",
    "PermissionDeniedError",
    "PollingError",
    "PoolError",
    "PoolState",
    "Progress",
    "ProgressCallback",
    "QueueInfo",
    "RateLimitError",
    "Ratio",
    "RedactingFilter",
    "RedisState",
    "RegionNotAllowedError",
    "RegionProfile",
    "RequestSignature",
    "RequestSigner",
    "RequestTimeoutError",
    "Resolution",
    "ResponseFieldError",
    "Result",
    "RiskControlError",
    "ServerError",
    "ServiceBusyError",
    "SessionClosedError",
    "Settings",
    "SignableRequest",
    "SignerRequiredError",
    "SyncSession",
    "TaskCancelledError",
    "TaskStatus",
    "UnknownAPIError",
    "UnknownStatusError",
    "UploadError",
    "VideoModel",
    "VideoModelName",
    "VideoRatio",
    "VideoResolution",
    "VideoResult",
    "__version__",
    "as_completed",
    "estimated_cost",
    "models",
    "redact_text",
]
