"""Counters for monitoring: per-endpoint requests and latency, tasks, and credits spent.

Everything is in memory and cheap to update; `snapshot()` returns plain data (no tokens) that
can be logged or exported as it is.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

#: Latency samples kept per endpoint: enough for a stable p95 without unbounded growth.
LATENCY_WINDOW = 2048


@dataclass
class EndpointStats:
    """Counters of one endpoint."""

    requests: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    cache_hits: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))

    def snapshot(self) -> dict[str, Any]:
        samples = sorted(self.latencies)
        finished = self.successes + self.failures
        return {
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "success_rate": self.successes / finished if finished else None,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "latency_mean": sum(samples) / len(samples) if samples else None,
            "latency_p95": _percentile(samples, 0.95),
        }


def _percentile(sorted_samples: list[float], q: float) -> float | None:
    if not sorted_samples:
        return None
    index = max(0, math.ceil(q * len(sorted_samples)) - 1)
    return sorted_samples[index]


@dataclass
class TaskStats:
    """Counters of generation tasks."""

    submitted: int = 0
    completed: int = 0
    failed: int = 0
    timed_out: int = 0
    credits_spent: int = 0

    def snapshot(self) -> dict[str, Any]:
        ended = self.completed + self.failed + self.timed_out
        return {
            "submitted": self.submitted,
            "completed": self.completed,
            "failed": self.failed,
            "timed_out": self.timed_out,
            "completion_rate": self.completed / ended if ended else None,
            "credits_spent": self.credits_spent,
        }


class Metrics:
    """The metrics of one session (a pool merges its sessions' snapshots)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointStats] = {}
        self.tasks = TaskStats()

    def endpoint(self, name: str) -> EndpointStats:
        stats = self.endpoints.get(name)
        if stats is None:
            stats = self.endpoints[name] = EndpointStats()
        return stats

    def record_request(self, name: str, *, ok: bool, latency: float) -> None:
        stats = self.endpoint(name)
        stats.requests += 1
        stats.latencies.append(latency)
        if ok:
            stats.successes += 1
        else:
            stats.failures += 1

    def record_retry(self, name: str) -> None:
        self.endpoint(name).retries += 1

    def record_cache_hit(self, name: str) -> None:
        self.endpoint(name).cache_hits += 1

    def snapshot(self) -> dict[str, Any]:
        """Plain data: {"endpoints": {name: {...}}, "tasks": {...}}."""
        return {
            "endpoints": {name: s.snapshot() for name, s in sorted(self.endpoints.items())},
            "tasks": self.tasks.snapshot(),
        }
