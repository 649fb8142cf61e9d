"""The order in which a provider's credentials are tried, by strategy.

Credentials are grouped in `priority` tiers (higher first); inside a tier:
- `round-robin`: smooth weighted rotation (a key of weight 2 serves twice as often);
- `fill-first`: config order, so one key is used until it cools;
- `sticky`: the credential bound to this conversation first, to keep prompt caches warm;
- `hybrid`: fewest recent failures first, then the one idle longest.
Cooling credentials are filtered out by the caller; this module only orders.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from babelgate.config_routing import Strategy
from babelgate.providers.base import Credential

MAX_BINDINGS = 100_000  # sessions whose credential a process remembers (about 20 MB at most)


@dataclass(slots=True)
class _Stats:
    current: float = 0.0
    last_used: float = 0.0
    recent_failures: float = 0.0
    last_failure: float = 0.0


class Pool:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._stats: dict[str, _Stats] = {}
        self._bindings: dict[str, str] = {}

    def _stat(self, credential: Credential) -> _Stats:
        stat = self._stats.get(credential.id)
        if stat is None:
            stat = self._stats[credential.id] = _Stats()
        return stat

    def order(self, credentials: list[Credential], strategy: Strategy, session: str | None = None) -> list[Credential]:
        if len(credentials) == 1:
            return credentials
        tiers: dict[int, list[Credential]] = {}
        for credential in credentials:
            tiers.setdefault(credential.priority, []).append(credential)
        ordered: list[Credential] = []
        for priority in sorted(tiers, reverse=True):
            ordered.extend(self._order_tier(tiers[priority], strategy, session))
        return ordered

    def _order_tier(self, tier: list[Credential], strategy: Strategy, session: str | None) -> list[Credential]:
        if strategy == "fill-first" or len(tier) == 1:
            return tier
        if strategy == "sticky" and session:
            bound = self._bindings.get(session)
            first = [c for c in tier if c.id == bound]
            return first + self._weighted(tier)
        if strategy == "hybrid":
            now = self._clock()
            return sorted(tier, key=lambda c: (round(self._decayed(c, now), 1), self._stat(c).last_used))
        return self._weighted(tier)

    def _weighted(self, tier: list[Credential]) -> list[Credential]:
        """Smooth weighted round-robin (as nginx does): pick the best, then rank the rest."""
        total = sum(c.weight for c in tier)
        for credential in tier:
            self._stat(credential).current += credential.weight
        ranked = sorted(tier, key=lambda c: -self._stat(c).current)
        self._stat(ranked[0]).current -= total
        return ranked

    def _decayed(self, credential: Credential, now: float) -> float:
        stat = self._stat(credential)
        decay: float = 0.5 ** ((now - stat.last_failure) / 60.0)
        return stat.recent_failures * decay

    def used(self, credential: Credential, session: str | None, ok: bool) -> None:
        now = self._clock()
        stat = self._stat(credential)
        stat.last_used = now
        if ok:
            if session:
                self.bind(session, credential.id)
        else:
            stat.recent_failures = self._decayed(credential, now) + 1
            stat.last_failure = now

    def bind(self, session: str, credential_id: str) -> None:
        """Remember the session's credential; past MAX_BINDINGS sessions the least recently bound is
        forgotten here (the store keeps bindings for their TTL, and a forgotten one is asked for again)."""
        bindings = self._bindings
        bindings.pop(session, None)  # to the end: dicts keep insertion order
        bindings[session] = credential_id
        if len(bindings) > MAX_BINDINGS:
            del bindings[next(iter(bindings))]

    def binding(self, session: str) -> str | None:
        return self._bindings.get(session)
