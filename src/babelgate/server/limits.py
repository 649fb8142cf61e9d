"""The client keys' limits: requests and tokens per minute, spend per UTC day, week and month.

Every count lives in the store (`Store.add_counters`), so the workers of `--workers` and the
instances sharing a Redis store agree. A minute window starts with a key's first request (or first
tokens) and lasts 60 seconds; a budget's period is the calendar one (UTC midnight, Monday, the 1st).
Spend is kept in micro-dollars, priced by the observer's price table (observe/prices.py).

`admit` runs before a request is routed: tokens per minute and budgets are read, then the request
is counted against its requests per minute, and an `OverLimit` says which limit was hit and until
when. `settle` adds what a finished request used. Requests already under way when a budget fills
are not stopped, so a budget can be passed by what they cost.

The standing against a budget is what Claude Code's gateway contract ("Usage-limit headers")
reports: the fullest cap while requests are allowed, else the exceeded cap that resets last.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from babelgate.config_keys import PERIODS, ClientKey
from babelgate.store.base import Counter, Increment, Store

MICRO = 1_000_000  # spend counters count micro-dollars
WINDOW = 60.0  # seconds of a requests- or tokens-per-minute window
THRESHOLDS = (0.95, 0.75)  # utilization past which the client is warned, highest first
KEEP_AFTER = 86400.0  # a spend counter outlives its period by this much


@dataclass(frozen=True, slots=True)
class Cap:
    """One budget of a key and where it stands."""

    period: str  # daily, weekly, monthly
    limit: float  # USD
    spent: float  # USD
    resets: dt.datetime  # UTC

    @property
    def utilization(self) -> float:
        return self.spent / self.limit

    @property
    def exceeded(self) -> bool:
        return self.spent >= self.limit

    @property
    def resets_at(self) -> int:
        return int(self.resets.timestamp())


@dataclass(frozen=True, slots=True)
class Standing:
    """A key's spend this day, week and month (USD), and its caps."""

    spent: dict[str, float]
    caps: list[Cap]

    def described(self) -> Cap | None:
        """The cap to report: the exceeded one that resets last, else the fullest."""
        if not self.caps:
            return None
        exceeded = [cap for cap in self.caps if cap.exceeded]
        if exceeded:
            return max(exceeded, key=lambda cap: cap.resets)
        return max(self.caps, key=lambda cap: cap.utilization)


class OverLimit(Exception):
    """A request refused: `what` names the limit ("rpm", "tpm", or a budget's period)."""

    def __init__(self, what: str, retry_after: int, message: str, cap: Cap | None = None) -> None:
        super().__init__(message)
        self.what, self.retry_after, self.message, self.cap = what, retry_after, message, cap


def period_of(period: str, now: dt.datetime) -> tuple[str, dt.datetime]:
    """The calendar period containing `now` (UTC): its id in counter names, and when the next begins."""
    day = now.date()
    if period == "daily":
        start, end = day, day + dt.timedelta(days=1)
    elif period == "weekly":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    return f"{period[0]}{start.isoformat()}", dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC)


class KeyLimits:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def _names(self, key: ClientKey, now: float) -> dict[str, tuple[str, dt.datetime]]:
        """The counters of a key's spend per period: name and the end of the period."""
        when = dt.datetime.fromtimestamp(now, dt.UTC)
        names = {}
        for period in PERIODS:
            pid, resets = period_of(period, when)
            names[period] = (f"{key.account}:usd:{pid}", resets)
        return names

    async def standing(self, key: ClientKey) -> Standing:
        return (await self._read(key, self.clock(), False))[0]

    async def _read(self, key: ClientKey, now: float, tpm: bool) -> tuple[Standing, Counter]:
        """The key's spend this day, week and month, and (when asked) its tokens this minute: one read."""
        spend = self._names(key, now)
        names = [name for name, _ in spend.values()] + ([f"{key.account}:tpm"] if tpm else [])
        counters = await self.store.read_counters(names)
        spent = {period: c.value / MICRO for period, c in zip(spend, counters, strict=False)}
        caps = [Cap(period, limit, spent[period], spend[period][1]) for period, limit in key.caps.items()]
        return Standing(spent, caps), counters[-1] if tpm else Counter(0, 0.0)

    async def admit(self, key: ClientKey) -> Standing | None:
        """Count the request, or raise `OverLimit`. The standing against the key's budget when it has one."""
        now = self.clock()
        standing = None
        if key.caps or key.tpm:
            standing, used = await self._read(key, now, bool(key.tpm))
            blocked = standing.described()
            if blocked is not None and blocked.exceeded:
                seconds = max(1, math.ceil(blocked.resets.timestamp() - now))
                raise OverLimit(blocked.period, seconds, f"{blocked.period} budget of ${blocked.limit:.2f}", blocked)
            if key.tpm and used.value >= key.tpm:
                raise OverLimit("tpm", self._left(used.expires), f"limit of {key.tpm} tokens per minute")
        if key.rpm:
            count = (await self.store.add_counters([(f"{key.account}:rpm", 1, WINDOW)]))[0]
            if count.value > key.rpm:
                raise OverLimit("rpm", self._left(count.expires), f"limit of {key.rpm} requests per minute")
        return standing if key.caps else None  # tokens per minute alone: nothing to report

    def _left(self, expires: float) -> int:
        """Whole seconds until a minute window ends (the store's clock may have read a moment later than ours)."""
        return max(1, min(math.ceil(expires - self.clock()), int(WINDOW)))

    async def settle(self, key: ClientKey, tokens: int, cost: float) -> None:
        """Add a finished request's tokens and cost (USD) to the key's counters."""
        now = self.clock()
        increments: list[Increment] = []
        if key.tpm and tokens > 0:
            increments.append((f"{key.account}:tpm", tokens, WINDOW))
        micro = round(cost * MICRO)
        if micro > 0:
            for name, resets in self._names(key, now).values():
                increments.append((name, micro, resets.timestamp() - now + KEEP_AFTER))
        if increments:
            await self.store.add_counters(increments)


def utilization_text(cap: Cap) -> str:
    """The fraction used, two decimals, kept below 1 while requests are allowed."""
    return "1" if cap.exceeded else f"{min(math.floor(cap.utilization * 100) / 100, 0.99):.2f}"


def surpassed(cap: Cap) -> float | None:
    return next((t for t in THRESHOLDS if cap.utilization > t), None)
