"""The error tree: a code, typed attributes and a next-step hint per class, the ret table, the
TimeoutError branch, the deprecated names, and the attributes set by errors from the wire."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jimeng_async as jm
from jimeng_async import errors
from jimeng_async.cli import exits
from jimeng_async.testing import Emulator, EmulatorConfig, FaultConfig

WIRE = {"endpoint": "generate", "status": 200, "request_id": "log-7", "ret": "9"}

#: (the error, its class's code, attributes it must carry) for every class in the tree.
CASES: list[tuple[Callable[[], jm.JimengError], str, dict[str, Any]]] = [
    (lambda: jm.ConfigurationError("JIMENG_X: bad"), "CONFIGURATION", {}),
    (lambda: jm.SignerRequiredError("seedance-2.0: no signer"), "SIGNER_REQUIRED", {}),
    (
        lambda: jm.InvalidInputError("ratio", "'5:4' is not allowed", allowed="1:1, 16:9"),
        "INVALID_INPUT",
        {"field": "ratio", "allowed": "1:1, 16:9"},
    ),
    (
        lambda: jm.UploadError("Apply: AccessDenied", reason="AccessDenied", request_id="rq-1"),
        "UPLOAD_FAILED",
        {"reason": "AccessDenied", "request_id": "rq-1"},
    ),
    (
        lambda: jm.InvalidSourceError("images[1]", "is empty", reason="empty"),
        "INVALID_SOURCE",
        {"field": "images[1]", "reason": "empty"},
    ),
    (lambda: jm.JimengTimeoutError("wait over", history_id="h1"), "TIMEOUT", {"history_id": "h1"}),
    (
        lambda: jm.GenerationTimeoutError("limit", history_id="h2", kind="video"),
        "GENERATION_TIMEOUT",
        {"history_id": "h2", "kind": "video"},
    ),
    (
        lambda: jm.RequestTimeoutError("no answer within 1s", context=WIRE),
        "REQUEST_TIMEOUT",
        {"endpoint": "generate", "request_id": "log-7"},
    ),
    (
        lambda: jm.TaskCancelledError("cancelled", history_id="h3"),
        "TASK_CANCELLED",
        {"history_id": "h3"},
    ),
    (
        lambda: jm.SessionClosedError("closed", history_id="h4"),
        "SESSION_CLOSED",
        {"history_id": "h4"},
    ),
    (
        lambda: jm.JobNotFoundError("unknown", history_id="h5"),
        "JOB_NOT_FOUND",
        {"history_id": "h5"},
    ),
    (
        lambda: jm.UnknownStatusError("odd status", history_id="h7", record_status=-1),
        "UNKNOWN_STATUS",
        {"history_id": "h7", "record_status": -1},
    ),
    (lambda: jm.PollingError("bug", history_id="h6"), "POLLING_ERROR", {"history_id": "h6"}),
    (lambda: jm.PoolError("no account"), "POOL_ERROR", {}),
    (
        lambda: jm.AuthError("HTTP 401", context={**WIRE, "status": 401}),
        "AUTH_FAILED",
        {"status_code": 401, "endpoint": "generate", "request_id": "log-7"},
    ),
    (
        lambda: jm.PermissionDeniedError("HTTP 403", context={**WIRE, "status": 403}),
        "PERMISSION_DENIED",
        {"status_code": 403},
    ),
    (
        lambda: errors.error_for_ret("3000", "region", WIRE),
        "REGION_NOT_ALLOWED",
        {"ret": "3000", "errmsg": "region", "status_code": 200},
    ),
    (lambda: errors.error_for_ret("1018", "", WIRE), "ACCOUNT_PUNISHED", {"ret": "1018"}),
    (lambda: errors.error_for_ret("1019", "shark", WIRE), "RISK_CONTROL", {"ret": "1019"}),
    (
        lambda: jm.RateLimitError("HTTP 429", context={**WIRE, "status": 429}, retry_after=3.0),
        "RATE_LIMIT",
        {"status_code": 429, "retry_after": 3.0},
    ),
    (
        lambda: jm.ServerError("HTTP 502", context={**WIRE, "status": 502}),
        "SERVER_ERROR",
        {"status_code": 502},
    ),
    (lambda: jm.NetworkError("ConnectError", context=WIRE), "NETWORK_ERROR", {}),
    (
        lambda: errors.error_for_ret("5000", "no credit", WIRE),
        "INSUFFICIENT_CREDITS",
        {"ret": "5000", "errmsg": "no credit"},
    ),
    (lambda: errors.error_for_ret("4001", "", WIRE), "CONTENT_FILTERED", {"ret": "4001"}),
    (lambda: errors.error_for_ret("4002", "", WIRE), "INVALID_REQUEST", {"ret": "4002"}),
    (lambda: errors.error_for_ret("2004", "", WIRE), "SERVICE_BUSY", {"ret": "2004"}),
    (lambda: jm.MalformedResponseError("not JSON", context=WIRE), "MALFORMED_RESPONSE", {}),
    (
        lambda: jm.ResponseFieldError("lacks x", context={**WIRE, "field": "x"}),
        "RESPONSE_FIELD",
        {"field": "x"},
    ),
    (
        lambda: errors.generation_failure("2039", "h7", "timed out"),
        "GENERATION_FAILED",
        {"history_id": "h7", "fail_code": "2039"},
    ),
    (
        lambda: errors.generation_failure("2038", "h8", None),
        "GENERATION_FILTERED",
        {"history_id": "h8", "fail_code": "2038"},
    ),
    (
        lambda: errors.error_for_ret("2003", "risk not pass", WIRE),
        "API_ERROR",
        {"ret": "2003", "errmsg": "risk not pass", "request_id": "log-7"},
    ),
]


def _ids() -> list[str]:
    return [type(make()).__name__ for make, _code, _attrs in CASES]


@pytest.mark.parametrize(("make", "code", "attributes"), CASES, ids=_ids())
def test_each_class_has_its_code_attributes_and_next_step(
    make: Callable[[], jm.JimengError], code: str, attributes: dict[str, Any]
) -> None:
    error = make()
    assert error.code == code == type(error).code
    for name, value in attributes.items():
        assert getattr(error, name) == value, name
    hint = type(error).hint
    assert hint.endswith(".")
    assert hint[0].isupper()
    assert hint != jm.JimengError.hint  # each class says its own next step
    assert error.hint == hint or error.ret in {"1019", "3018"}
    assert str(error).endswith(error.hint)
    assert str(error).startswith(error.message) or str(error).startswith(f"[{code}]")


def test_every_class_is_covered_and_codes_are_distinct() -> None:
    covered = {type(make()) for make, _code, _attrs in CASES}
    tree = {
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, jm.JimengError)
    }
    # The bases are covered through their leaves: JimengError and APIError are never raised bare.
    assert tree - covered == {jm.JimengError, jm.APIError}
    codes = [cls.code for cls in covered]
    assert len(codes) == len(set(codes))


def test_api_errors_read_code_message_endpoint_then_the_next_step() -> None:
    error = errors.error_for_ret("1015", "login expired", WIRE)
    assert type(error) is jm.AuthError
    assert str(error) == (
        "[AUTH_FAILED] ret 1015: login expired (generate). Copy a fresh `sessionid` cookie from "
        "the browser (JIMENG_TOKEN) and check its region prefix (us-, hk-, jp-, sg-; none for cn)."
    )
    outdated = errors.error_for_ret("3018", "permission denied", WIRE)
    assert str(outdated).endswith("or JIMENG_APP_VERSION (and da_version / DEFAULT_DA_VERSION).")


def test_the_ret_table() -> None:
    table = {
        jm.AuthError: ("1015", "1001", "1002"),
        jm.PermissionDeniedError: ("1004", "3018"),
        jm.RegionNotAllowedError: ("3000",),
        jm.AccountPunishedError: ("1018",),
        jm.RiskControlError: ("1019", "4013", "-4"),
        jm.InsufficientCreditsError: ("5000", "1006"),
        jm.ContentFilteredError: ("4001", "2038"),
        jm.InvalidRequestError: ("4002", "2002", "1000"),
        jm.ServiceBusyError: ("2004", "1014", "5001"),
        jm.UnknownAPIError: ("2003", "777", "-1"),
    }
    for cls, rets in table.items():
        for ret in rets:
            error = errors.error_for_ret(ret, "why", WIRE)
            assert type(error) is cls, ret
            assert (error.ret, error.errmsg, error.request_id) == (ret, "why", "log-7")
            assert error.retryable is (cls is jm.ServiceBusyError)


@given(ret=st.text(min_size=1, max_size=12), errmsg=st.text(max_size=80))
def test_any_ret_gives_a_typed_error_that_ends_with_its_next_step(ret: str, errmsg: str) -> None:
    error = errors.error_for_ret(ret, errmsg, WIRE)
    assert isinstance(error, jm.APIError)
    assert error.ret == ret
    assert error.request_id == "log-7"
    assert str(error).endswith(error.hint)
    assert str(error).startswith(f"[{error.code}] ret ")


@given(fail_code=st.one_of(st.integers(), st.text(max_size=8)), message=st.text(max_size=40))
def test_any_fail_code_gives_a_generation_failure(fail_code: Any, message: str) -> None:
    error = errors.generation_failure(fail_code, "h9", message or None)
    assert isinstance(error, jm.GenerationFailedError)
    assert (error.fail_code, error.history_id) == (str(fail_code), "h9")
    assert str(error).endswith(error.hint)


def test_generation_failures_by_fail_code() -> None:
    for fail_code in ("2038", "2043", "2047", "4011"):
        filtered = errors.generation_failure(fail_code, "h", None)
        assert type(filtered) is jm.GenerationFilteredError
        assert isinstance(filtered, jm.ContentFilteredError)
        assert isinstance(filtered, jm.GenerationFailedError)
    failed = errors.generation_failure("2040", "h", "busy")
    assert type(failed) is jm.GenerationFailedError
    assert "not enough resources" in str(failed)


def test_deprecated_names_still_catch() -> None:
    assert jm.JimengAPIError is jm.APIError
    for error in (
        jm.AuthError("x"),
        jm.NetworkError("x"),
        jm.RequestTimeoutError("x"),
        errors.error_for_ret("5000", "", {}),
        errors.error_for_ret("2003", "", {}),
        errors.generation_failure("2039", "h", None),
    ):
        with pytest.raises(jm.JimengAPIError):
            raise error
    # What `except APIError` caught in the first release (the leaf) it still catches.
    for ret in ("5000", "4001", "4002", "2004", "2003"):
        with pytest.raises(jm.APIError):
            raise errors.error_for_ret(ret, "", {})


def test_time_outs_are_timeout_errors_and_keep_their_family() -> None:
    request = jm.RequestTimeoutError("no answer")
    assert isinstance(request, TimeoutError)
    assert isinstance(request, jm.NetworkError)
    assert request.retryable
    assert isinstance(jm.GenerationTimeoutError("x", history_id="h", kind="image"), TimeoutError)
    assert not isinstance(jm.GenerationTimeoutError("x", history_id="h", kind="i"), jm.APIError)


def test_context_is_a_read_only_view_of_the_attributes() -> None:
    error = jm.NetworkError("lost", context={**WIRE, "attempt": 2})
    error.submit_id = "s-1"
    assert error.context["submit_id"] == "s-1"
    assert error.context["status"] == 200
    assert error.context["attempt"] == 2  # extra detail stays
    with pytest.raises(TypeError):
        error.context["ret"] = "0"  # type: ignore[index]


def test_errors_pickle_with_their_attributes() -> None:
    for make, code, attributes in CASES:
        error = make()
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 (our own bytes)
        assert type(copy) is type(error)
        assert (copy.code, str(copy)) == (code, str(error))
        for name, value in attributes.items():
            assert getattr(copy, name) == value


def test_secrets_never_reach_the_message() -> None:
    secret = "Cookie: sessionid=0123456789abcdef0123456789abcdef"
    error = errors.error_for_ret("1015", secret, WIRE)
    for text in (str(error), repr(error), error.errmsg or "", repr(dict(error.context))):
        assert "0123456789abcdef" not in text


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (jm.RequestTimeoutError("x"), exits.NETWORK),
        (jm.JimengTimeoutError("x"), exits.TIMEOUT),
        (jm.GenerationTimeoutError("x", history_id="h", kind="image"), exits.TIMEOUT),
        (jm.UnknownAPIError("x"), exits.GENERATION_FAILED),
        (jm.RegionNotAllowedError("x"), exits.AUTH),
        (jm.SignerRequiredError("x"), exits.USAGE),
        (jm.InvalidSourceError("images", "empty"), exits.USAGE),
        (jm.SessionClosedError("x"), exits.GENERATION_FAILED),
    ],
)
def test_exit_codes_of_the_new_classes(error: jm.JimengError, code: int) -> None:
    assert exits.exit_code_for(error) == code


# --- from the wire ----------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("ret", "cls"),
    [
        ("5000", jm.InsufficientCreditsError),
        ("3018", jm.PermissionDeniedError),
        ("3000", jm.RegionNotAllowedError),
        ("1018", jm.AccountPunishedError),
        ("4002", jm.InvalidRequestError),
        ("2003", jm.UnknownAPIError),
    ],
)
async def test_wire_refusals_carry_ret_status_endpoint_and_request_id(
    jimeng_emulator: Emulator, jimeng_token: str, ret: str, cls: type[jm.APIError]
) -> None:
    jimeng_emulator.faults = FaultConfig(ret_codes={"user_credit": (ret,)})
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(cls) as info:
            await s.credits(refresh=True)
    error = info.value
    assert type(error) is cls
    assert (error.ret, error.status_code, error.endpoint) == (ret, 200, "user_credit")
    assert error.request_id  # the x-tt-logid to quote
    assert str(error).endswith(cls.hint) or ret == "3018"


@pytest.mark.anyio
async def test_an_expired_token_says_how_to_get_a_fresh_one(jimeng_emulator: Emulator) -> None:
    token = jimeng_emulator.add_account(region="us", expired=True)
    async with jm.JimengSession(token, settings=jimeng_emulator.settings()) as s:
        with pytest.raises(jm.AuthError) as info:
            await s.account_info()
    error = info.value
    assert (error.ret, error.status_code, error.endpoint) == ("1015", 200, "account_info")
    assert error.request_id
    assert "fresh `sessionid` cookie" in str(error)
    assert "region prefix" in str(error)
    assert token not in str(error)
    assert token not in repr(error)


@pytest.mark.anyio
async def test_http_errors_carry_their_status(jimeng_emulator: Emulator, jimeng_token: str) -> None:
    settings = jimeng_emulator.settings(max_retries=0)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        jimeng_emulator.faults = FaultConfig(error_rate=1.0, endpoints={"user_credit"})
        with pytest.raises(jm.ServerError) as server:
            await s.credits(refresh=True)
        jimeng_emulator.faults = FaultConfig(
            rate_limit_rate=1.0, retry_after=2.0, endpoints={"user_credit"}
        )
        with pytest.raises(jm.RateLimitError) as limited:
            await s.credits(refresh=True)
    assert server.value.status_code in (500, 502, 503)
    assert server.value.endpoint == "user_credit"
    assert (limited.value.status_code, limited.value.retry_after) == (429, 2.0)


@pytest.mark.anyio
async def test_a_failed_submit_names_its_submit_id(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    jimeng_emulator.faults = FaultConfig(drop_rate=1.0, endpoints={"generate"})
    settings = jimeng_emulator.settings(retry_base_delay=0.001, max_retries=0)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        with pytest.raises(jm.NetworkError) as info:
            await s.submit_image("answer lost")
    assert info.value.submit_id
    assert info.value.context["submit_id"] == info.value.submit_id
    assert info.value.endpoint == "generate"
    assert str(info.value).endswith(
        "The job may exist: submit again with submit_id=exc.submit_id and it is charged once."
    )


@pytest.mark.anyio
async def test_except_timeout_error_catches_request_and_generation_time_outs(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    caught: list[TimeoutError] = []
    slow = FaultConfig(slow_rate=1.0, slow_seconds=1.0, endpoints={"user_credit"})
    jimeng_emulator.faults = slow
    settings = jimeng_emulator.settings(request_timeout=0.05, max_retries=0)
    async with jm.JimengSession(jimeng_token, settings=settings) as s:
        try:
            await s.credits(refresh=True)
        except TimeoutError as exc:
            caught.append(exc)
    jimeng_emulator.faults = None
    short = jimeng_emulator.settings(generation_timeout=0.01)
    async with jm.JimengSession(jimeng_token, settings=short) as s:
        task = await s.submit_image("slow one")
        try:
            await task
        except TimeoutError as exc:
            caught.append(exc)
    request, generation = caught
    assert type(request) is jm.RequestTimeoutError
    assert (request.code, request.endpoint) == ("REQUEST_TIMEOUT", "user_credit")
    assert type(generation) is jm.GenerationTimeoutError
    assert generation.history_id == task.history_id
    assert "session.resume(exc.history_id, kind=exc.kind)" in str(generation)


@pytest.mark.anyio
async def test_a_bounded_wait_raises_a_timeout_naming_the_job(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    async with jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings()) as s:
        task = await s.submit_image("take your time")
        with pytest.raises(TimeoutError) as info:
            await task.wait(timeout=0)
        assert not task.done()  # the job goes on
        with anyio.fail_after(30):
            result = await task
    error = info.value
    assert type(error) is jm.JimengTimeoutError
    assert (error.code, error.history_id) == ("TIMEOUT", task.history_id)
    assert str(error).endswith(jm.JimengTimeoutError.hint)
    assert isinstance(result, jm.ImageResult)
    assert len(result.images) == 4


@pytest.mark.anyio
async def test_a_closed_session_says_to_open_a_new_one(
    jimeng_emulator: Emulator, jimeng_token: str
) -> None:
    s = jm.JimengSession(jimeng_token, settings=jimeng_emulator.settings())
    await s.aclose()
    with pytest.raises(jm.SessionClosedError) as info:
        await s.credits()
    assert info.value.code == "SESSION_CLOSED"
    assert str(info.value).endswith(jm.SessionClosedError.hint)


@pytest.mark.anyio
async def test_a_download_read_time_out_is_a_request_time_out(tmp_path: Path) -> None:
    # The CDN pauses 0.5 s between 32-byte chunks; httpx's read bound is 0.05 s.
    config = EmulatorConfig(cdn_chunk_bytes=32, cdn_chunk_delay=0.5)
    async with Emulator(time_scale=0.01, seed=3, config=config) as emu:
        token = emu.add_account(credits=10)
        settings = emu.settings(read_timeout=0.05, stall_timeout=30, max_retries=0)
        async with jm.JimengSession(token, settings=settings) as s:
            result = await s.generate_image("slow link", resolution="1k")
            with pytest.raises(TimeoutError) as info:
                await result.save(tmp_path)
    error = info.value
    assert type(error) is jm.RequestTimeoutError
    assert error.endpoint == "download"
    assert error.retryable
