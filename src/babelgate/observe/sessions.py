"""A bounded summary per Claude Code session: what its own telemetry says (OTLP metrics, log events
and spans, as server/telemetry.py decodes them) beside what the gateway served for it (its requests,
matched by the `X-Claude-Code-Session-Id` header).

Bounded everywhere: at most MAX_SESSIONS sessions (the least recently active is dropped), and per
session at most MAX_NAMES distinct tools, models, events or span names and MAX_RECENT recent events.
No prompt text, tool input or user identity is kept: counts, names, costs and timings only.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

MAX_SESSIONS = 500
MAX_NAMES = 50
MAX_RECENT = 40
MAX_SERIES = 200  # cumulative metric series remembered per session (their last value)
_SESSION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# The metric names Claude Code exports (its monitoring docs), and what each is kept as.
METRICS = {
    "claude_code.cost.usage": "cost_usd",
    "claude_code.token.usage": "tokens",
    "claude_code.lines_of_code.count": "lines",
    "claude_code.commit.count": "commits",
    "claude_code.pull_request.count": "pull_requests",
    "claude_code.active_time.total": "active_seconds",
    "claude_code.session.count": "starts",
    "claude_code.code_edit_tool.decision": "edit_decisions",
}
# Log-event attributes worth showing in the recent-events list (never `prompt`, tool input or parameters).
EVENT_DETAIL = ("model", "tool_name", "success", "decision", "status_code", "error", "cost_usd", "duration_ms", "prompt_length")


def session_id(value: Any) -> str | None:
    return value if isinstance(value, str) and _SESSION_ID.fullmatch(value) else None


def _bump(counts: dict[str, float], name: str, by: float = 1.0) -> None:
    if name in counts or len(counts) < MAX_NAMES:
        counts[name] = counts.get(name, 0.0) + by


@dataclass
class Session:
    id: str
    first_seen: float
    last_seen: float
    client: dict[str, str] = field(default_factory=dict)  # service.version, terminal.type, os.type
    telemetry: dict[str, Any] = field(default_factory=dict)  # totals from Claude Code's own metrics and events
    events: dict[str, float] = field(default_factory=dict)  # log events by name
    tools: dict[str, float] = field(default_factory=dict)  # tool results by tool name
    tool_failures: int = 0
    api_errors: int = 0
    spans: dict[str, float] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=lambda: {"metrics": 0, "logs": 0, "traces": 0})
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_RECENT))
    gateway: dict[str, Any] = field(default_factory=dict)  # what babelgate served for this session
    _series: dict[tuple[str, str], float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "client": self.client,
            "telemetry": self.telemetry,
            "events": self.events,
            "tools": self.tools,
            "tool_failures": self.tool_failures,
            "api_errors": self.api_errors,
            "spans": self.spans,
            "signals": self.signals,
            "recent": list(self.recent),
            "gateway": self.gateway,
        }


class Sessions:
    def __init__(self) -> None:
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.dropped = 0  # telemetry items that named no session

    def session(self, sid: str, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        found = self.sessions.get(sid)
        if found is None:
            found = self.sessions[sid] = Session(sid, now, now)
            while len(self.sessions) > MAX_SESSIONS:
                self.sessions.popitem(last=False)
        found.last_seen = max(found.last_seen, now)
        self.sessions.move_to_end(sid)
        return found

    def client_info(self, session: Session, attributes: dict[str, Any]) -> None:
        for key in ("service.version", "terminal.type", "os.type"):
            value = attributes.get(key)
            if isinstance(value, str) and key not in session.client:
                session.client[key] = value[:64]

    def metric(self, session: Session, name: str, attributes: dict[str, Any], value: float, cumulative: bool) -> None:
        """One data point of a sum or gauge; a cumulative point adds what grew since the series' last one."""
        kept = METRICS.get(name)
        if kept is None:
            return
        session.signals["metrics"] += 1
        if cumulative:
            series = (name, repr(sorted((k, str(v)) for k, v in attributes.items() if k != "session.id")))
            last = session._series.get(series)
            if last is not None or len(session._series) < MAX_SERIES:
                session._series[series] = value
            value = value - last if last is not None and value >= last else value
        totals = session.telemetry
        if kept in ("tokens", "lines", "edit_decisions"):
            kind = str(attributes.get("type") or attributes.get("decision") or "other")
            _bump(totals.setdefault(kept, {}), kind, value)
        else:
            totals[kept] = totals.get(kept, 0.0) + value
        model = attributes.get("model")
        if kept == "cost_usd" and isinstance(model, str):
            _bump(totals.setdefault("cost_by_model", {}), model, value)

    def event(self, session: Session, name: str, attributes: dict[str, Any], when: float) -> None:
        session.signals["logs"] += 1
        _bump(session.events, name)
        if name == "tool_result":
            _bump(session.tools, str(attributes.get("tool_name") or "?"))
            if str(attributes.get("success")).lower() == "false":
                session.tool_failures += 1
        elif name == "api_error":
            session.api_errors += 1
        elif name == "user_prompt":
            session.telemetry["prompts"] = session.telemetry.get("prompts", 0) + 1
        detail = {k: attributes[k] for k in EVENT_DETAIL if k in attributes}
        session.recent.append(
            {"time": when, "event": name, **{k: v if isinstance(v, int | float | bool) else str(v)[:200] for k, v in detail.items()}}
        )

    def span(self, session: Session, name: str) -> None:
        session.signals["traces"] += 1
        _bump(session.spans, name)

    def request(self, summary: dict[str, Any]) -> None:
        """A request the gateway finished (the observer's summary); counted when it named a Claude Code session."""
        sid = session_id(summary.get("client_session"))
        if sid is None:
            return
        gateway = self.session(sid, summary["started"]).gateway
        gateway["requests"] = gateway.get("requests", 0) + 1
        gateway["errors"] = gateway.get("errors", 0) + (summary["status"] >= 400)
        gateway["failovers"] = gateway.get("failovers", 0) + len(summary.get("attempts") or [])
        gateway["input_tokens"] = gateway.get("input_tokens", 0) + summary["input_tokens"] + summary["cache_read_tokens"]
        gateway["output_tokens"] = gateway.get("output_tokens", 0) + summary["output_tokens"]
        gateway["cost"] = round(gateway.get("cost", 0.0) + summary["cost"], 8)
        _bump(gateway.setdefault("served", {}), summary["target"] or "(not served)")
        gateway["last_request"] = summary["id"]

    def listing(self) -> list[dict[str, Any]]:
        """The sessions, the most recently active first."""
        return [session.as_json() for session in reversed(self.sessions.values())]
