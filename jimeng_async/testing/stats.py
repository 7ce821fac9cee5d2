"""What the emulator counts, for tests and benchmarks to assert on."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

LimitKind = Literal["query", "upload"]

#: Web API paths -> the short endpoint names used by stats and FaultConfig.endpoints.
WEB_ENDPOINTS: dict[str, str] = {
    "/passport/account/info/v2": "account_info",
    "/commerce/v1/benefits/user_credit": "user_credit",
    "/commerce/v1/benefits/credit_receive": "credit_receive",
    "/mweb/v1/get_upload_token": "get_upload_token",
    "/mweb/v1/aigc_draft/generate": "generate",
    "/mweb/v1/get_history_by_ids": "get_history_by_ids",
    "/mweb/v1/algo_proxy": "algo_proxy",
    "/mweb/v1/get_local_item_list": "get_local_item_list",
}
#: ImageX actions and the upload path are named after themselves.
IMAGEX_ENDPOINTS = ("ApplyImageUpload", "CommitImageUpload", "upload")
CDN_ENDPOINT = "cdn"


def endpoint_name(path: str, action: str | None) -> str | None:
    """The endpoint name of a request, or None for a path the emulator does not serve."""
    if path in WEB_ENDPOINTS:
        return WEB_ENDPOINTS[path]
    if path in ("", "/") and action in IMAGEX_ENDPOINTS:
        return action
    if path.startswith("/upload/v1/"):
        return "upload"
    if path.startswith("/cdn/"):
        return CDN_ENDPOINT
    return None


@dataclass
class EmulatorStats:
    """Counters since start (or the last `Emulator.reset()`)."""

    requests: Counter[str] = field(default_factory=Counter)
    max_in_flight: dict[tuple[str, LimitKind], int] = field(default_factory=dict)
    submits: Counter[str] = field(default_factory=Counter)
    duplicate_submits: int = 0
    credits_charged: int = 0
    history_batch_sizes: list[int] = field(default_factory=list)
    faults_injected: Counter[str] = field(default_factory=Counter)
    #: Seconds spent serving requests of each kind (read, latency, handling), and how many:
    #: the service time a client saw, for bounds that use it (benchmarks/batch.py).
    served_seconds: dict[LimitKind, float] = field(default_factory=dict)
    served: Counter[LimitKind] = field(default_factory=Counter)
    _in_flight: Counter[tuple[str, LimitKind]] = field(default_factory=Counter, repr=False)

    @contextmanager
    def in_flight(self, token: str, kind: LimitKind) -> Iterator[None]:
        """Count one request of `token` being served; record the largest count seen."""
        key = (token, kind)
        self._in_flight[key] += 1
        self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self._in_flight[key])
        started = time.perf_counter()
        try:
            yield
        finally:
            self._in_flight[key] -= 1
            elapsed = time.perf_counter() - started
            self.served_seconds[kind] = self.served_seconds.get(kind, 0.0) + elapsed
            self.served[kind] += 1

    def clear(self) -> None:
        """Forget every count (in place: the emulator's services keep this same object)."""
        self.requests.clear()
        self.max_in_flight.clear()
        self.submits.clear()
        self.duplicate_submits = 0
        self.credits_charged = 0
        self.history_batch_sizes.clear()
        self.faults_injected.clear()
        self.served_seconds.clear()
        self.served.clear()
