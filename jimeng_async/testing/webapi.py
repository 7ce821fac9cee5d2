"""The web API endpoints (PROTOCOL.md §2, §3, §5, §6, §7), as strict and as tolerant as the service.

Every call is checked in the order the service's gateway would: session cookie (ret 1015 /
1004), signing headers (Sign against the Appvr actually sent, Device-Time skew, aid of the
region), the optional minimum app version (ret 3018), the rest of the Cookie, query parameters,
then the JSON body (ret 4002). Handlers answer the envelope
`{"ret": "0", "errmsg": "success", "data": ...}`. The gateway uses the emulator's own Sign,
cookie reading and tables (never the client's).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .cdn import ResultSigner
from .drafts_check import Context, DraftError, check_generate
from .imagex_service import ImageXService
from .signing import expected_sign, parse_version, read_cookie
from .state import Account, EmulatorState, InsufficientCreditsError, Record
from .stats import WEB_ENDPOINTS
from .tables import GUARD_PARAMS, Region

DEFAULT_PARAM_NAMES = (
    "aid",
    "device_platform",
    "region",
    "webId",
    "da_version",
    "web_component_open_flag",
    "web_version",
    "aigc_features",
)
PLATFORM_CODE = "7"
SIGN_VERSION = "1"
_COOKIE_FIELDS = ("sid_tt", "sessionid_ss", "sid_guard")
FAIL_MESSAGES = {
    "2038": "content filtered by moderation",
    "2039": "generation timed out",
    "2040": "not enough resources",
    "2043": "content filtered by moderation",
    "2047": "content filtered by moderation",
    "4011": "a face was found in the input material",
}
RISKY_REFUSAL = ("2003", "risk not pass")

Handler = Callable[[Account, dict[str, Any], Mapping[str, str]], dict[str, Any]]


class Refusal(Exception):
    """An error envelope to answer with (HTTP 200, ret != "0")."""

    def __init__(self, ret: str, errmsg: str) -> None:
        self.ret = ret
        self.errmsg = errmsg
        super().__init__(f"{ret} {errmsg}")


def _ok(data: Mapping[str, Any]) -> Response:
    return JSONResponse({"ret": "0", "errmsg": "success", "data": data})


def _refused(refusal: Refusal) -> Response:
    return JSONResponse({"ret": refusal.ret, "errmsg": refusal.errmsg, "data": None})


def is_commerce(endpoint: str) -> bool:
    """The two /commerce/ calls, which clients send without the default params."""
    return endpoint in ("user_credit", "credit_receive")


class WebAPI:
    """Routes and handlers of the web API, over the emulator's state and ImageX service."""

    def __init__(
        self,
        *,
        state: EmulatorState,
        imagex: ImageXService,
        signer: ResultSigner,
        rng: random.Random,
    ) -> None:
        self._state = state
        self._imagex = imagex
        self._signer = signer
        self._rng = rng
        self._handlers: dict[str, Handler] = {
            "account_info": self._account_info,
            "user_credit": self._user_credit,
            "credit_receive": self._credit_receive,
            "get_upload_token": self._upload_token,
            "generate": self._generate,
            "get_history_by_ids": self._history,
            "algo_proxy": self._algo_proxy,
            "get_local_item_list": self._local_items,
        }

    def routes(self) -> list[Route]:
        return [
            Route(path, self._endpoint(name), methods=["POST"])
            for path, name in WEB_ENDPOINTS.items()
        ]

    def _endpoint(self, name: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, name)

        return endpoint

    async def _serve(self, request: Request, name: str) -> Response:
        try:
            account = self._authenticate(request, name)
        except Refusal as refusal:
            await self._read(request, name)
            return _refused(refusal)
        # Everything from reading the request to answering counts as in flight.
        with self._state.stats.in_flight(account.token, "query"):
            raw = await self._read(request, name)
            low, high = self._state.config.web_latency
            await anyio.sleep(self._state.scaled(self._rng.uniform(low, high)))
            try:
                body = self._parse_body(raw, name)
                data = self._handlers[name](account, body, request.query_params)
            except Refusal as refusal:
                return _refused(refusal)
        response = _ok(data)
        # Like the service, answers set cookies: a client that kept a shared cookie jar would
        # send one account's session along with another account's requests.
        response.set_cookie("sessionid_ss", account.session_id, path="/", httponly=True)
        response.set_cookie("passport_csrf_token", f"{self._rng.getrandbits(64):016x}", path="/")
        return response

    async def _read(self, request: Request, name: str) -> bytes:
        """The request body; a generate request counts in stats.submits once read."""
        raw = await request.body()
        if name == "generate":
            self._count_submit(raw)
        return raw

    def _count_submit(self, raw: bytes) -> None:
        try:
            submit_id = json.loads(raw).get("submit_id")
        except (ValueError, AttributeError):
            return
        if isinstance(submit_id, str) and submit_id:
            self._state.stats.submits[submit_id] += 1

    # --- gateway checks ----------------------------------------------------------------

    def _authenticate(self, request: Request, name: str) -> Account:
        cookie = read_cookie(request.headers.get("cookie", ""))
        session_id = cookie.get("sessionid", "")
        account = self._state.account_for_session(session_id) if session_id else None
        if account is None or account.expired:
            raise Refusal("1015", "login expired")
        if account.banned:
            raise Refusal("1004", "account banned")
        profile = account.profile
        self._check_headers(request, profile)
        self._check_cookie(cookie, session_id, profile)
        self._check_params(request, name, profile)
        return account

    def _check_headers(self, request: Request, profile: Region) -> None:
        headers = request.headers
        for header, expected in (
            ("Sign-Ver", SIGN_VERSION),
            ("Pf", PLATFORM_CODE),
            ("Appid", str(profile.aid)),
        ):
            if headers.get(header) != expected:
                raise Refusal("4002", f"invalid header {header}")
        app_version = headers.get("Appvr", "")
        version = parse_version(app_version)
        if version is None:
            raise Refusal("4002", "invalid header Appvr: must be a version such as 8.4.0")
        device_time = headers.get("Device-Time", "")
        if not device_time.isdigit():
            raise Refusal("4002", "invalid header Device-Time")
        if abs(time.time() - int(device_time)) > self._state.config.max_clock_skew:
            raise Refusal("4002", "invalid header Device-Time: clock skew too large")
        sign = expected_sign(request.url.path, PLATFORM_CODE, app_version, device_time)
        if headers.get("Sign") != sign:
            raise Refusal("4002", "invalid header Sign")
        minimum = self._state.config.min_app_version
        floor = parse_version(minimum) if minimum is not None else None
        if floor is not None and version < floor:
            raise Refusal(
                "3018",
                f"permission denied: app version {app_version} is outdated "
                f"(the service requires Appvr {minimum} or newer)",
            )

    @staticmethod
    def _check_cookie(cookie: Mapping[str, str], session_id: str, profile: Region) -> None:
        for name in _COOKIE_FIELDS:
            if not cookie.get(name):
                raise Refusal("4002", f"cookie field {name} is missing")
        if cookie["sid_tt"] != session_id or cookie["sessionid_ss"] != session_id:
            raise Refusal("4002", "cookie fields sid_tt and sessionid_ss must match sessionid")
        if not cookie["sid_guard"].startswith(f"{session_id}%7C"):
            raise Refusal("4002", "cookie field sid_guard does not belong to the session")
        # Newer clients omit the store-region pair; when sent, it must be the account's.
        if "store-region" in cookie and cookie["store-region"] != profile.store_region:
            raise Refusal("4002", "cookie field store-region does not match the account region")

    @staticmethod
    def _check_params(request: Request, name: str, profile: Region) -> None:
        params = request.query_params
        if is_commerce(name) and not any(p in params for p in DEFAULT_PARAM_NAMES):
            return  # how clients send them; with the default params they are checked as usual
        required = [p for p in DEFAULT_PARAM_NAMES if p != "webId" or profile.name == "cn"]
        for param in required:
            if not params.get(param):
                raise Refusal("4002", f"missing query parameter {param}")
        if params["aid"] != str(profile.aid):
            raise Refusal("4002", "query parameter aid does not match the account region")
        if params["region"] != profile.region_param:
            raise Refusal("4002", "query parameter region does not match the account region")
        if params["web_component_open_flag"] != "1":
            raise Refusal("4002", "query parameter web_component_open_flag must be 1")
        if profile.name == "cn" and not params["webId"].isdigit():
            raise Refusal("4002", "query parameter webId must be numeric")
        if profile.name != "cn" and "webId" in params:
            raise Refusal("4002", "query parameter webId is only sent to the cn site")
        if name == "account_info" and params.get("account_sdk_source") != "web":
            raise Refusal("4002", "missing query parameter account_sdk_source=web")

    @staticmethod
    def _parse_body(raw: bytes, name: str) -> dict[str, Any]:
        if not raw.strip() and name == "account_info":
            return {}  # the web app posts account info with an empty body
        try:
            body = json.loads(raw)
        except ValueError:
            raise Refusal("4002", "the body must be JSON") from None
        if not isinstance(body, dict):
            raise Refusal("4002", "the body must be a JSON object")
        return body

    # --- account and credits -----------------------------------------------------------

    def _account_info(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        return {
            "user_id": account.user_id,
            "sec_user_id": f"MS4wLjABAAAA{account.user_id:x}",
            "user_info": {
                "nickname": f"user{account.user_id % 1_000_000}",
                "avatar_url": "",
                "region": account.profile.region_param,
            },
            "account_status": {
                "status": "active",
                "is_vip": account.vip,
                "vip_level": 1 if account.vip else 0,
                "is_banned": account.banned,
            },
            "permission_info": {
                "can_generate_image": True,
                "can_generate_video": True,
                "daily_limit": self._state.config.daily_receive_quota,
                "used_today": self._state.used_today(account),
            },
        }

    def _user_credit(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        status = {"can_receive_daily": self._state.can_receive_daily(account)}
        if account.credits_in_detail:  # 2026 accounts: the balance moved to credits_detail
            pots = {
                "gift_credits": account.gift_credit,
                "purchase_credits": account.purchase_credit,
                "vip_credits": account.vip_credit,
            }
            return {
                "credit": {"gift_credit": 0, "purchase_credit": 0, "vip_credit": 0},
                "credits_detail": {
                    **{key: [{"residual_credits": amount}] for key, amount in pots.items()},
                    "total_credits": account.total_credit,
                },
                "benefit_status": status,
            }
        return {
            "credit": {
                "gift_credit": account.gift_credit,
                "purchase_credit": account.purchase_credit,
                "vip_credit": account.vip_credit,
                "total_credit": account.total_credit,
            },
            "benefit_status": status,
        }

    def _credit_receive(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        zone = body.get("time_zone")
        if not isinstance(zone, str) or not zone.strip():
            raise Refusal("4002", "time_zone must be an IANA time zone name")
        granted = self._state.receive_daily(account)
        answer: dict[str, Any] = {
            "receive_quota": granted,
            "is_first_receive": granted > 0 and account.received_total == 1,
            "has_popup": granted > 0,
            "receive_inter_days": 1,
        }
        if not account.credits_in_detail:  # older answers also carried the new total
            answer["cur_total_credits"] = account.total_credit
        return answer

    def _upload_token(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        scene = body.get("scene")
        if scene != 2 or isinstance(scene, bool):
            raise Refusal("4002", "scene must be 2")
        return self._imagex.issue_credentials(account.token, account.profile)

    # --- generation --------------------------------------------------------------------

    def _generate(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        context = Context(
            region=account.profile,
            committed=lambda uri: self._imagex.committed_image(account.token, uri),
            guard_passed=all(query.get(name) for name in GUARD_PARAMS),
        )
        try:
            request = check_generate(body, context)
        except DraftError as error:
            raise Refusal(error.ret, str(error)) from None
        risky = [uri for uri in request.spec.image_uris if self._imagex.is_risky(uri)]
        if risky:
            raise Refusal(*RISKY_REFUSAL)
        try:
            record, _ = self._state.submit(account, request.submit_id, request.spec)
        except InsufficientCreditsError:
            raise Refusal("5000", "not enough credits") from None
        status = record.view(self._state.now()).status
        return {
            "aigc_data": {
                "history_record_id": record.id,
                "task": {"task_id": record.id, "submit_id": record.submit_id, "status": status},
                "submit_id": record.submit_id,
            }
        }

    def _history(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        key = "history_ids" if "history_ids" in body else "submit_ids"
        ids = body.get(key)
        limit = self._state.config.history_batch_max
        if not isinstance(ids, list) or not ids:
            raise Refusal("2002", f"{key} must be a non-empty list of ids")
        if not all(isinstance(i, str) and i for i in ids):
            raise Refusal("2002", f"{key} must hold non-empty strings")
        if len(ids) > limit:
            raise Refusal("2002", f"{key} holds {len(ids)} ids, at most {limit} are allowed")
        if "image_info" in body and not isinstance(body["image_info"], dict):
            raise Refusal("2002", "image_info must be an object")
        self._state.stats.history_batch_sizes.append(len(ids))
        now = self._state.now()
        found: dict[str, Any] = {}
        for wanted in ids:
            if key == "history_ids":
                record = self._state.records.get(wanted)
            else:
                record = self._state.find_submit(account, wanted)
            if record is not None and record.token == account.token:
                found[wanted] = self.record_json(record, now)
        return found

    def record_json(self, record: Record, now: float) -> dict[str, Any]:
        """A record as get_history_by_ids shows it at clock time `now`."""
        view = record.view(now)
        fail_code: int | str = int(view.fail_code) if record.numeric_fail_code else view.fail_code
        out: dict[str, Any] = {
            "history_record_id": record.id,
            "id": record.id,
            "submit_id": record.submit_id,
            "status": view.status,
            "fail_code": fail_code,
            "fail_msg": FAIL_MESSAGES.get(view.fail_code, "generation failed")
            if view.fail_code != "0"
            else "",
            "generate_type": record.spec.generate_type,
            "item_list": [self._item(record, index) for index in range(view.items)],
            "task": {
                "task_id": record.id,
                "submit_id": record.submit_id,
                "status": view.status,
                "create_time": int(record.created_wall),
                "finish_time": int(view.finish_wall),
            },
        }
        if view.queued:
            place, length = self._state.queue_position(record, now)
            out["queue_info"] = {"queue_idx": place, "queue_length": length}
            out["forecast_cost_time"] = {
                "forecast_queue_cost": round(view.queue_remaining, 3),
                "forecast_generate_cost": round(view.generate_cost, 3),
            }
        return out

    def _item(self, record: Record, index: int, *, high_quality: bool = False) -> dict[str, Any]:
        spec = record.spec
        item_id = record.item_ids[index]
        ids = {"item_id": item_id, "id": item_id, "local_item_id": item_id}
        if spec.kind == "video":
            name = f"{index}.hq.mp4" if high_quality else f"{index}.mp4"
            video_url = self._signer.url(record.id, name)
            cover_url = self._signer.url(record.id, "cover.png")
            origin = {
                "video_url": video_url,
                "width": spec.width,
                "height": spec.height,
                "duration": spec.duration_ms / 1000,
                "format": "mp4",
            }
            return {
                **ids,
                "common_attr": {
                    "id": item_id,
                    "cover_url": cover_url,
                    "transcoded_video": {"origin": dict(origin)},
                },
                "video": {
                    "transcoded_video": {"origin": origin},
                    "play_url": video_url,
                    "thumbnail_url": cover_url,
                },
            }
        image_url = self._signer.url(record.id, f"{index}.png")
        return {
            **ids,
            "common_attr": {"id": item_id, "cover_url": image_url},
            "image": {
                "large_images": [
                    {
                        "image_url": image_url,
                        "width": spec.width,
                        "height": spec.height,
                        "format": "png",
                    }
                ]
            },
        }

    # --- optional calls (PROTOCOL.md §7) -------------------------------------------------

    def _algo_proxy(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        """The content check of uploaded images: risky ones answer ret 2003 "risk not pass"."""
        if account.profile.international:
            raise Refusal("4002", "algo_proxy is only served on the cn site")
        if not query.get("babi_param"):
            raise Refusal("4002", "missing query parameter babi_param")
        for key in ("scene", "req_key"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise Refusal("2002", f"{key} must be a non-empty string")
        files = body.get("file_list")
        if not isinstance(files, list) or not files:
            raise Refusal("2002", "file_list must be a non-empty list of {file_uri}")
        uris: list[str] = []
        for index, entry in enumerate(files):
            uri = entry.get("file_uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or not uri:
                raise Refusal("2002", f"file_list[{index}].file_uri must be a non-empty string")
            if self._imagex.committed_image(account.token, uri) is None:
                raise Refusal("2002", f"file_list[{index}].file_uri is not an image you uploaded")
            uris.append(uri)
        if any(self._imagex.is_risky(uri) for uri in uris):
            raise Refusal(*RISKY_REFUSAL)
        return {"result": [{"file_uri": uri, "pass": True} for uri in uris]}

    def _local_items(
        self, account: Account, body: dict[str, Any], query: Mapping[str, str]
    ) -> dict[str, Any]:
        """Items by id, with a high-quality video URL (`.hq.mp4`) for finished video items."""
        ids = body.get("item_id_list")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise Refusal("2002", "item_id_list must be a non-empty list of item ids")
        now = self._state.now()
        items: list[dict[str, Any]] = []
        for wanted in ids:
            found = self._state.find_item(account, wanted)
            if found is None:
                continue  # like history: an unknown id is simply absent
            record, index = found
            if index < record.view(now).items:
                items.append(self._item(record, index, high_quality=record.spec.kind == "video"))
        return {"item_list": items}
