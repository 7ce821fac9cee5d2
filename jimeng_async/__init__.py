"""jimeng_async: an asyncio-native client for the Jimeng (即梦) / Dreamina generation web API.

    import jimeng_async as jm

    async with jm.JimengSession("us-xxxx") as s:
        result = await s.generate_image("a cat in the snow", ratio="16:9")
        await result.save("out/")

The library logs to the `jimeng_async` logger and installs no handlers. The local emulator,
for tests and offline runs, is `jimeng_async.testing.Emulator` (extra: `emulator`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from .pool import AccountHealth, JimengPool, Outcome, PoolError
from .results import ImageResult, VideoResult
from .session import JimengSession
from .state import MemoryState, PoolState

if TYPE_CHECKING:
    from .state.redis import RedisState
from .tasks import GenerationTask, Progress

__version__ = "0.1.0"


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
    "SERVER_ERROR",
    "APIError",
    "AccountHealth",
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
    "JimengAPIError",
    "JimengError",
    "JimengPool",
    "JimengSession",
    "MalformedResponseError",
    "MemoryState",
    "Metrics",
    "NetworkError",
    "Outcome",
    "PermissionDeniedError",
    "PoolError",
    "PoolState",
    "Progress",
    "QueueInfo",
    "RateLimitError",
    "RedisState",
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
]
