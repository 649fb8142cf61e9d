"""One client request on its way through the gateway: what the server, addons and the attempt loop share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from babelgate import ir
from babelgate.dialects.base import Dialect
from babelgate.errors import UpstreamError
from babelgate.providers.base import Attempt, BodyHook, NoHooks


@dataclass(slots=True)
class Call:
    inbound: Dialect  # the client's dialect
    request: ir.Request
    headers: Mapping[str, str]  # the client's, case-insensitive
    raw: dict[str, Any] | None = None  # the client's body, for same-dialect pass-through
    hooks: BodyHook = field(default_factory=NoHooks)  # the addons' view of each upstream body
    session: str = ""  # the conversation, when a sticky strategy is in play
    failures: list[tuple[Attempt, UpstreamError]] = field(default_factory=list)  # each failed try
    served: Attempt | None = None  # the attempt that answered
    notes: dict[str, Any] = field(default_factory=dict)  # scratch space for addons, keyed by addon name
    reply_headers: dict[str, str] = field(default_factory=dict)  # headers an addon adds to the client's reply
    answered_by: str = ""  # the addon that answered without an upstream, for the log line
    first_byte: float | None = None  # perf_counter time of the first streamed content to the client
    continued: bool = False  # another upstream continues the stream a failed one opened: rendered from then on
    usage: ir.Usage | None = None  # the final usage, as the client was told it
    transcript: bytearray | None = None  # what was streamed to the client, kept when observe.capture asks
