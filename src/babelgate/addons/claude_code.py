"""Claude Code's per-prompt billing header leaves the system prompt before it goes upstream.

Claude Code puts `x-anthropic-billing-header: cc_version=...;` first in `system`; it changes
with every prompt, so forwarding it would defeat the upstream's prompt cache.
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.addons.base import Addon
from babelgate.call import Call
from babelgate.providers.base import Attempt

BILLING_HEADER = "x-anthropic-billing-header:"


class ClaudeCode(Addon):
    name = "claude_code"

    def request(self, call: Call) -> ir.Response | None:
        if any(part.text.startswith(BILLING_HEADER) for part in call.request.system):
            call.request.system = [part for part in call.request.system if not part.text.startswith(BILLING_HEADER)]
        return None

    def upstream_request(self, attempt: Attempt, body: dict[str, Any]) -> None:
        """The same-dialect path sends the client's own body: take the header out of it there."""
        system = body.get("system") if attempt.passthrough else None
        if isinstance(system, list):
            body["system"] = [b for b in system if not (isinstance(b, dict) and str(b.get("text", "")).startswith(BILLING_HEADER))]
