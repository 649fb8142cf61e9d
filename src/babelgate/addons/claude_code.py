"""Claude Code's per-prompt billing header stays with Anthropic and leaves requests for other families.

Claude Code puts `x-anthropic-billing-header: cc_version=...;` first in `system`. An Anthropic
upstream gets it as sent (Claude Code's gateway contract says to forward it: attribution and
auto mode's classifier depend on it): on the same-dialect path the client's own body goes
upstream untouched. Every other family gets the translated request, without it: it changes with
every prompt, so it would defeat that upstream's prefix cache.
"""

from __future__ import annotations

from babelgate import ir
from babelgate.addons.base import Addon
from babelgate.call import Call

BILLING_HEADER = "x-anthropic-billing-header:"


class ClaudeCode(Addon):
    name = "claude_code"

    def request(self, call: Call) -> ir.Response | None:
        """The translated request (what other families get) loses the header; the client's own body keeps it."""
        if any(part.text.startswith(BILLING_HEADER) for part in call.request.system):
            call.request.system = [part for part in call.request.system if not part.text.startswith(BILLING_HEADER)]
        return None
