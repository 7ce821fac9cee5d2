"""`Emulator`: the whole emulated service behind one real uvicorn server on loopback.

    async with Emulator(time_scale=0.01, seed=1) as emu:
        token = emu.add_account("cn", credits=100)
        settings = emu.settings()          # every region's URLs point here, polling scaled

The server runs in a task group owned by the context manager, on a socket bound before it
starts (so the port is known at once); uvicorn's signal handling and access log are off.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import socket
import time
from collections.abc import Generator
from types import TracebackType
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette

from ..config import REGIONS, Settings
from .cdn import ResultSigner, cdn_routes
from .config import EmulatorConfig
from .faults import DroppedLogFilter, EmulatorMiddleware, FaultConfig, FaultInjector
from .imagex_service import ImageXService
from .media import MediaCache
from .state import EmulatorState, Record
from .stats import EmulatorStats
from .webapi import WebAPI

_POLL_FIELDS = (
    "poll_first_delay_image",
    "poll_first_delay_video",
    "poll_min_interval",
    "poll_max_interval",
    "job_not_found_grace",
    "unknown_status_grace",
)
_POLL_FLOOR = 0.005
#: The emulator answers in milliseconds: a request still open after this is a broken test.
_REQUEST_TIMEOUT = 5.0
#: Floor of the scaled generation limit, so that slow CI machines still finish jobs.
_GENERATION_TIMEOUT_FLOOR = 10.0
_STARTUP_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn without signal handlers, stopped through an event instead of a 0.1 s poll."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.stop_requested = anyio.Event()
        self.ready = anyio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.30
        return

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            with anyio.move_on_after(1.0):
                await self.stop_requested.wait()
            counter += 10  # keep the Date header fresh: uvicorn refreshes it every 10 ticks
            if self.stop_requested.is_set():
                self.should_exit = True


class Emulator:
    """The local Jimeng service: web API, ImageX, CDN, with fault injection and stats."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        seed: int | None = None,
        faults: FaultConfig | None = None,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        min_app_version: str | None = None,
    ) -> None:
        """`min_app_version` (e.g. "8.4.0") overrides the config's: older Appvr get ret 3018."""
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self.seed = seed
        config = config or EmulatorConfig()
        if min_app_version is not None:
            config = EmulatorConfig(**{**config.model_dump(), "min_app_version": min_app_version})
        self.config = config
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        rng = random.Random(seed)
        self.stats = EmulatorStats()
        self.state = EmulatorState(self.config, time_scale, random.Random(rng.random()), self.stats)
        self.imagex = ImageXService(
            stats=self.stats,
            clock=time.time,  # real wall clock: SigV4 dates are checked against it
            credential_ttl=self.config.credential_ttl,
            max_upload_bytes=self.config.max_upload_bytes,
            upload_host=lambda: f"{self.host}:{self.port}",
            rng=random.Random(rng.random()),
            upload_pace=lambda: self.config.upload_chunk_delay,
        )
        secret = rng.randbytes(32) if seed is not None else secrets.token_bytes(32)
        self.signer = ResultSigner(
            secret,
            base_url=lambda: self.url,
            wall=self.state.wall,
            ttl=self.state.scaled(self.config.result_url_ttl),
        )
        self.media = MediaCache()
        self.web = WebAPI(
            state=self.state,
            imagex=self.imagex,
            signer=self.signer,
            rng=random.Random(rng.random()),
        )
        self._fault_seed = rng.randrange(2**32)
        self._injector: FaultInjector | None = None
        self.faults = faults
        app = Starlette(
            routes=[
                *self.web.routes(),
                *cdn_routes(
                    self.signer,
                    self.state.records.get,
                    self.media,
                    lambda: (self.config.cdn_chunk_bytes, self.config.cdn_chunk_delay),
                ),
                *self.imagex.routes(),
            ]
        )
        self.app = EmulatorMiddleware(
            app, stats=lambda: self.stats, injector=lambda: self._injector
        )
        self._server: _Server | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._log_filter = DroppedLogFilter()

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Emulator:
        if self._stack is not None:
            raise RuntimeError("the emulator is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted sockets inherit this; without it Nagle holds each response body back
            # for the client's delayed ACK (40 ms per request on loopback).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        server = _Server(
            uvicorn.Config(
                self.app,
                lifespan="off",
                access_log=False,
                log_config=None,
                log_level="warning",
                timeout_graceful_shutdown=1,
            )
        )
        stack = contextlib.AsyncExitStack()
        stack.callback(sock.close)
        logging.getLogger("uvicorn.error").addFilter(self._log_filter)
        stack.callback(logging.getLogger("uvicorn.error").removeFilter, self._log_filter)
        try:
            group = await stack.enter_async_context(anyio.create_task_group())
            stack.push_async_callback(self._stop_server, server)
            group.start_soon(server.serve, [sock])
            with anyio.fail_after(_STARTUP_TIMEOUT):
                await server.ready.wait()
        except BaseException:
            await stack.aclose()
            raise
        self._server, self._stack = server, stack
        return self

    @staticmethod
    async def _stop_server(server: _Server) -> None:
        server.should_exit = True
        server.stop_requested.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack, self._server = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    # --- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator has not started: use `async with Emulator()`")
        return self._port

    @property
    def url(self) -> str:
        """Base URL of every emulated host, e.g. http://127.0.0.1:8790."""
        return f"http://{self.host}:{self.port}"

    def settings(self, **overrides: Any) -> Settings:
        """Client settings pointing every region at this emulator, polling scaled by time.

        Time-outs are short (5 s per request, the generation limit scaled by time) so that a
        misconfigured test fails fast instead of waiting out the service's real limits.
        """
        urls = {"base_url": self.url, "commerce_url": self.url, "imagex_url": self.url}
        values: dict[str, Any] = {"regions": {region: dict(urls) for region in REGIONS}}
        defaults = Settings.model_fields
        for name in _POLL_FIELDS:
            default = defaults[name].default
            values[name] = max(_POLL_FLOOR, float(default) * self.time_scale)
        values["request_timeout"] = _REQUEST_TIMEOUT
        values["trust_env"] = False  # loopback: a proxy from the environment must not apply
        generation_limit = float(defaults["generation_timeout"].default) * self.time_scale
        values["generation_timeout"] = max(_GENERATION_TIMEOUT_FLOOR, generation_limit)
        values.update(overrides)
        return Settings(**values)

    def environment(self) -> dict[str, str]:
        """Environment variables that point a client (in another process) at this emulator."""
        env: dict[str, str] = {}
        for region in REGIONS:
            prefix = f"JIMENG_{region.upper()}_"
            for key in ("BASE_URL", "COMMERCE_URL", "IMAGEX_URL"):
                env[prefix + key] = self.url
        env["JIMENG_TRUST_ENV"] = "false"  # loopback: a proxy from the environment must not apply
        if self.time_scale != 1.0:
            scaled = self.settings()
            for name in _POLL_FIELDS:
                env[f"JIMENG_{name.upper()}"] = f"{getattr(scaled, name):g}"
        return env

    # --- accounts, time and records --------------------------------------------------------

    def add_account(
        self,
        region: str = "cn",
        credits: int = 100,
        vip: bool = False,
        expired: bool = False,
        banned: bool = False,
        *,
        token: str | None = None,
        credits_in_detail: bool = False,
    ) -> str:
        """Create an account and return its refresh token (cn: 32 hex; others "us-...").

        `credits_in_detail=True` makes a 2026-style account: user_credit reports the balance
        in `credits_detail` with `credit.*` at 0, and credit_receive omits the new total.
        """
        return self.state.add_account(
            region,
            credits=credits,
            vip=vip,
            expired=expired,
            banned=banned,
            token=token,
            credits_in_detail=credits_in_detail,
        ).token

    def mark_risky(self, uri: str) -> None:
        """Flag an uploaded image: algo_proxy and generate refuse it (ret 2003 risk not pass)."""
        self.imagex.mark_risky(uri)

    def expire_account(self, token: str) -> None:
        """Make the token's session expire: its calls answer ret 1015 from now on."""
        self.state.account(token).expired = True

    def ban_account(self, token: str) -> None:
        """Ban the account: its calls answer ret 1004 from now on."""
        self.state.account(token).banned = True

    def credits_of(self, token: str) -> int:
        """The account's total credits."""
        return self.state.account(token).total_credit

    def set_credits(self, token: str, credits: int) -> None:
        """Replace the account's credits (as purchased credits)."""
        account = self.state.account(token)
        account.gift_credit = account.vip_credit = 0
        account.purchase_credit = credits

    def new_day(self) -> None:
        """Start the next emulated day: daily credits can be received again."""
        self.state.new_day()

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward by `seconds` (real, already scaled) seconds."""
        self.state.advance(seconds)

    def freeze_clock(self) -> None:
        """Stop the emulator clock (timelines, days, URL expiry); only `advance` moves it."""
        self.state.freeze()

    def thaw_clock(self) -> None:
        """Let a frozen emulator clock run again from where it stands (after `freeze_clock`)."""
        self.state.thaw()

    @property
    def records(self) -> dict[str, Record]:
        """Every generation record, by history id."""
        return self.state.records

    def record_status(self, history_id: str) -> int:
        """The current status (20, 42, 45, 50 or 30) of a record."""
        return self.state.records[history_id].view(self.state.now()).status

    def set_record_status(self, history_id: str, status: int | None) -> None:
        """Make the record show `status` (any code, e.g. one not in PROTOCOL.md §6) from now on;
        None returns it to its timeline."""
        self.state.records[history_id].forced_status = status

    def record_json(self, history_id: str) -> dict[str, Any]:
        """A record exactly as get_history_by_ids would show it now."""
        return self.web.record_json(self.state.records[history_id], self.state.now())

    # --- faults and reset ------------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig | None:
        return self._injector.config if self._injector is not None else None

    @faults.setter
    def faults(self, value: FaultConfig | None) -> None:
        """Install (or with None remove) fault injection; the random stream restarts."""
        self._injector = FaultInjector(value, self._fault_seed) if value is not None else None

    def reset(self) -> None:
        """Forget accounts, records, uploads and stats (the fault config stays)."""
        self.state.reset()
        self.imagex.reset()
        self.media.clear()
        self.stats.clear()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"Emulator({where}, time_scale={self.time_scale}, seed={self.seed})"
