"""One row per request: who asked, for what, which upstream served it after which attempts, and how it went.

The server builds a `RequestRecord` when a request ends (`record_of`); the observer counts it in
the metrics, keeps the recent ones for the dashboard and hands them to the store's request log.
Bodies are kept only when `observe.capture` asks for them (`capture.py` redacts and caps them).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, fields
from typing import Any

from babelgate.call import Call
from babelgate.ids import new_id

_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id(given: str | None) -> str:
    """The client's own `x-request-id` when it is a plain token, else a new one."""
    if given and _CLIENT_ID.fullmatch(given):
        return given
    return f"req_{new_id()}"


@dataclass(slots=True)
class Attempted:
    target: str  # provider/model
    credential: str  # the credential's slot id (provider#n), never a key
    status: int | None  # the upstream's status; None when it was unreachable
    reason: str  # the failure's classification (rate_limit, auth, ...)
    message: str


@dataclass(slots=True)
class RequestRecord:
    id: str
    started: float  # unix time
    method: str
    path: str
    status: int
    latency_ms: float
    dialect: str = ""  # the client's wire format
    client: str = ""  # the client key's name, when keys have names
    model: str = ""  # as the client asked
    target: str = ""  # provider/model that served, or "" when none did
    provider: str = ""
    credential: str = ""
    stream: bool = False
    ttft_ms: float | None = None  # first byte of a stream
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: float = 0.0  # USD, from the price table
    session: str = ""
    client_session: str = ""  # the client's own session id (Claude Code's X-Claude-Code-Session-Id)
    error: str = ""  # what the client was told, when the status is not 2xx
    attempts: list[Attempted] = field(default_factory=list)  # the failed tries before the one that served
    request_body: bytes | None = None  # captured only when observe.capture asks
    response_body: bytes | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the bodies, as plain JSON values (by hand: `dataclasses.asdict` deep-copies, 4x slower)."""
        data = {name: getattr(self, name) for name in SUMMARY_FIELDS}
        data["attempts"] = [
            {"target": a.target, "credential": a.credential, "status": a.status, "reason": a.reason, "message": a.message}
            for a in self.attempts
        ]
        data["captured"] = self.request_body is not None
        return data


SUMMARY_FIELDS = tuple(f.name for f in fields(RequestRecord) if f.name not in ("attempts", "request_body", "response_body"))


def record_of(rid: str, method: str, path: str, status: int, started: float, call: Call | None, error: str = "") -> RequestRecord:
    """The record of a request that took `time.perf_counter() - started` seconds (`call` when it got that far)."""
    now = time.perf_counter()
    record = RequestRecord(rid, time.time() - (now - started), method, path, status, round((now - started) * 1000, 2), error=error)
    if call is None:
        return record
    record.dialect = call.inbound.name
    record.model = call.request.model
    record.stream = call.request.stream
    record.session = call.session
    record.client_session = call.headers.get("x-claude-code-session-id", "")[:128]
    record.attempts = [
        Attempted(a.target, a.credential.id, e.upstream_status, e.failure.reason.value, e.message[:300]) for a, e in call.failures
    ]
    served = call.served
    if served is not None:
        record.target, record.provider, record.credential = served.target, served.credential.provider, served.credential.id
    if call.first_byte is not None:
        record.ttft_ms = round((call.first_byte - started) * 1000, 2)
    usage = call.usage
    if usage is not None:
        record.input_tokens, record.output_tokens = usage.input_tokens, usage.output_tokens
        record.cache_read_tokens, record.cache_write_tokens = usage.cache_read_tokens, usage.cache_write_tokens
    return record


def route_header(call: Call) -> str | None:
    """`x-babelgate-route`: the target served, its credential slot, and how many attempts it took."""
    served = call.served
    if served is None:
        return None
    return f"target={served.target}; credential={served.credential.id}; attempts={len(call.failures) + 1}"
