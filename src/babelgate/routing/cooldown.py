"""Which credentials are cooling down, for which models, until when.

A `CooldownBook` is pure bookkeeping with an injected clock and random source: the router
tells it about failures and successes and asks it, on every request, whether a credential may
serve a model. Entries are keyed by (credential, model); the model `ALL_MODELS` marks an entry
that keeps the credential out for every model.

Policy (`Policy` holds the numbers):

| reason           | scope                           | how long                                               |
|------------------|---------------------------------|--------------------------------------------------------|
| QUOTA            | model, or all if account-wide   | upstream reset, else 60 s, 5 min, 30 min, 2 h (capped) |
| RATE_LIMIT       | model, or all if account-wide   | upstream reset, else 5 s doubling up to 60 s           |
| CAPACITY         | model                           | upstream reset, else 2-10 s at random                  |
| AUTH, PERMISSION | all models                      | until `babelgate accounts verify` clears it (inf)      |
| MODEL_NOT_FOUND  | model                           | 1 h                                                    |
| SERVER, NETWORK  | model                           | 2 s                                                    |
| UNSTABLE         | all models                      | 30 s, doubling on each bench in a row, up to 5 min     |
| BAD_REQUEST      | none                            | not the credential's fault                             |

UNSTABLE is outlier ejection: the credential is benched after 3 instabilities in a row, where an
instability is a SERVER or NETWORK failure (5xx, unreachable, a timeout) or a stream that broke
after its first byte (`record_break`; it served, so it cools nothing by itself). Only an answer
that finished cleanly (`record_finished`) starts the count over, so a key whose every stream
breaks mid-way is benched even though each stream began well. Once the count has reached 3, each
further instability benches it again, for twice as long (the way back is one clean answer).

An upstream reset is honoured with a floor of 1 s (a "retry after 0" must not loop). A new
failure never shortens an active entry. Consecutive failures of one reason count up while each
follows the previous entry's end by less than `Policy.streak_window` (failures of requests that were
already in flight while an entry was active do not count); a success clears the counts.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from babelgate.providers.classify import Failure, Reason
from babelgate.store.base import ALL_MODELS, Entry

_CREDENTIAL_REASONS = frozenset({Reason.AUTH, Reason.PERMISSION})
_TRANSIENT_REASONS = frozenset({Reason.SERVER, Reason.NETWORK})
_UPSTREAM_TIMED = frozenset({Reason.QUOTA, Reason.RATE_LIMIT, Reason.CAPACITY})


@dataclass(frozen=True, slots=True)
class Policy:
    quota_backoff: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
    rate_limit_first: float = 5.0
    rate_limit_max: float = 60.0
    capacity_range: tuple[float, float] = (2.0, 10.0)
    model_not_found: float = 3600.0
    transient: float = 2.0
    transient_streak: int = 3  # this many instabilities in a row bench the whole credential (UNSTABLE)
    unstable: float = 30.0  # the first bench; each one in a row doubles it
    unstable_max: float = 300.0
    min_reset: float = 1.0
    streak_window: float = 3600.0


class CooldownBook:
    def __init__(self, clock: Callable[[], float] = time.time, rng: random.Random | None = None, policy: Policy | None = None) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._policy = policy or Policy()
        self._entries: dict[tuple[str, str], Entry] = {}
        self._transient: dict[str, int] = {}  # instabilities in a row per credential (SERVER/NETWORK, breaks)

    # Recording outcomes.

    def record_failure(self, credential: str, model: str, failure: Failure) -> Entry | None:
        """Record a failure; returns the entry now in force at its scope (None for BAD_REQUEST)."""
        reason = failure.reason
        if reason is Reason.BAD_REQUEST:
            return None
        if reason in _TRANSIENT_REASONS and self._unsteady(credential):
            return self._enter(credential, ALL_MODELS, Reason.UNSTABLE, None, failure.status)
        scope, seconds = self._scope_and_seconds(credential, model, failure)
        return self._enter(credential, scope, reason, seconds, failure.status)

    def record_break(self, credential: str, model: str) -> Entry | None:
        """A stream that broke after its first byte: the UNSTABLE entry when that benches the credential."""
        if self._unsteady(credential):
            return self._enter(credential, ALL_MODELS, Reason.UNSTABLE, None, 200)
        return None

    def record_finished(self, credential: str) -> None:
        """An answer that finished cleanly: the credential's count of instabilities starts over."""
        if self._transient:
            self._transient.pop(credential, None)

    def _unsteady(self, credential: str) -> bool:
        """Count one instability; True when that makes `transient_streak` in a row."""
        count = self._transient[credential] = self._transient.get(credential, 0) + 1
        return count >= self._policy.transient_streak

    def _enter(self, credential: str, scope: str, reason: Reason, seconds: float | None, status: int) -> Entry:
        """The entry for (credential, scope) after this failure; a new failure never shortens an active one."""
        now = self._clock()
        previous = self._entries.get((credential, scope))
        strikes = self._strikes(previous, reason, now)
        if seconds is None:
            seconds = self._backoff(reason, strikes)
        entry = Entry(credential, scope, reason, now + seconds, strikes, status)
        if previous is not None and previous.active(now) and previous.until >= entry.until:
            return previous
        self._entries[(credential, scope)] = entry
        return entry

    def record_success(self, credential: str, model: str) -> tuple[Entry, ...]:
        """The credential served a first byte: returns the expired entries of (credential, model) it dropped.
        (Whether it was a clean answer is `record_finished`'s business.)"""
        if not self._entries:
            return ()
        keys = [key for key in ((credential, model), (credential, ALL_MODELS)) if key in self._entries]
        if not keys:
            return ()
        now = self._clock()
        return tuple(self._entries.pop(key) for key in keys if not self._entries[key].active(now))

    # Questions asked on every request.

    def blocked(self, credential: str, model: str) -> Entry | None:
        """The entry keeping `credential` from serving `model` now, or None. A dict lookup when nothing cools."""
        if not self._entries:
            return None
        own = self._entries.get((credential, model))
        wide = self._entries.get((credential, ALL_MODELS))
        if own is None and wide is None:
            return None
        now = self._clock()
        active = [entry for entry in (own, wide) if entry is not None and entry.active(now)]
        return max(active, key=lambda entry: entry.until) if active else None

    def earliest_available(self, credentials: Iterable[str], model: str) -> float | None:
        """When the first of `credentials` can serve `model`: now if one can, None if none ever will."""
        now = self._clock()
        earliest = math.inf
        for credential in credentials:
            block = self.blocked(credential, model)
            earliest = min(earliest, block.until if block is not None else now)
            if earliest <= now:
                return now
        return earliest if math.isfinite(earliest) else None

    # Persistence and reporting.

    def snapshot(self) -> list[Entry]:
        """Every entry still worth keeping: active ones, and expired ones that still carry a streak."""
        now = self._clock()
        horizon = now - self._policy.streak_window
        return [entry for entry in self._entries.values() if entry.until > horizon]

    def restore(self, entries: Iterable[Entry]) -> None:
        """Load saved entries; for a key already present the later `until` wins."""
        for entry in entries:
            key = (entry.credential, entry.model)
            current = self._entries.get(key)
            if current is None or entry.until > current.until:
                self._entries[key] = entry

    def replace(self, entries: Iterable[Entry]) -> None:
        """Make the saved entries the whole truth (another process may have cleared some)."""
        self._entries = {(e.credential, e.model): e for e in entries}

    # Policy.

    def _scope_and_seconds(self, credential: str, model: str, failure: Failure) -> tuple[str, float | None]:
        """Which key the failure cools, and for how long when that does not depend on the streak."""
        reason, policy = failure.reason, self._policy
        if reason in _CREDENTIAL_REASONS:
            return ALL_MODELS, math.inf
        if reason is Reason.MODEL_NOT_FOUND:
            return model, policy.model_not_found
        if reason in _TRANSIENT_REASONS:
            return model, policy.transient
        scope = ALL_MODELS if failure.account_wide else model
        if failure.reset_after is not None and reason in _UPSTREAM_TIMED:
            return scope, max(failure.reset_after, policy.min_reset)
        if reason is Reason.CAPACITY:
            return scope, self._rng.uniform(*policy.capacity_range)
        return scope, None

    def _strikes(self, previous: Entry | None, reason: Reason, now: float) -> int:
        if previous is None or previous.reason is not reason:
            return 1
        if previous.active(now):  # a request that was in flight when the cooldown began: not a new strike
            return previous.strikes
        return previous.strikes + 1 if now - previous.until < self._policy.streak_window else 1

    def _backoff(self, reason: Reason, strikes: int) -> float:
        policy = self._policy
        if reason is Reason.QUOTA:
            return policy.quota_backoff[min(strikes, len(policy.quota_backoff)) - 1]
        if reason is Reason.UNSTABLE:
            return min(policy.unstable * 2.0 ** (strikes - 1), policy.unstable_max)
        return min(policy.rate_limit_first * 2.0 ** (strikes - 1), policy.rate_limit_max)
