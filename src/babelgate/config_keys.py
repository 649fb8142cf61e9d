"""The config's client keys (`server.api_keys`): who each key is, what it may ask for, and its limits.

An entry is a plain key (`"${TEAM_KEY}"`) or a mapping with a `name` (the `client` of the request
log, the dashboard and `babelgate usage --by client`), allowed `models` (globs), requests and
tokens per minute, and a spend `budget` per UTC day, week (from Monday) or month, in USD.
server/limits.py enforces them; docs/configuration.md describes each key.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from babelgate.config_base import Strict as _Strict

PERIODS = ("daily", "weekly", "monthly")


class Budget(_Strict):
    """USD per period; a period left out has no cap."""

    daily: float | None = Field(default=None, gt=0)
    weekly: float | None = Field(default=None, gt=0)
    monthly: float | None = Field(default=None, gt=0)
    help: str = ""  # what an over-budget user should do next, ending the refusal's message (a URL, a channel)

    def caps(self) -> dict[str, float]:
        """The periods that have a cap, and the cap."""
        return {period: amount for period in PERIODS if (amount := getattr(self, period)) is not None}


class ClientKey(_Strict):
    key: str = Field(min_length=1)
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
    models: list[str] = Field(default_factory=list)  # globs of the model names it may ask for; empty: any
    rpm: int | None = Field(default=None, ge=1)  # requests per minute
    tpm: int | None = Field(default=None, ge=1)  # tokens per minute (input, output and cache, as the upstream reports them)
    budget: Budget | None = None

    @property
    def account(self) -> str:
        """What the key's counters are kept under: its name, or a digest of the key (never the key)."""
        return self.name or "key-" + hashlib.sha256(self.key.encode()).hexdigest()[:16]

    @property
    def caps(self) -> dict[str, float]:
        return self.budget.caps() if self.budget else {}

    @property
    def limited(self) -> bool:
        return bool(self.rpm or self.tpm or self.caps)


def as_entries(value: Any) -> Any:
    """`server.api_keys` before validation: a plain string is a key with no name and no limits."""
    if not isinstance(value, list):
        return value
    for index, item in enumerate(value):
        if not isinstance(item, str | dict | ClientKey):
            raise ValueError(f"entry {index}: expected a key (a string) or a mapping of key, name, models, rpm, tpm, budget")
    return [{"key": item} if isinstance(item, str) else item for item in value]


def check_unique(keys: list[ClientKey]) -> list[ClientKey]:
    """Two entries may not share a key (which one would it be?) nor a name (whose counters?)."""
    seen: set[str] = set()
    names: set[str] = set()
    for index, entry in enumerate(keys):
        if entry.key in seen:
            raise ValueError(f"entry {index} repeats a key given earlier")
        if entry.name is not None and entry.name in names:
            raise ValueError(f"entry {index}: the name {entry.name!r} is already taken")
        seen.add(entry.key)
        if entry.name is not None:
            names.add(entry.name)
    return keys
