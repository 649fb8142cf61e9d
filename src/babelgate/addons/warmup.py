"""Probes answered by the gateway itself: no upstream call, no tokens spent (`addons: {warmup: true}`).

A request whose last user message is a probe gets text `OK`, `end_turn`, usage 1/1 and the
header `X-Warmup-Intercepted: true` (a stream gets the whole SSE sequence). The probes:

- `Warmup`, at any `max_tokens` (Antigravity-Manager's rule; older Claude Code releases warmed
  their subagents with it);
- what Claude Code 2.1.328 sends with `max_tokens: 1` and a one-message conversation: `quota`
  (its quota check), `count` (counting tools by a model request, with no messages to count;
  answered with the gateway's own estimate as input tokens, as `/v1/messages/count_tokens`
  would), `test` (its API-key check), `.` (its start-up model check) and `Hi` (the check
  `/model NAME` makes before it switches).

Claude Code's `<system-reminder>` blocks in the same turn do not count. Only a model the gateway
routes is answered, so an unknown name still gets its clear error. In the flows tried with
2.1.328 through `ANTHROPIC_BASE_URL` (`-p`, the TUI's start, `/model` switches) it sent none of
these; its binary sends them from the code paths named above.
Off by default; `addons: {warmup: true}` switches it on.
"""

from __future__ import annotations

import logging
import secrets

from babelgate import ir, tokens
from babelgate.addons.base import Addon, Context
from babelgate.call import Call
from babelgate.errors import GatewayError
from babelgate.routing.models import ModelResolver

log = logging.getLogger("babelgate.addons.warmup")
HEADER = "X-Warmup-Intercepted"
ANY_LENGTH = frozenset({"warmup"})
ONE_TOKEN = frozenset({"quota", "count", "test", ".", "hi"})
REMINDER = "<system-reminder>"  # blocks Claude Code adds to a user turn; they are not what the user said


def probe(request: ir.Request) -> str | None:
    """The probe `request` is (lowercased), or None for a real request."""
    turns = [m for m in request.messages if m.role != "system"]
    if not turns or turns[-1].role != "user":
        return None
    parts = [p for p in turns[-1].parts if not (isinstance(p, ir.TextPart) and p.text.startswith(REMINDER))]
    if not parts or not all(isinstance(p, ir.TextPart) for p in parts):
        return None
    text = "".join(p.text for p in parts if isinstance(p, ir.TextPart)).strip().lower()
    if text in ANY_LENGTH:
        return text
    if text in ONE_TOKEN and request.max_tokens == 1 and len(turns) == 1:
        return text
    return None


def answer(request: ir.Request, kind: str) -> ir.Response:
    input_tokens = max(1, tokens.estimate(request)) if kind == "count" else 1
    usage = ir.Usage(input_tokens=input_tokens, output_tokens=1)
    return ir.Response(f"msg_warmup_{secrets.token_hex(12)}", request.model, [ir.TextPart("OK")], "end_turn", usage=usage)


class Warmup(Addon):
    name = "warmup"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.resolver = ModelResolver(context.config)

    def request(self, call: Call) -> ir.Response | None:
        kind = probe(call.request)
        if kind is None or not self._routable(call.request.model):
            return None
        log.info("warmup: answered a %r probe for %s without an upstream call", kind, call.request.model)
        call.reply_headers[HEADER] = "true"
        call.answered_by = self.name
        return answer(call.request, kind)

    def _routable(self, model: str) -> bool:
        try:
            self.resolver.resolve(model)
        except GatewayError:
            return False
        return True
