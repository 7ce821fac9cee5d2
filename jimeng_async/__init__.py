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
    NETWORK_ERROR,
    PERMISSION_DENIED,
    RATE_LIMIT,
    RISK_CONTROL,
    SERVER_ERROR,
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
    JobNotFoundError,
    MalformedResponseError,
    NetworkError,
    PermissionDeniedError,
    PollingError,
    RateLimitError,
    RegionNotAllowedError,
    ResponseFieldError,
    RiskControlError,
    ServerError,
    ServiceBusyError,
    SessionClosedError,
    SignerRequiredError,
    TaskCancelledError,
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
from .results import ImageResult, VideoResult
from .session import JimengSession
from .signer import RequestSignature, RequestSigner, SignableRequest
from .state import MemoryState, PoolState

if TYPE_CHECKING:
    from .state.redis import RedisState
from .tasks import GenerationTask, Progress

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
    "NETWORK_ERROR",
    "PERMISSION_DENIED",
    "RATE_LIMIT",
    "REGIONS",
    "RISK_CONTROL",
    "SERVER_ERROR",
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
    "GenerationFailedError",
    "GenerationFilteredError",
    "GenerationTask",
    "GenerationTimeoutError",
    "ImageModel",
    "ImageRef",
    "ImageResult",
    "InsufficientCreditsError",
    "InvalidInputError",
    "InvalidRequestError",
    "InvalidSourceError",
    "JimengAPIError",
    "JimengError",
    "JimengPool",
    "JimengSession",
    "JobNotFoundError",
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
    "QueueInfo",
    "RateLimitError",
    "RedactingFilter",
    "RedisState",
    "RegionNotAllowedError",
    "RegionProfile",
    "RequestSignature",
    "RequestSigner",
    "ResponseFieldError",
    "RiskControlError",
    "ServerError",
    "ServiceBusyError",
    "SessionClosedError",
    "Settings",
    "SignableRequest",
    "SignerRequiredError",
    "TaskCancelledError",
    "TaskStatus",
    "UnknownStatusError",
    "UploadError",
    "VideoModel",
    "VideoResult",
    "__version__",
    "estimated_cost",
    "models",
    "redact_text",
]
