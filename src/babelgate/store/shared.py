"""What a store shared by several instances adds to `store.base.Store`: it pushes other instances'
changes as they happen, and it says whether the shared backend is reachable.

The gateway checks for it with `isinstance(store, SharedStore)`. Redis pushes changes as they are
made; SQLite (one file shared by `--workers` and the CLI) is asked every 0.25 s whether its cooldowns
changed; the memory store is one process's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

ChangeKind = Literal["cooldowns", "binding"]


@dataclass(frozen=True, slots=True)
class Change:
    """Another instance changed shared state: the cooldowns (reload them), or a session's binding."""

    kind: ChangeKind
    session: str = ""  # binding: the session key
    credential: str = ""  # binding: the credential it is now bound to


Listener = Callable[[Change], None]


@runtime_checkable
class SharedStore(Protocol):
    def watch(self, listener: Listener) -> None:
        """Call `listener` for every change another instance makes, from now until `close()`.

        Also called with `Change("cooldowns")` after the connection comes back from an outage, since
        changes made meanwhile were not pushed."""
        ...

    def health(self) -> dict[str, Any]:
        """For `/health`: `state` ("up" or "down"), and while down since when, why, and how many
        writes wait to be replayed. Never a secret (a password in the URL is redacted)."""
        ...
