"""What the gateway keeps across restarts, and the one interface every store implements.

Four kinds of state: cooldown entries (so a restart does not hammer an exhausted key), session
bindings (a conversation stays on one credential to keep prompt caches warm), usage counters
per credential, model and UTC day, and cached reasoning state (opaque text by key, with a TTL) for
clients that cannot carry it themselves (addons/signatures.py). Days are "YYYY-MM-DD" strings; times are epoch seconds.
Besides, named counters that expire (`add_counters`): the client keys' requests, tokens and
spend per window (server/limits.py), shared by every worker and instance on the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from babelgate.providers.classify import Reason

ALL_MODELS = "*"  # an Entry for this model keeps the credential out for every model


@dataclass(frozen=True, slots=True)
class Entry:
    """One cooldown: `credential` may not serve `model` (or any model, for ALL_MODELS) before `until`."""

    credential: str
    model: str
    reason: Reason
    until: float  # epoch seconds; math.inf = until the credential is cleared
    strikes: int = 1  # consecutive failures of this reason that led here
    last_status: int | None = None  # the upstream HTTP status of the last failure (0 = unreachable)

    @property
    def status(self) -> str:
        """What to show: "quota", "rate_limit", "auth_invalid", "permission_denied", ..."""
        return self.reason.value

    def active(self, now: float) -> bool:
        return now < self.until


@dataclass(frozen=True, slots=True)
class Usage:
    credential: str
    model: str
    day: str
    requests: int
    input_tokens: int
    output_tokens: int


@dataclass(slots=True)
class Changes:
    """Writes the gateway makes together (`Store.apply`, one transaction where the store has them):
    cooldowns set and cleared, session bindings, usage increments. A key is in `cooldowns` or in
    `cleared`, never both: the later change wins."""

    cooldowns: dict[tuple[str, str], Entry] = field(default_factory=dict)  # (credential, model) → entry
    cleared: set[tuple[str, str]] = field(default_factory=set)  # (credential, model) to delete
    bindings: dict[str, tuple[str, float]] = field(default_factory=dict)  # session → (credential, ttl seconds)
    usage: dict[tuple[str, str, str], tuple[int, int, int]] = field(default_factory=dict)  # (credential, model, day) → increments

    def __bool__(self) -> bool:
        return bool(self.cooldowns or self.cleared or self.bindings or self.usage)

    def save(self, entry: Entry) -> None:
        key = (entry.credential, entry.model)
        self.cleared.discard(key)
        self.cooldowns[key] = entry

    def clear(self, credential: str, model: str) -> None:
        self.cooldowns.pop((credential, model), None)
        self.cleared.add((credential, model))

    def count(self, key: tuple[str, str, str], requests: int, input_tokens: int, output_tokens: int) -> None:
        old = self.usage.get(key, (0, 0, 0))
        self.usage[key] = (old[0] + requests, old[1] + input_tokens, old[2] + output_tokens)

    def under(self, newer: Changes) -> None:
        """Put these (older, unwritten) changes back beneath `newer`, which wins where both set a key."""
        for key, entry in self.cooldowns.items():
            if key not in newer.cooldowns and key not in newer.cleared:
                newer.cooldowns[key] = entry
        newer.cleared |= {key for key in self.cleared if key not in newer.cooldowns}
        for session, binding in self.bindings.items():
            newer.bindings.setdefault(session, binding)
        for day_key, counts in self.usage.items():
            newer.count(day_key, *counts)


async def apply_each(store: Store, changes: Changes) -> None:
    """`Store.apply` for a store without transactions: one call per change, in the order of `Changes`."""
    for credential, model in changes.cleared:
        await store.delete_cooldowns(credential, model)
    for entry in changes.cooldowns.values():
        await store.save_cooldown(entry)
    for session, (credential, ttl) in changes.bindings.items():
        await store.set_binding(session, credential, ttl)
    for (credential, model, day), (requests, input_tokens, output_tokens) in changes.usage.items():
        await store.add_usage(credential, model, day, requests, input_tokens, output_tokens)


@dataclass(frozen=True, slots=True)
class Counter:
    """A named counter's value, and when it expires (epoch seconds; it then counts from 0 again)."""

    value: int
    expires: float


Increment = tuple[str, int, float]  # a counter's name, the amount to add, its lifetime in seconds when it is new


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One row of the request log: the record's summary (plain JSON values) and any captured bodies."""

    id: str
    started: float
    summary: dict[str, Any]  # observe.records.RequestRecord.summary()
    request_body: bytes | None = None
    response_body: bytes | None = None

    @property
    def size(self) -> int:
        return 512 + len(self.request_body or b"") + len(self.response_body or b"")


@dataclass(frozen=True, slots=True)
class RequestFilter:
    model: str | None = None  # the target served (provider/model) or the model asked for
    provider: str | None = None
    status: int | None = None  # an exact status, or a class: 2 for 2xx, 4 for 4xx, 5 for 5xx
    before: float | None = None  # started before this time (paging back)
    since: float | None = None

    def matches(self, summary: dict[str, Any]) -> bool:
        status = summary["status"]
        return (
            (self.model is None or self.model in (summary["target"], summary["model"]))
            and (self.provider is None or summary["provider"] == self.provider)
            and (self.status is None or status == self.status or (self.status < 10 and status // 100 == self.status))
            and (self.before is None or summary["started"] < self.before)
            and (self.since is None or summary["started"] >= self.since)
        )


class Store(Protocol):
    async def apply(self, changes: Changes) -> None:
        """Write every change, all or none where the store can (SQLite: one transaction). When it
        raises, nothing was applied, so the caller may apply the same changes again."""
        ...

    async def load_cooldowns(self) -> list[Entry]: ...

    async def save_cooldown(self, entry: Entry) -> None:
        """Insert or replace the entry for (entry.credential, entry.model)."""
        ...

    async def delete_cooldowns(self, credential: str, model: str | None = None) -> None:
        """Delete one (credential, model) entry, or every entry of the credential when model is None."""
        ...

    async def get_binding(self, session_key: str) -> str | None:
        """The credential bound to a session, None when unbound or expired."""
        ...

    async def set_binding(self, session_key: str, credential: str, ttl: float) -> None:
        """Bind a session to a credential for `ttl` seconds from now."""
        ...

    async def put_reasoning(self, entries: Mapping[str, str], ttl: float) -> None:
        """Keep each key's value for `ttl` seconds from now (replacing an older one)."""
        ...

    async def get_reasoning(self, keys: Sequence[str]) -> dict[str, str]:
        """The values kept under those of `keys` that are known and not expired."""
        ...

    async def add_usage(self, credential: str, model: str, day: str, requests: int, input_tokens: int, output_tokens: int) -> None:
        """Add increments to the day's counters (creating them at zero)."""
        ...

    async def usage_for_day(self, day: str) -> list[Usage]:
        """The day's counters, sorted by credential then model."""
        ...

    async def add_counters(self, increments: list[Increment]) -> list[Counter]:
        """Add to each named counter at once (one atomic step for every process sharing the store), and
        return the new values. A counter that is missing or expired starts at 0 and expires `ttl`
        seconds from now; adding to a live one keeps its expiry."""
        ...

    async def read_counters(self, names: list[str]) -> list[Counter]:
        """Each counter's value; a missing or expired one is `Counter(0, 0.0)`."""
        ...

    async def add_credential(self, provider: str, name: str, key: str) -> None:
        """Add (or replace) a key added with `babelgate accounts add`."""
        ...

    async def remove_credential(self, provider: str, name: str) -> bool:
        """Remove a stored key; False when there was none of that name."""
        ...

    async def credentials(self) -> list[tuple[str, str, str]]:
        """Stored keys as (provider, name, key), sorted."""
        ...

    async def log_requests(self, rows: list[LoggedRequest]) -> None:
        """Append rows to the request log."""
        ...

    async def recent_requests(self, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
        """The summaries of the newest matching rows, newest first."""
        ...

    async def logged_request(self, request_id: str) -> LoggedRequest | None: ...

    async def prune_requests(self, older_than: float, max_bytes: int) -> None:
        """Drop rows started before `older_than`, then the oldest until the log holds at most `max_bytes`."""
        ...

    async def close(self) -> None: ...
