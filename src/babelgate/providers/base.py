"""What every upstream family provides, and what one attempt at it carries. No HTTP here.

An `Upstream` is one configured provider: a family class (providers/anthropic.py, openai.py,
...) found through registry.py by the config's `type:`. The attempt loop in routing/
hands it an `Attempt` (one request, one credential) and gets back a `Reply`: the upstream's
bytes with the ir events parsed from them. A failure before the first event raises an
`errors.UpstreamError` that carries its classification, so the loop can fail over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from babelgate import ir
from babelgate.config import ProviderConfig
from babelgate.dialects.base import Dialect


@dataclass(frozen=True, slots=True)
class Credential:
    """One API key of a provider. `id` is stable and safe to show: it never contains the key."""

    id: str
    provider: str
    key: str
    weight: int = 1
    priority: int = 0

    @property
    def redacted(self) -> str:
        if len(self.key) <= 8:
            return "****"
        return f"{self.key[:4]}…{self.key[-4:]}"


class BodyHook(Protocol):
    """Sees (and may edit) the JSON body of each upstream request before it is encoded and sent."""

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None: ...


class NoHooks:
    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        return None


class Outcome(Protocol):
    """Hears how a served stream ended: `broke` is None for a clean end, else what broke it."""

    def stream_ended(self, attempt: Attempt, broke: str | None) -> None: ...


class NoOutcome:
    def stream_ended(self, attempt: Attempt, broke: str | None) -> None:
        return None


@dataclass(slots=True)
class Outgoing:
    """One request about to go upstream; `authenticate` may add headers or sign it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(slots=True)
class Attempt:
    """One try of a request at one upstream model with one credential."""

    request: ir.Request  # prepared for this target (capped max_tokens, variant applied)
    model: str  # the upstream's model id
    credential: Credential
    client_headers: Mapping[str, str]  # the client's, case-insensitive
    raw: dict[str, Any] | None = None  # the client's own body when it speaks the upstream's dialect (pass-through)
    hooks: BodyHook = field(default_factory=NoHooks)
    outcome: Outcome = field(default_factory=NoOutcome)

    @property
    def passthrough(self) -> bool:
        return self.raw is not None

    @property
    def target(self) -> str:
        return f"{self.credential.provider}/{self.model}"


Chunk = tuple[bytes, list[ir.Event]]
Chunks = AsyncIterator[Chunk]
KEEPALIVE: Chunk = (b"", [])  # the upstream is silent: the relay sends the client its dialect's ping


@dataclass(slots=True)
class Reply:
    """What an upstream sent back. A whole response (`response`, with its `body` bytes) or a stream
    (`chunks`: each piece of upstream bytes with the events parsed from it). A chunk of empty
    bytes carries events the gateway made itself, such as the error for a stream that broke; one with
    no events either is `KEEPALIVE`.
    `passthrough` says the bytes are already in the client's dialect."""

    passthrough: bool
    response: ir.Response | None = None
    body: bytes = b""
    chunks: Chunks | None = None
    release: Callable[[], None] = lambda: None  # frees the upstream connection


class Upstream(Protocol):
    """One configured provider. `send` raises `UpstreamError` (classified) before the first event."""

    name: str
    config: ProviderConfig
    dialect: Dialect
    credentials: list[Credential]

    def __init__(self, name: str, config: ProviderConfig) -> None: ...

    def dialect_for(self, model: str) -> Dialect:
        """The wire format spoken to `model` (a family may speak several); the client's own body
        passes through when it is the client's."""
        ...

    async def send(self, attempt: Attempt) -> Reply: ...

    async def count_tokens(self, attempt: Attempt) -> int | None:
        """The upstream's own count of the attempt's input tokens (None: it has no counting endpoint);
        raises UpstreamError when it fails. `attempt.raw` is the client's counting body in the upstream's dialect."""
        ...

    async def verify(self, credential: Credential) -> tuple[int, str]:
        """A cheap real call that tells whether the upstream accepts the key: (HTTP status, detail); 0 = unreachable."""
        ...

    def add_credential(self, name: str, key: str) -> None: ...

    def max_tokens_cap(self, model: str) -> int | None: ...

    def max_tokens_floor(self, model: str) -> int:
        """The smallest max_tokens the upstream accepts for `model` (a smaller one is raised to it)."""
        ...

    def describe(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...
