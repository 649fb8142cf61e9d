"""What the gateway keeps across restarts, and the one interface every store implements.

Four kinds of state: cooldown entries (so a restart does not hammer an exhausted key), session
bindings (a conversation stays on one credential to keep prompt caches warm), usage counters
per credential, model and UTC day, and cached reasoning state (opaque text by key, with a TTL) for
clients that cannot carry it themselves (addons/signatures.py). Days are "YYYY-MM-DD" strings; times are epoch seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

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


class Store(Protocol):
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

    async def add_credential(self, provider: str, name: str, key: str) -> None:
        """Add (or replace) a key added with `babelgate accounts add`."""
        ...

    async def remove_credential(self, provider: str, name: str) -> bool:
        """Remove a stored key; False when there was none of that name."""
        ...

    async def credentials(self) -> list[tuple[str, str, str]]:
        """Stored keys as (provider, name, key), sorted."""
        ...

    async def close(self) -> None: ...
