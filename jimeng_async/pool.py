"""`JimengPool`: many accounts behind one object, with placement, batches and shared state.

Each token gets its own `JimengSession` (own Cookie, limits and caches); sessions share HTTP
connection pools, one per distinct proxy. A job goes to the account that can pay for it with
the least load (round-robin among equals). Accounts the service refuses (1015, 1004, 1018,
3018) leave the rotation with their reason; an account out of credits is skipped until the
next day or a refreshed balance. Pool state (credits, states, in-flight leases, the job
registry) lives in a `PoolState`: in memory, or in Redis for many worker processes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, cast

import anyio
import backoff
import httpx

from . import registry
from .auth import mask_token, split_token
from .config import Settings
from .errors import (
    APIError,
    AuthError,
    ConfigurationError,
    InsufficientCreditsError,
    InvalidInputError,
    JimengError,
    PermissionDeniedError,
)
from .models import Kind
from .pool_journal import Journal, check_journal
from .results import ImageResult, Result, VideoResult
from .session import JimengSession
from .state import AccountView, LeaseKind, MemoryState, PoolState
from .state import state_from_environment as _state_from_environment
from .tasks import GenerationTask, ProgressCallback, ResultT, check_progress_callback, follow
from .transport import check_proxy, new_http_client
from .types import (
    Duration,
    ImageModelName,
    ImageSource,
    Ratio,
    Resolution,
    VideoModelName,
    VideoRatio,
    VideoResolution,
)

logger = logging.getLogger("jimeng_async")

TOKENS_ENV = "JIMENG_TOKENS"

#: The least a job costs: an account whose balance is below it is out of credits.
MIN_JOB_COST = 1

#: ret codes (and what they mean) that take an account out of rotation.
OUT_OF_ROTATION = {
    "1015": "login expired",
    "1001": "login expired",
    "1002": "login expired",
    "1004": "account banned",
    "1018": "account punished: generation limited",
    "3018": "permission denied (outdated app version)",
    "3000": "region not allowed (the calling IP's region is not the token's)",
}
CREDIT_RETS = frozenset({"5000", "1006"})
_PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://")
#: A batch's hook on each job's task once it is submitted or resumed: `(input index, task)`.
OnTask = Callable[[int, GenerationTask], Awaitable[None]]
_NAMESPACE = uuid.UUID("0f4f2d3c-6a51-4d3e-9a57-64a1c2e0b7d1")


class PoolError(JimengError):
    """The pool cannot place a job or get a slot (every account is out, or none can pay)."""

    code = "POOL_ERROR"
    hint = (
        "See pool.health() for accounts out of rotation or out of credits; add tokens, wait "
        "for the daily credits, or open a new pool."
    )


@dataclass(frozen=True)
class AccountHealth:
    """One account as `JimengPool.health()` reports it (the token masked)."""

    token: str
    region: str
    credits: int | None
    in_flight: int
    state: str
    reason: str


@dataclass(frozen=True)
class Outcome(Generic[ResultT]):
    """The outcome of one batch input: a result or an error, tied to its input and job.

    `map_images` yields `Outcome[ImageResult]`, `map_videos` `Outcome[VideoResult]`; exactly
    one of `result` and `error` is set (`ok` says which). `resumed` is True when the job had
    been submitted before (a journal or the registry) and this run only waited for it.
    """

    index: int
    input: Any
    kind: Kind
    result: ResultT | None = None
    error: JimengError | None = None
    history_id: str | None = None
    submit_id: str | None = None
    account: str | None = None
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def estimated_cost(kind: Kind, options: Mapping[str, Any], *, costs: Mapping[str, int]) -> int:
    """Credits a job is expected to cost: the pool's `costs` for its kind if given, else the
    model registry's estimate for its model, resolution and duration."""
    if kind in costs:
        return costs[kind]
    model = options.get("model") or (
        registry.DEFAULT_IMAGE_MODEL if kind == "image" else registry.DEFAULT_VIDEO_MODEL
    )
    sizing = {k: options[k] for k in ("resolution", "duration") if k in options}
    try:
        return registry.estimated_cost(str(model), **sizing)
    except (ValueError, TypeError):  # an unknown model: the session refuses it by name
        return MIN_JOB_COST


def out_of_rotation_reason(exc: APIError) -> str | None:
    """Why this error takes its account out of rotation, or None if it does not."""
    ret = exc.ret or ""
    if ret in OUT_OF_ROTATION:
        return f"ret {ret}: {OUT_OF_ROTATION[ret]}"
    if ret:
        return None  # any other refusal (risk control, moderation...) is about the job
    if isinstance(exc, AuthError):
        return f"auth failed (HTTP {exc.status_code or '?'})"
    if isinstance(exc, PermissionDeniedError):
        return f"permission denied (HTTP {exc.status_code or '?'})"
    return None


def is_credit_error(exc: APIError) -> bool:
    """Whether the service refused a job for lack of credits (nothing was charged)."""
    ret = exc.ret or ""
    return isinstance(exc, InsufficientCreditsError) or ret in CREDIT_RETS


def account_key(token: str) -> str:
    """A stable id of an account for shared state: a hash, never the token itself."""
    return hashlib.sha256(token.strip().encode()).hexdigest()[:16]


def batch_submit_id(batch_id: str, index: int, moves: int) -> str:
    """The submit id of a batch job: the same for a resend, a new one after each move."""
    return str(uuid.uuid5(_NAMESPACE, f"{batch_id}:{index}:{moves}"))


_IMAGE_OPTIONS = (
    "prompt",
    "model",
    "ratio",
    "resolution",
    "negative_prompt",
    "sample_strength",
    "seed",
    "intelligent_ratio",
    "images",
)
_VIDEO_OPTIONS = (
    "prompt",
    "model",
    "ratio",
    "resolution",
    "duration",
    "seed",
    "first_frame",
    "end_frame",
)


def _image_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The `submit_image` options among a method's arguments (its `locals()`)."""
    return {name: arguments[name] for name in _IMAGE_OPTIONS}


def _video_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The `submit_video` options among a method's arguments (its `locals()`)."""
    return {name: arguments[name] for name in _VIDEO_OPTIONS}


def _utc_day() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def _tokens(tokens: Sequence[str] | str | None) -> list[str]:
    given = tokens if tokens is not None else os.environ.get(TOKENS_ENV, "")
    source = "tokens" if tokens is not None else TOKENS_ENV
    items = given.split(",") if isinstance(given, str) else list(given)
    if not all(isinstance(t, str) for t in items):
        raise InvalidInputError(source, "must hold refresh tokens as strings")
    cleaned = [t.strip() for t in items if t.strip()]
    if not cleaned:
        raise InvalidInputError(
            source, f"no tokens given: pass a list of tokens or set {TOKENS_ENV}"
        )
    if len({account_key(t) for t in cleaned}) != len(cleaned):
        raise InvalidInputError(source, "a token is given twice (one session per account)")
    return cleaned


def _proxies(proxies: object, tokens: list[str]) -> list[str | None]:
    """One proxy URL (or None) per token, from a mapping by token or a list in token order."""
    if proxies is None:
        return [None] * len(tokens)
    if isinstance(proxies, Mapping):
        unknown = [k for k in proxies if k not in tokens]
        if unknown:
            raise InvalidInputError("proxies", "has a key that is not one of the tokens")
        chosen = [proxies.get(t) for t in tokens]
    elif isinstance(proxies, Sequence) and not isinstance(proxies, str | bytes):
        if len(proxies) != len(tokens):
            raise InvalidInputError("proxies", "must have one entry per token", allowed="None")
        chosen = list(proxies)
    else:
        raise InvalidInputError("proxies", "must be a mapping by token or a list in token order")
    for proxy in chosen:
        if proxy is not None:
            check_proxy(proxy, field="proxies")  # the message never shows the URL
    return cast(list[str | None], chosen)


class _SharedSlots:
    """An account's local limit plus a lease in the shared state: the limit holds across workers.

    It stands in for the session's own semaphores (JimengSession takes no limiter yet); the
    two-process Redis test fails if the session's slots are ever renamed.
    """

    def __init__(
        self,
        local: Any,
        state: PoolState,
        key: str,
        kind: LeaseKind,
        limit: int,
        ttl: float,
        wait: float,
    ) -> None:
        self._local = local
        self._state = state
        self._key = key
        self._kind: LeaseKind = kind
        self._limit = limit
        self._ttl = ttl
        self._wait = wait
        self._held: list[str] = []

    async def __aenter__(self) -> None:
        await self._local.acquire()
        try:
            lease = uuid.uuid4().hex
            delays = backoff.expo(base=2, factor=0.005, max_value=0.05)
            next(delays)
            with anyio.fail_after(self._wait):
                # Another process frees the slot: there is no local event to wait on.
                while not await self._state.acquire(  # noqa: ASYNC110
                    self._key, self._kind, lease, self._limit, self._ttl
                ):
                    await anyio.sleep(backoff.full_jitter(next(delays)))
        except TimeoutError:
            self._local.release()
            raise PoolError(
                f"no free {self._kind} slot for the account within {self._wait:g}s"
            ) from None
        except BaseException:
            self._local.release()
            raise
        self._held.append(lease)

    async def __aexit__(self, *exc_info: object) -> None:
        lease = self._held.pop()  # the leases of one account are interchangeable
        try:
            with anyio.CancelScope(shield=True):
                await self._state.release(self._key, self._kind, lease)
        finally:
            self._local.release()


@dataclass
class _Account:
    token_masked: str
    region: str
    key: str
    session: JimengSession
    position: int


class JimengPool:
    """Many accounts, one client: placement by credits and load, batches, shared state.

    `tokens` (or `JIMENG_TOKENS`, comma separated); `proxies` maps a token to its proxy URL
    (or lists them in token order); `state` is a `PoolState` or a Redis URL (default: Redis
    at `JIMENG_REDIS_URL` if set, else in memory); `costs` overrides the credits a job is
    expected to cost per kind. Use `async with`, or call `aclose()` when done.
    """

    def __init__(
        self,
        tokens: Sequence[str] | str | None = None,
        *,
        settings: Settings | None = None,
        proxies: Mapping[str, str | None] | Sequence[str | None] | None = None,
        state: PoolState | str | None = None,
        costs: Mapping[str, int] | None = None,
        claim_ttl: float = 60.0,
        worker_id: str | None = None,
    ) -> None:
        token_list = _tokens(tokens)
        proxy_list = _proxies(proxies, token_list)
        if not isinstance(claim_ttl, int | float) or claim_ttl <= 0:
            raise InvalidInputError("claim_ttl", "must be a number of seconds > 0")
        self.settings = settings or Settings()
        self.costs: dict[str, int] = {}
        for kind, cost in (costs or {}).items():
            if kind not in ("image", "video") or not isinstance(cost, int) or cost < 0:
                raise InvalidInputError(
                    "costs", f"bad entry for {kind!r}", allowed="image/video: int >= 0"
                )
            self.costs[kind] = cost
        self._owns_state = not isinstance(state, PoolState)
        if state is not None and not isinstance(state, PoolState | str):
            raise InvalidInputError("state", "must be a PoolState or a Redis URL")
        try:
            self.state: PoolState = (
                state if isinstance(state, PoolState) else _state_from_environment(state)
            )
        except ConfigurationError:
            if state is None:
                raise  # it names JIMENG_REDIS_URL
            raise InvalidInputError(
                "state", "must be a redis://, rediss:// or unix:// URL"
            ) from None
        self.claim_ttl = float(claim_ttl)
        self.worker_id = worker_id or uuid.uuid4().hex
        self._clients: dict[str | None, httpx.AsyncClient] = {}
        self._accounts: list[_Account] = []
        for position, (token, proxy) in enumerate(zip(token_list, proxy_list, strict=True)):
            session = JimengSession(token, settings=self.settings, http_client=self._client(proxy))
            self._accounts.append(
                _Account(
                    mask_token(token), split_token(token)[0], account_key(token), session, position
                )
            )
        self._by_key = {a.key: a for a in self._accounts}
        if not isinstance(self.state, MemoryState):
            for account in self._accounts:
                self._share_limits(account)
        self._placing = anyio.Lock()
        self._turn = 0
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"JimengPool(accounts={len(self._accounts)}, state={self.state!r}, {state})"

    def _client(self, proxy: str | None) -> httpx.AsyncClient:
        """One connection pool per distinct proxy, made as a session makes its own
        (`new_http_client`: None means `Settings.proxy`, else the environment's when
        `Settings.trust_env`); none keeps cookies."""
        if proxy not in self._clients:
            self._clients[proxy] = new_http_client(self.settings, proxy=proxy)
        return self._clients[proxy]

    def _share_limits(self, account: _Account) -> None:
        """Put the account's query and upload limits under shared leases (Redis mode)."""
        settings = self.settings
        wait = settings.request_timeout * 4
        session: Any = account.session
        session.transport._query_slots = _SharedSlots(
            session.transport._query_slots,
            self.state,
            account.key,
            "query",
            settings.max_queries,
            settings.request_timeout + 15,
            wait,
        )
        session._upload_slots = _SharedSlots(
            session._upload_slots,
            self.state,
            account.key,
            "upload",
            settings.max_uploads,
            settings.request_timeout * 4 + 15,
            wait,
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> JimengPool:
        self._require_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _require_open(self) -> None:
        if self._closed:
            raise PoolError("this pool is closed", hint="Create a new JimengPool.")

    async def aclose(self) -> None:
        """Close the sessions, the connection pools and the state if the pool made it.

        Callable from any task, any number of times: waiters of jobs in flight get
        `SessionClosedError` at once (their jobs stay resumable by id).
        """
        if self._closed:
            return
        self._closed = True
        try:
            for account in self._accounts:
                await account.session.aclose()
        finally:
            for client in self._clients.values():
                await client.aclose()
            if self._owns_state:
                await self.state.aclose()

    # -- accounts --------------------------------------------------------------------------

    async def health(self) -> list[AccountHealth]:
        """Every account: masked token, region, known credits, jobs in flight, state, reason."""
        views = await self.state.accounts([a.key for a in self._accounts])
        return [
            AccountHealth(
                token=a.token_masked,
                region=a.region,
                credits=views[a.key].credits,
                in_flight=views[a.key].load,
                state=views[a.key].status,
                reason=views[a.key].reason,
            )
            for a in self._accounts
        ]

    async def refresh_credits(self) -> list[AccountHealth]:
        """Read every account's balance now (an exhausted one returns if it has credits again)."""
        self._require_open()
        views = await self.state.accounts([a.key for a in self._accounts])
        active = [a for a in self._accounts if views[a.key].status != "out"]
        async with anyio.create_task_group() as group:
            for account in active:
                group.start_soon(self._refresh, account)
        return await self.health()

    async def _refresh(self, account: _Account) -> None:
        """Read the balance (receiving the daily credits when it cannot pay for an image)."""
        try:
            info = await account.session.credits(refresh=True)
            if info.total < MIN_JOB_COST and info.can_receive_daily:
                await account.session.receive_credits()
                info = await account.session.credits(refresh=True)
        except APIError as exc:
            reason = out_of_rotation_reason(exc)
            if reason is not None:
                await self._take_out(account, reason)
            else:
                logger.warning("pool: credits of %s unknown: %s", account.token_masked, exc)
            return
        exhausted = info.total < MIN_JOB_COST
        await self.state.update_account(
            account.key,
            credits=info.total,
            credits_at=time.time(),
            status="exhausted" if exhausted else "active",
            exhausted_day=_utc_day() if exhausted else "",
        )

    async def _after_wait(self, key: str, error: JimengError | None) -> None:
        """A job's wait ended: an error that says its account is dead takes the account out."""
        if isinstance(error, APIError):
            reason = out_of_rotation_reason(error)
            if reason is not None:
                await self._take_out(self._by_key[key], reason)

    async def _take_out(self, account: _Account, reason: str) -> None:
        logger.warning("pool: account %s leaves the rotation: %s", account.token_masked, reason)
        await self.state.update_account(account.key, status="out", reason=reason)

    async def _exhaust(self, account: _Account) -> None:
        await self.state.update_account(
            account.key,
            status="exhausted",
            reason="not enough credits",
            credits=0,
            credits_at=time.time(),
            exhausted_day=_utc_day(),
        )

    # -- placement -------------------------------------------------------------------------

    async def _place(self, kind: Kind, options: Mapping[str, Any], exclude: set[str]) -> _Account:
        """The account for a job: able to pay, least loaded, round-robin among equals.

        The job's cost is reserved from the account's known balance and a job lease counts
        its load until `_unplace`.
        """
        cost = estimated_cost(kind, options, costs=self.costs)
        keys = [a.key for a in self._accounts]
        async with self._placing:
            for _ in range(3):
                views = await self.state.accounts(keys)
                today = _utc_day()
                candidates = [
                    a
                    for a in self._accounts
                    if a.key not in exclude and self._eligible(views[a.key], today)
                ]
                if not candidates:
                    break
                stale = [a for a in candidates if self._stale(views[a.key], cost)]
                if stale:
                    async with anyio.create_task_group() as group:
                        for account in stale:
                            group.start_soon(self._refresh, account)
                    views = await self.state.accounts(keys)
                payable = [
                    a
                    for a in candidates
                    if views[a.key].status == "active" and (views[a.key].credits or 0) >= cost
                ]
                if not payable:
                    continue
                chosen = self._least_loaded(payable, views)
                if await self.state.reserve_credits(chosen.key, cost):
                    self._turn = chosen.position + 1
                    return chosen
        raise PoolError(
            f"no account in the pool can take this {kind} job (cost {cost}): "
            "every account is out of rotation or out of credits; see pool.health()"
        )

    def _eligible(self, view: AccountView, today: str) -> bool:
        if view.status == "active":
            return True
        # An exhausted account comes back on the next day (its balance is read again).
        return view.status == "exhausted" and view.exhausted_day != today

    def _stale(self, view: AccountView, cost: int) -> bool:
        if view.status != "active" or view.credits is None:
            return True
        age = time.time() - view.credits_at
        return age > self.settings.credit_ttl or view.credits < cost

    def _least_loaded(self, payable: list[_Account], views: dict[str, AccountView]) -> _Account:
        low = min(views[a.key].load for a in payable)
        tied = [a for a in payable if views[a.key].load == low]
        count = len(self._accounts)
        return min(tied, key=lambda a: (a.position - self._turn) % count)

    async def _job_lease(self, account: _Account) -> str:
        lease = uuid.uuid4().hex
        ttl = self.settings.generation_timeout + self.settings.request_timeout * 2
        await self.state.acquire(account.key, "job", lease, 2**31, ttl)
        return lease

    # -- single jobs -----------------------------------------------------------------------

    async def submit_image(
        self,
        prompt: str,
        *,
        model: ImageModelName | str = registry.DEFAULT_IMAGE_MODEL,
        ratio: Ratio = "1:1",
        resolution: Resolution | None = None,
        negative_prompt: str = "",
        sample_strength: float = 0.5,
        seed: int | None = None,
        intelligent_ratio: bool = False,
        images: Sequence[ImageSource] | None = None,
    ) -> GenerationTask[ImageResult]:
        """Submit an image job on the best account (parameters as `JimengSession.submit_image`).

        The job counts toward its account's load while it is being submitted; use
        `generate_image` (or a batch) to count it until its result is in.
        """
        options = _image_options(locals())
        account, task, lease = await self._submit("image", options)
        await self._release(account.key, lease)
        return cast(GenerationTask[ImageResult], task)

    async def submit_video(
        self,
        prompt: str,
        *,
        model: VideoModelName | str = registry.DEFAULT_VIDEO_MODEL,
        ratio: VideoRatio = "16:9",
        resolution: VideoResolution | None = None,
        duration: Duration | None = None,
        seed: int | None = None,
        first_frame: ImageSource | None = None,
        end_frame: ImageSource | None = None,
    ) -> GenerationTask[VideoResult]:
        """Submit a video job on the best account (parameters as `JimengSession.submit_video`)."""
        options = _video_options(locals())
        account, task, lease = await self._submit("video", options)
        await self._release(account.key, lease)
        return cast(GenerationTask[VideoResult], task)

    async def generate_image(
        self,
        prompt: str,
        *,
        model: ImageModelName | str = registry.DEFAULT_IMAGE_MODEL,
        ratio: Ratio = "1:1",
        resolution: Resolution | None = None,
        negative_prompt: str = "",
        sample_strength: float = 0.5,
        seed: int | None = None,
        intelligent_ratio: bool = False,
        images: Sequence[ImageSource] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ImageResult:
        """Submit an image job on the best account and wait for its result.

        `on_progress` receives each `Progress` of the job, as `JimengSession.generate_image`.
        """
        check_progress_callback(on_progress)
        options = _image_options(locals())
        task = await self._generate("image", options, on_progress)
        return cast(ImageResult, task)

    async def generate_video(
        self,
        prompt: str,
        *,
        model: VideoModelName | str = registry.DEFAULT_VIDEO_MODEL,
        ratio: VideoRatio = "16:9",
        resolution: VideoResolution | None = None,
        duration: Duration | None = None,
        seed: int | None = None,
        first_frame: ImageSource | None = None,
        end_frame: ImageSource | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> VideoResult:
        """Submit a video job on the best account and wait for its result."""
        check_progress_callback(on_progress)
        options = _video_options(locals())
        task = await self._generate("video", options, on_progress)
        return cast(VideoResult, task)

    async def _generate(
        self, kind: Kind, options: dict[str, Any], on_progress: ProgressCallback | None
    ) -> Result:
        # The submit of `kind` made the task of that kind's result: the casts above hold.
        account, task, lease = await self._submit(kind, options)
        try:
            return await follow(task, on_progress)
        except JimengError as exc:
            await self._after_wait(account.key, exc)
            raise
        finally:
            await self._release(account.key, lease)

    async def _submit(
        self, kind: Kind, options: dict[str, Any], job: Placement | None = None
    ) -> tuple[_Account, GenerationTask[Result], str]:
        """Place and submit; returns the account, the task and the job lease to release.

        An account that leaves the rotation moves the job to another one; a credits refusal
        moves it once. Every move takes a new submit id (the refused submit charged nothing);
        a resend to the same account keeps its id, so the service answers with the same job.
        """
        self._require_open()
        job = job or Placement()
        exclude: set[str] = set()
        credit_moved = False
        account = self._by_key.get(job.account_key or "")
        while True:
            if account is None:
                account = await self._place(kind, options, exclude)
            lease = await self._job_lease(account)
            submit_id = job.submit_id() or str(uuid.uuid4())
            session = account.session
            submit: Any = session.submit_image if kind == "image" else session.submit_video
            try:
                await job.placed(account.key, account.token_masked, submit_id)
                # Shielded: once sent, the answer (the job's history id) must be recorded.
                with anyio.CancelScope(shield=job.shielded):
                    task = await submit(**options, submit_id=submit_id)
            except APIError as exc:
                await self._release(account.key, lease)
                reason = out_of_rotation_reason(exc)
                if reason is not None:
                    await self._take_out(account, reason)
                elif is_credit_error(exc) and not credit_moved:
                    credit_moved = True
                    await self._exhaust(account)
                else:
                    raise
                exclude.add(account.key)
                job.moves += 1
                account = None
                continue
            except BaseException:
                await self._release(account.key, lease)
                raise
            return account, task, lease

    async def _release(self, key: str, lease: str) -> None:
        with anyio.CancelScope(shield=True):
            await self.state.release(key, "job", lease)

    # -- batches ---------------------------------------------------------------------------

    def map_images(
        self,
        inputs: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | Journal | None = None,
        batch_id: str | None = None,
        on_task: OnTask | None = None,
    ) -> AsyncGenerator[Outcome[ImageResult], None]:
        """Run an image job per input (a prompt, or a mapping of `submit_image` options).

        Yields one `Outcome` per input as soon as it is ready. Inputs are pulled lazily and
        at most `concurrency` jobs are in flight. With `journal` (a JSONL path), a rerun
        resumes the batch without submitting again anything already submitted. Workers that
        share a Redis state and a `batch_id` split the batch between them. `on_task(index,
        task)` is awaited with each job's task once submitted or resumed (to show progress,
        save files...) before its outcome is recorded; a `JimengError` it raises becomes the
        outcome's error.
        """
        # An image batch's outcomes carry ImageResults: the cast only names that.
        return cast(
            AsyncGenerator[Outcome[ImageResult], None],
            self._map("image", inputs, concurrency, journal, batch_id, on_task),
        )

    def map_videos(
        self,
        inputs: Iterable[Any] | AsyncIterable[Any],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | Journal | None = None,
        batch_id: str | None = None,
        on_task: OnTask | None = None,
    ) -> AsyncGenerator[Outcome[VideoResult], None]:
        """Run a video job per input (a prompt, or a mapping of `submit_video` options)."""
        return cast(
            AsyncGenerator[Outcome[VideoResult], None],
            self._map("video", inputs, concurrency, journal, batch_id, on_task),
        )

    def map_jobs(
        self,
        inputs: Iterable[Mapping[str, Any]] | AsyncIterable[Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        journal: str | os.PathLike[str] | Journal | None = None,
        batch_id: str | None = None,
        on_task: OnTask | None = None,
    ) -> AsyncGenerator[Outcome, None]:
        """Run a batch of mixed kinds: each input is a mapping with `kind` ("image" or
        "video"), `prompt` and that kind's submit options; otherwise as `map_images`."""
        return self._map(None, inputs, concurrency, journal, batch_id, on_task)

    def _map(
        self,
        kind: Kind | None,
        inputs: Iterable[Any] | AsyncIterable[Any],
        concurrency: int | None,
        journal: str | os.PathLike[str] | Journal | None,
        batch_id: str | None,
        on_task: OnTask | None,
    ) -> AsyncGenerator[Outcome, None]:
        from .pool_batch import Batch  # the batch runner builds on this module

        if concurrency is None:
            concurrency = 8 * len(self._accounts)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidInputError("concurrency", "must be an integer >= 1")
        if batch_id is not None and (not isinstance(batch_id, str) or not batch_id.strip()):
            raise InvalidInputError("batch_id", "must be a non-empty string")
        if not isinstance(inputs, Iterable | AsyncIterable) or isinstance(inputs, str | bytes):
            raise InvalidInputError("inputs", "must be an iterable of prompts or option mappings")
        if on_task is not None and not callable(on_task):
            raise InvalidInputError("on_task", "must be an async callable (index, task)")
        batch = Batch(self, kind, check_journal(journal), batch_id, on_task)
        return batch.run(inputs, concurrency)


class Placement:
    """Where a job is being placed: hooks for batches (registry, journal, stable ids)."""

    def __init__(self, *, account_key: str | None = None, moves: int = 0) -> None:
        self.account_key = account_key
        self.moves = moves
        self.shielded = False

    def submit_id(self) -> str | None:
        """The submit id for the current move (None: a fresh uuid)."""
        return None

    async def placed(self, account_key: str, masked: str, submit_id: str) -> None:
        """Called before the submit is sent."""
