"""Fault injection and the outermost ASGI middleware of the emulator.

`FaultConfig` says how often each fault happens, per endpoint or everywhere; `FaultInjector`
draws the decisions from its own seeded random stream (always the same number of draws per
request, so a run is reproducible). `EmulatorMiddleware` counts every request, injects the faults
and turns any exception into a plain JSON 500, so the emulator never answers with a traceback.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .stats import CDN_ENDPOINT, WEB_ENDPOINTS, EmulatorStats, endpoint_name

logger = logging.getLogger("jimeng_async.testing")

FAULT_KINDS = ("error", "rate_limit", "drop", "slow", "malformed")
_ERROR_STATUSES = (500, 502, 503)
_WEB_NAMES = frozenset(WEB_ENDPOINTS.values())
#: The service's wording of the ret codes a fault can answer (PROTOCOL.md §2).
RET_MESSAGES = {
    "3018": "permission denied",
    "3000": "region not allowed",
    "1006": "not enough credits",
    "1018": "account punished: generation limited",
    "1019": "shark not pass",
    "4013": "suspected abnormal behaviour",
    "-4": "risk control",
    "5001": "too many jobs queued",
    "1014": "service busy",
    "2004": "service busy",
    "1015": "login expired",
    "5000": "not enough credits",
}


class FaultConfig(BaseModel):
    """How often each kind of fault is injected (rates in [0, 1]); everything off by default.

    error: a 500/502/503 before the handler; rate_limit: 429 with Retry-After before the
    handler; slow: `slow_seconds` before the handler acts; drop: after the handler ran, the
    headers and half the body, then the connection closes; malformed: after the handler, HTTP
    200 with half the body (not a valid envelope). `endpoints` limits the faults to those
    endpoint names (stats.endpoint_name); None means all. `slow_seconds` and `retry_after` are
    real seconds, not scaled by the emulator's time_scale. `ret_codes` maps web endpoint names
    to ret codes answered (HTTP 200, before the handler, nothing charged) at `ret_code_rate`,
    e.g. `{"generate": ("3018", "1019")}`; the codes take turns.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    rate_limit_rate: float = Field(0.0, ge=0.0, le=1.0)
    retry_after: float = Field(1.0, ge=0.0)
    drop_rate: float = Field(0.0, ge=0.0, le=1.0)
    slow_rate: float = Field(0.0, ge=0.0, le=1.0)
    slow_seconds: float = Field(1.0, ge=0.0)
    malformed_rate: float = Field(0.0, ge=0.0, le=1.0)
    # Any collection of names is taken (and kept as a frozenset): tests write sets and lists.
    endpoints: frozenset[str] | set[str] | list[str] | tuple[str, ...] | None = None
    seed: int | None = None
    ret_codes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    ret_code_rate: float = Field(1.0, ge=0.0, le=1.0)

    @field_validator("ret_codes", mode="before")
    @classmethod
    def _codes(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, tuple[str, ...]] = {}
        for name, codes in value.items():
            if name not in _WEB_NAMES:
                raise ValueError(
                    f"ret_codes: {name!r} is not a web endpoint ({sorted(_WEB_NAMES)})"
                )
            if isinstance(codes, (str, int)):
                codes = (codes,)
            out[name] = tuple(str(code) for code in codes)
            if not out[name]:
                raise ValueError(f"ret_codes[{name!r}] must name at least one code")
        return out

    @field_validator("endpoints", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("endpoints must be a collection of endpoint names, not one string")
        return value

    @field_validator("endpoints")
    @classmethod
    def _frozen(cls, value: Iterable[str] | None) -> frozenset[str] | None:
        return None if value is None else frozenset(value)

    def applies_to(self, endpoint: str | None) -> bool:
        return self.endpoints is None or (endpoint is not None and endpoint in self.endpoints)


@dataclass(frozen=True)
class FaultPlan:
    """The faults decided for one request."""

    slow: bool = False
    error_status: int | None = None
    rate_limit: bool = False
    drop: bool = False
    malformed: bool = False
    ret_code: str | None = None


NO_FAULTS = FaultPlan()


class FaultInjector:
    """Draws a `FaultPlan` per request from a random stream seeded by the config."""

    def __init__(self, config: FaultConfig, fallback_seed: int | None = None) -> None:
        self.config = config
        self._rng = random.Random(config.seed if config.seed is not None else fallback_seed)
        self._turns: dict[str, int] = {}

    def _ret_code(self, endpoint: str | None) -> str | None:
        codes = self.config.ret_codes.get(endpoint or "")
        if not codes or endpoint is None or self._rng.random() >= self.config.ret_code_rate:
            return None
        turn = self._turns.get(endpoint, 0)
        self._turns[endpoint] = turn + 1
        return codes[turn % len(codes)]

    def plan(self, endpoint: str | None) -> FaultPlan:
        ret_code = self._ret_code(endpoint)
        if ret_code is not None:
            return FaultPlan(ret_code=ret_code)
        if not self.config.applies_to(endpoint):
            return NO_FAULTS
        c = self.config
        draws = [self._rng.random() for _ in range(5)]
        status = self._rng.choice(_ERROR_STATUSES)
        before_handler_error = draws[0] < c.error_rate
        return FaultPlan(
            slow=draws[1] < c.slow_rate,
            error_status=status if before_handler_error else None,
            rate_limit=not before_handler_error and draws[2] < c.rate_limit_rate,
            drop=draws[3] < c.drop_rate,
            malformed=draws[3] >= c.drop_rate and draws[4] < c.malformed_rate,
        )


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


async def _send_simple(
    send: Send, status: int, body: bytes, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def new_logid() -> str:
    """A request id in the service's x-tt-logid form: UTC time then 20 hex digits."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


def _with_logid(send: Send) -> Send:
    """`send` adding an x-tt-logid header to the response (every web API answer has one)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"x-tt-logid" for k, _ in headers):
                headers.append((b"x-tt-logid", new_logid().encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _drain(receive: Receive) -> None:
    """Read the request body to its end (so the connection stays usable)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


class _Delay:
    """The slow fault: spent when the handler first reads the request, before it acts on it.

    Every handler reads its request before doing any work, so the work still happens after
    the delay; and a handler's own in-flight count (which wraps its reading) includes it.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def consume(self) -> None:
        seconds, self._seconds = self._seconds, 0.0
        if seconds > 0:
            await anyio.sleep(seconds)

    def wrap(self, receive: Receive) -> Receive:
        async def delayed_receive() -> Message:
            await self.consume()
            return await receive()

        return delayed_receive


class _Buffered:
    """A response captured from the inner app, so faults can act after the handler ran."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class DroppedLogFilter(logging.Filter):
    """Hides uvicorn's complaint about the responses we cut short on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


class EmulatorMiddleware:
    """Counts requests per endpoint, injects faults and never lets an exception escape."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        stats: Callable[[], EmulatorStats],
        injector: Callable[[], FaultInjector | None],
    ) -> None:
        self._app = app
        self._stats = stats
        self._injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        action = (query.get("Action") or [None])[0]
        endpoint = endpoint_name(scope["path"], action)
        stats = self._stats()
        stats.requests[endpoint or "unknown"] += 1
        if endpoint in _WEB_NAMES:
            send = _with_logid(send)
        injector = self._injector()
        plan = injector.plan(endpoint) if injector is not None else NO_FAULTS
        faults = injector.config if injector is not None else None
        if plan.ret_code is not None:
            stats.faults_injected[f"ret_{plan.ret_code}"] += 1
            await _drain(receive)
            message = RET_MESSAGES.get(plan.ret_code, "error")
            body = _json_body({"ret": plan.ret_code, "errmsg": message, "data": None})
            await _send_simple(send, 200, body)
            return

        delay = _Delay(faults.slow_seconds if plan.slow and faults is not None else 0.0)
        if plan.slow:
            stats.faults_injected["slow"] += 1
        if plan.error_status is not None or plan.rate_limit:
            await delay.consume()
        if plan.error_status is not None:
            stats.faults_injected["error"] += 1
            body = _json_body({"ret": "-1", "errmsg": "service unavailable", "data": None})
            await _send_simple(send, plan.error_status, body)
            return
        if plan.rate_limit and faults is not None:
            stats.faults_injected["rate_limit"] += 1
            body = _json_body({"ret": "-1", "errmsg": "too many requests", "data": None})
            retry = _format_seconds(faults.retry_after).encode()
            await _send_simple(send, 429, body, [(b"retry-after", retry)])
            return

        if endpoint == CDN_ENDPOINT and not (plan.drop or plan.malformed):
            await self._pass_through(scope, delay, receive, send, endpoint)
            return
        response = _Buffered()
        try:
            await self._app(scope, delay.wrap(receive), response.send)
        except Exception:
            logger.exception("internal error while serving %s", endpoint or scope["path"])
            response = _Buffered()
        await delay.consume()  # a handler that never read its body is slowed here
        if response.start is None:
            body = _json_body({"ret": "-1", "errmsg": "internal error"})
            await _send_simple(send, 500, body)
            return

        if plan.drop:
            stats.faults_injected["drop"] += 1
            await self._send_cut_short(send, response)
            return
        if plan.malformed:
            stats.faults_injected["malformed"] += 1
            await self._send_malformed(send, response)
            return
        await send(response.start)
        await send({"type": "http.response.body", "body": response.body})

    async def _pass_through(
        self, scope: Scope, delay: _Delay, receive: Receive, send: Send, endpoint: str | None
    ) -> None:
        """A file with no fault after the handler: streamed as it comes (a slow CDN trickles)."""
        started = False

        async def forward(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                await delay.consume()  # a handler that never read its body is slowed here
                started = True
            await send(message)

        try:
            await self._app(scope, delay.wrap(receive), forward)
        except Exception:
            logger.exception("internal error while serving %s", endpoint or scope["path"])
            if started:
                raise  # headers are out: the server drops the connection
        if not started:
            await delay.consume()
            body = _json_body({"ret": "-1", "errmsg": "internal error"})
            await _send_simple(send, 500, body)

    @staticmethod
    async def _send_cut_short(send: Send, response: _Buffered) -> None:
        """Headers announcing the whole body, then part of it; returning makes uvicorn close."""
        assert response.start is not None
        body = response.body
        headers = [(k, v) for k, v in response.start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(body), 2)).encode()))
        await send({**response.start, "headers": headers})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )

    @staticmethod
    async def _send_malformed(send: Send, response: _Buffered) -> None:
        """HTTP 200 with the body cut in half: not a valid envelope (nor a valid file)."""
        assert response.start is not None
        body = response.body[: len(response.body) // 2] or b"{"
        headers = [
            (k, v)
            for k, v in response.start["headers"]
            if k.lower() not in (b"content-length", b"content-type")
        ]
        content_type = dict(response.start["headers"]).get(b"content-type", b"application/json")
        headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
