"""A store that lives as long as the process (`store: {type: memory}`): nothing survives a restart
or is shared between workers."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from babelgate.store.base import Changes, Counter, Entry, Increment, LoggedRequest, RequestFilter, Usage, apply_each

PRUNE_SECONDS = 60.0  # expired counters are dropped this often

REASONING_CAPACITY = 50_000  # cached reasoning entries kept at most; the oldest go first


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._cooldowns: dict[tuple[str, str], Entry] = {}
        self._bindings: dict[str, tuple[str, float]] = {}
        self._usage: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        self._credentials: dict[tuple[str, str], str] = {}
        self._requests: dict[str, LoggedRequest] = {}  # in insertion order, which is about start order
        self._reasoning: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._counters: dict[str, Counter] = {}
        self._pruned = 0.0

    async def apply(self, changes: Changes) -> None:
        await apply_each(self, changes)

    async def load_cooldowns(self) -> list[Entry]:
        return list(self._cooldowns.values())

    async def save_cooldown(self, entry: Entry) -> None:
        self._cooldowns[(entry.credential, entry.model)] = entry

    async def delete_cooldowns(self, credential: str, model: str | None = None) -> None:
        for key in [key for key in self._cooldowns if key[0] == credential and model in (None, key[1])]:
            del self._cooldowns[key]

    async def get_binding(self, session_key: str) -> str | None:
        binding = self._bindings.get(session_key)
        if binding is None:
            return None
        if binding[1] <= self._clock():
            del self._bindings[session_key]
            return None
        return binding[0]

    async def set_binding(self, session_key: str, credential: str, ttl: float) -> None:
        self._bindings[session_key] = (credential, self._clock() + ttl)

    async def put_reasoning(self, entries: Mapping[str, str], ttl: float) -> None:
        expires = self._clock() + ttl
        for key, value in entries.items():
            self._reasoning[key] = (value, expires)
            self._reasoning.move_to_end(key)
        while len(self._reasoning) > REASONING_CAPACITY:
            self._reasoning.popitem(last=False)

    async def get_reasoning(self, keys: Sequence[str]) -> dict[str, str]:
        now = self._clock()
        found = {key: self._reasoning.get(key) for key in keys}
        return {key: kept[0] for key, kept in found.items() if kept is not None and kept[1] > now}

    async def add_usage(self, credential: str, model: str, day: str, requests: int, input_tokens: int, output_tokens: int) -> None:
        key = (credential, model, day)
        old = self._usage.get(key, (0, 0, 0))
        self._usage[key] = (old[0] + requests, old[1] + input_tokens, old[2] + output_tokens)

    async def usage_for_day(self, day: str) -> list[Usage]:
        rows = [Usage(cred, model, d, *counts) for (cred, model, d), counts in self._usage.items() if d == day]
        return sorted(rows, key=lambda row: (row.credential, row.model))

    async def add_counters(self, increments: list[Increment]) -> list[Counter]:
        now = self._clock()
        if now - self._pruned > PRUNE_SECONDS:
            self._pruned = now
            self._counters = {name: c for name, c in self._counters.items() if c.expires > now}
        out = []
        for name, amount, ttl in increments:
            old = self._counters.get(name)
            counter = Counter(old.value + amount, old.expires) if old is not None and old.expires > now else Counter(amount, now + ttl)
            self._counters[name] = counter
            out.append(counter)
        return out

    async def read_counters(self, names: list[str]) -> list[Counter]:
        now = self._clock()
        return [c if (c := self._counters.get(name)) is not None and c.expires > now else Counter(0, 0.0) for name in names]

    async def add_credential(self, provider: str, name: str, key: str) -> None:
        self._credentials[(provider, name)] = key

    async def remove_credential(self, provider: str, name: str) -> bool:
        return self._credentials.pop((provider, name), None) is not None

    async def credentials(self) -> list[tuple[str, str, str]]:
        return sorted((p, n, k) for (p, n), k in self._credentials.items())

    async def log_requests(self, rows: list[LoggedRequest]) -> None:
        for row in rows:
            self._requests[row.id] = row

    async def recent_requests(self, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
        rows = sorted((r.summary for r in self._requests.values() if where.matches(r.summary)), key=lambda s: -s["started"])
        return rows[:limit]

    async def logged_request(self, request_id: str) -> LoggedRequest | None:
        return self._requests.get(request_id)

    async def prune_requests(self, older_than: float, max_bytes: int) -> None:
        kept = sorted((r for r in self._requests.values() if r.started >= older_than), key=lambda r: r.started)
        total = sum(r.size for r in kept)
        while kept and total > max_bytes:
            total -= kept.pop(0).size
        self._requests = {r.id: r for r in kept}

    async def close(self) -> None:
        return None
