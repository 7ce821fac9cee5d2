"""The emulated service's memory: accounts, credits, generation records and their timelines.

Records keep no background work: a record's status, items and queue position are computed from
the emulator clock whenever they are read. The clock is `time.monotonic` plus an offset that
`advance()` moves, so tests can skip ahead without sleeping (`freeze()` also stops real time).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from .config import EmulatorConfig
from .drafts_check import JobSpec
from .signing import token_region
from .stats import EmulatorStats
from .tables import REGION_NAMES, REGIONS, Region, RegionName

# Record statuses (PROTOCOL.md §6).
QUEUED_OR_PROCESSING = 20
POST_PROCESSING = 42
FINALISING = 45
COMPLETED = 50
FAILED = 30

BLOCKED_FAIL_CODE = "2038"


def region_name(region: str) -> RegionName:
    """`region` checked against the known regions (ValueError otherwise)."""
    for name in REGION_NAMES:
        if name == region:
            return name
    raise ValueError(f"unknown region {region!r}; allowed: {', '.join(REGION_NAMES)}")


class InsufficientCreditsError(Exception):
    """The account cannot pay for the job; nothing was charged."""


@dataclass
class Account:
    """One emulated account, known by its refresh token."""

    token: str
    region: RegionName
    session_id: str
    user_id: int
    gift_credit: int = 0
    purchase_credit: int = 0
    vip_credit: int = 0
    vip: bool = False
    expired: bool = False
    banned: bool = False
    received_day: int | None = None
    jobs_day: int = 0
    jobs_today: int = 0
    credits_in_detail: bool = False  # 2026 accounts: balance in credits_detail, credit.* at 0
    received_total: int = 0  # how many daily receipts so far (for is_first_receive)

    @property
    def profile(self) -> Region:
        return REGIONS[self.region]

    @property
    def total_credit(self) -> int:
        return self.gift_credit + self.purchase_credit + self.vip_credit

    def charge(self, amount: int) -> None:
        """Take `amount` credits, gift credits first, then VIP, then purchased."""
        if amount > self.total_credit:
            raise InsufficientCreditsError
        for pot in ("gift_credit", "vip_credit", "purchase_credit"):
            taken = min(amount, getattr(self, pot))
            setattr(self, pot, getattr(self, pot) - taken)
            amount -= taken


@dataclass(frozen=True)
class Phases:
    """When each phase of a record ends, in (scaled) seconds after its creation."""

    queue_end: float
    processing_end: float
    post_end: float
    finish: float


@dataclass(frozen=True)
class RecordView:
    """A record as seen at one instant."""

    status: int
    fail_code: str
    items: int
    queued: bool
    queue_remaining: float
    generate_cost: float
    finish_wall: float


@dataclass
class Record:
    """One generation job."""

    id: str
    token: str
    submit_id: str
    spec: JobSpec
    created_at: float
    created_wall: float
    phases: Phases
    item_ids: tuple[str, ...]
    fail_code: str | None = None
    fail_at: float = 0.0
    numeric_fail_code: bool = False  # the service sends fail_code as a number or a string
    forced_status: int | None = None  # a status the service may add one day (set_record_status)

    @property
    def item_count(self) -> int:
        return len(self.item_ids)

    def view(self, now: float) -> RecordView:
        """Status, items present and queue facts at clock time `now`."""
        t = now - self.created_at
        p = self.phases
        generate_cost = p.finish - p.queue_end
        if self.forced_status is not None:
            return RecordView(self.forced_status, "0", 0, False, 0.0, 0.0, 0.0)
        if self.fail_code is not None and t >= self.fail_at:
            return RecordView(
                FAILED, self.fail_code, 0, False, 0.0, 0.0, self.created_wall + self.fail_at
            )
        if t < p.queue_end:
            return RecordView(
                QUEUED_OR_PROCESSING, "0", 0, True, p.queue_end - t, generate_cost, 0.0
            )
        if t >= p.finish:
            return RecordView(
                COMPLETED, "0", self.item_count, False, 0.0, 0.0, self.created_wall + p.finish
            )
        items = self._items_at(t)
        if t < p.processing_end:
            status = QUEUED_OR_PROCESSING
        elif t < p.post_end:
            status = POST_PROCESSING
        else:
            status = FINALISING
        return RecordView(status, "0", items, False, 0.0, p.finish - t, 0.0)

    def _items_at(self, t: float) -> int:
        """Image items appear one at a time over the processing phase; a video at the end."""
        if self.spec.kind == "video" or self.fail_code is not None:
            return 0
        p = self.phases
        span = p.processing_end - p.queue_end
        n = self.item_count
        return sum(1 for i in range(n) if t >= p.queue_end + span * (i + 1) / n)


@dataclass
class _Submitted:
    created_at: float
    fingerprint: tuple[object, ...]


@dataclass
class EmulatorState:
    """Accounts and records of one emulator; every method runs on the event loop, no awaits."""

    config: EmulatorConfig
    time_scale: float
    rng: random.Random
    stats: EmulatorStats
    accounts: dict[str, Account] = field(default_factory=dict)
    records: dict[str, Record] = field(default_factory=dict)
    _by_session: dict[str, Account] = field(default_factory=dict)
    _by_submit: dict[tuple[str, str], Record] = field(default_factory=dict)
    _by_item: dict[str, tuple[Record, int]] = field(default_factory=dict)
    _recent: dict[str, list[_Submitted]] = field(default_factory=dict)
    _offset: float = 0.0
    _frozen: tuple[float, float] | None = None
    _day_offset: int = 0
    _started: float = field(default_factory=time.monotonic)
    _next_id: int = 0

    def __post_init__(self) -> None:
        self._next_id = self.rng.randrange(7_000_000_000_000, 8_000_000_000_000)

    # --- clock -------------------------------------------------------------------------

    def now(self) -> float:
        """Emulator clock (monotonic seconds, moved by `advance`)."""
        if self._frozen is not None:
            return self._frozen[0] + self._offset
        return time.monotonic() + self._offset

    def wall(self) -> float:
        """Emulated wall clock in unix seconds (moved by `advance` too)."""
        if self._frozen is not None:
            return self._frozen[1] + self._offset
        return time.time() + self._offset

    def freeze(self) -> None:
        """Stop the clock where it is: from now on only `advance` moves it."""
        if self._frozen is None:
            self._frozen = (time.monotonic(), time.time())

    def thaw(self) -> None:
        """Let a frozen clock run again from where it stands (it never jumps back)."""
        if self._frozen is not None:
            self._offset += self._frozen[0] - time.monotonic()
            self._frozen = None

    def advance(self, seconds: float) -> None:
        """Move the emulator clock forward: timelines, days and URL expiry all see it."""
        if seconds < 0:
            raise ValueError("the emulator clock only moves forward")
        self._offset += seconds

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def day(self) -> int:
        """The emulated day number (days last `day_seconds * time_scale`)."""
        length = self.scaled(self.config.day_seconds)
        return int((self.now() - self._started) // length) + self._day_offset

    def new_day(self) -> None:
        self._day_offset += 1

    # --- accounts ----------------------------------------------------------------------

    def new_token(self, region: RegionName) -> str:
        session_id = f"{self.rng.getrandbits(128):032x}"
        return REGIONS[region].token_prefix + session_id

    def add_account(
        self,
        region: str = "cn",
        *,
        credits: int = 100,
        vip: bool = False,
        expired: bool = False,
        banned: bool = False,
        token: str | None = None,
        credits_in_detail: bool = False,
    ) -> Account:
        """Create an account; `token` (optional) is used as given, in the region's form."""
        name = region_name(region)
        if credits < 0:
            raise ValueError("credits must be >= 0")
        if token is None:
            token = self.new_token(name)
        found_region, session_id = token_region(token)
        if found_region != name and found_region == "cn" and name != "cn":
            token = REGIONS[name].token_prefix + token  # a bare id given for a region
            found_region = name
        if found_region != name:
            raise ValueError(f"the token is a {found_region} token, not a {name} token")
        if not session_id or session_id in self._by_session:
            raise ValueError("the token is empty or already belongs to an account")
        account = Account(
            token=token,
            region=name,
            session_id=session_id,
            user_id=self.rng.randrange(10**14, 10**15),
            vip=vip,
            expired=expired,
            banned=banned,
            credits_in_detail=credits_in_detail,
        )
        if vip:
            account.vip_credit = credits
        else:
            account.purchase_credit = credits
        self.accounts[token] = account
        self._by_session[session_id] = account
        return account

    def account(self, token: str) -> Account:
        """The account of `token` (KeyError if unknown)."""
        return self.accounts[token]

    def account_for_session(self, session_id: str) -> Account | None:
        return self._by_session.get(session_id)

    def receive_daily(self, account: Account) -> int:
        """Grant the daily credits once per emulated day; return what was granted."""
        today = self.day()
        if account.received_day == today:
            return 0
        account.received_day = today
        account.received_total += 1
        account.gift_credit += self.config.daily_receive_quota
        return self.config.daily_receive_quota

    def can_receive_daily(self, account: Account) -> bool:
        return account.received_day != self.day()

    def used_today(self, account: Account) -> int:
        return account.jobs_today if account.jobs_day == self.day() else 0

    # --- records -----------------------------------------------------------------------

    def find_submit(self, account: Account, submit_id: str) -> Record | None:
        return self._by_submit.get((account.token, submit_id))

    def submit(self, account: Account, submit_id: str, spec: JobSpec) -> tuple[Record, bool]:
        """The record of this submit_id, creating (and charging for) it if new."""
        known = self.find_submit(account, submit_id)
        if known is not None:
            return known, False
        cost = self.config.cost(spec.kind)
        account.charge(cost)  # raises InsufficientCreditsError before anything changes
        self.stats.credits_charged += cost
        now = self.now()
        self._count_duplicate(account, spec, now)
        record = self._new_record(account, submit_id, spec, now)
        self.records[record.id] = record
        self._by_submit[(account.token, submit_id)] = record
        for index, item_id in enumerate(record.item_ids):
            self._by_item[item_id] = (record, index)
        today = self.day()
        if account.jobs_day != today:
            account.jobs_day, account.jobs_today = today, 0
        account.jobs_today += 1
        return record, True

    def _count_duplicate(self, account: Account, spec: JobSpec, now: float) -> None:
        window = self.scaled(self.config.duplicate_window)
        recent = [s for s in self._recent.get(account.token, []) if now - s.created_at <= window]
        if any(s.fingerprint == spec.fingerprint for s in recent):
            self.stats.duplicate_submits += 1
        recent.append(_Submitted(now, spec.fingerprint))
        self._recent[account.token] = recent

    def _new_record(self, account: Account, submit_id: str, spec: JobSpec, now: float) -> Record:
        ranges = self.config.timeline(spec.kind)

        def draw(bounds: tuple[float, float]) -> float:
            return self.scaled(self.rng.uniform(*bounds))

        queue = draw(ranges.queue)
        processing = queue + draw(ranges.processing)
        post = processing + draw(ranges.post)
        phases = Phases(queue, processing, post, post + draw(ranges.finalise))
        count = self.config.image_items if spec.kind == "image" else 1
        item_ids = tuple(
            str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) for _ in range(count)
        )
        self._next_id += 1
        record = Record(
            id=str(self._next_id),
            token=account.token,
            submit_id=submit_id,
            spec=spec,
            created_at=now,
            created_wall=self.wall(),
            phases=phases,
            item_ids=item_ids,
        )
        roll = self.rng.random()
        record.numeric_fail_code = self.rng.random() < self.config.numeric_fail_code_rate
        prompt = spec.prompt.lower()
        if any(word.lower() in prompt for word in self.config.blocked_words if word):
            record.fail_code, record.fail_at = BLOCKED_FAIL_CODE, queue
        elif roll < self.config.failure_rate:
            record.fail_code = self.rng.choice(self.config.fail_codes)
            record.fail_at = queue + (processing - queue) * self.rng.uniform(0.3, 0.9)
        return record

    def find_item(self, account: Account, item_id: str) -> tuple[Record, int] | None:
        """(record, index) of one of the account's items, else None."""
        found = self._by_item.get(item_id)
        if found is None or found[0].token != account.token:
            return None
        return found

    def records_of(self, account: Account) -> Iterator[Record]:
        return (r for r in self.records.values() if r.token == account.token)

    def queue_position(self, record: Record, now: float) -> tuple[int, int]:
        """(1-based place, length) of the queue `record` waits in, at clock time `now`."""
        mine = record.created_at + record.phases.queue_end
        ends = [
            r.created_at + r.phases.queue_end
            for r in self.records.values()
            if now < r.created_at + r.phases.queue_end
        ]
        return 1 + sum(1 for end in ends if end < mine), max(len(ends), 1)

    def reset(self) -> None:
        """Forget every account and record."""
        self.accounts.clear()
        self.records.clear()
        self._by_session.clear()
        self._by_submit.clear()
        self._by_item.clear()
        self._recent.clear()
