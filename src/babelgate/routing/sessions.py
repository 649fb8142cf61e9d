"""What identifies a conversation, for sticky routing."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import orjson

from babelgate import ir

STICKY_TTL = 24 * 3600.0  # how long a conversation stays bound to its credential


def session_key(request: ir.Request, headers: Mapping[str, str]) -> str:
    """Claude Code's session header, else the session id or user in the request, else the first user turn."""
    if headers.get("x-claude-code-session-id"):
        return headers["x-claude-code-session-id"]
    if request.user:
        try:
            user = orjson.loads(request.user)
            if isinstance(user, dict) and user.get("session_id"):
                return str(user["session_id"])
        except orjson.JSONDecodeError:
            pass
        return request.user
    first = next((m for m in request.messages if m.role == "user"), None)
    text = "".join(p.text for p in first.parts if isinstance(p, ir.TextPart)) if first else ""
    return hashlib.sha256(text.encode()).hexdigest()[:32]
