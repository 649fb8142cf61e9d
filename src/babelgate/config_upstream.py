"""The `upstream:` section of the config: how long, how many and how much, for every provider.

Each key is a default that a provider may override under the same name (`providers.<name>.timeouts`,
`max_connections`, `max_response_mb`, `max_event_mb`, `keepalive`). `ProviderConfig.limits` is the
result, resolved once when the config loads. Every key is documented in docs/configuration.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MB = 1024 * 1024


class Timeouts(BaseModel):
    """Seconds. `first_byte` runs from sending the request to the response's headers and, for a stream,
    its first event; `idle` is the longest silence after that; `total` bounds the whole exchange."""

    model_config = ConfigDict(extra="forbid")
    connect: float = Field(default=10.0, gt=0)
    first_byte: float = Field(default=60.0, gt=0)
    idle: float = Field(default=60.0, gt=0)
    total: float = Field(default=900.0, gt=0)


class TimeoutOverrides(BaseModel):
    """A provider's own timeouts: any key left out is the `upstream.timeouts` one."""

    model_config = ConfigDict(extra="forbid")
    connect: float | None = Field(default=None, gt=0)
    first_byte: float | None = Field(default=None, gt=0)
    idle: float | None = Field(default=None, gt=0)
    total: float | None = Field(default=None, gt=0)


class UpstreamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeouts: Timeouts = Field(default_factory=Timeouts)
    max_connections: int = Field(default=256, ge=1)  # open connections per provider; more requests wait for one
    max_response_mb: float = Field(default=32.0, gt=0)  # a whole (non-streamed) answer, decompressed
    max_event_mb: float = Field(default=16.0, gt=0)  # one stream event (an SSE line, an event-stream message)
    keepalive: float = Field(default=15.0, ge=0)  # seconds of upstream silence before a client gets a ping; 0: none


@dataclass(frozen=True, slots=True)
class Limits:
    """One provider's resolved limits (seconds and bytes)."""

    connect: float
    first_byte: float
    idle: float
    total: float
    max_connections: int
    max_response_bytes: int
    max_event_bytes: int
    keepalive: float


DEFAULT_UPSTREAM = UpstreamConfig()


def resolve(defaults: UpstreamConfig, own: Any = None) -> Limits:
    """The limits of a provider whose config is `own`: its keys where it set them, else `defaults`."""

    def pick(name: str) -> Any:
        value = getattr(own, name, None)
        return getattr(defaults, name) if value is None else value

    def timeout(name: str) -> float:
        value = getattr(getattr(own, "timeouts", None), name, None)
        return float(getattr(defaults.timeouts, name) if value is None else value)

    return Limits(
        connect=timeout("connect"),
        first_byte=timeout("first_byte"),
        idle=timeout("idle"),
        total=timeout("total"),
        max_connections=int(pick("max_connections")),
        max_response_bytes=int(pick("max_response_mb") * MB),
        max_event_bytes=int(pick("max_event_mb") * MB),
        keepalive=float(pick("keepalive")),
    )


def migrate_legacy(data: dict[str, Any]) -> dict[str, Any]:
    """The older provider keys, still read: `connect_timeout` is `timeouts.connect`; `read_timeout` (the
    silence allowed between bytes, the wait for the headers included) is `timeouts.first_byte` and `idle`."""
    legacy = {key: data[key] for key in ("connect_timeout", "read_timeout") if key in data}
    if not legacy:
        return data
    data = {k: v for k, v in data.items() if k not in legacy}
    given = data.get("timeouts")
    timeouts = dict(given) if isinstance(given, dict) else {}
    mapping = {"connect_timeout": ("connect",), "read_timeout": ("first_byte", "idle")}
    for key, value in legacy.items():
        for name in mapping[key]:
            if name in timeouts:
                raise ValueError(f"{key} is the older spelling of timeouts.{name}: write only timeouts.{name}")
            timeouts[name] = value
    data["timeouts"] = timeouts
    return data
