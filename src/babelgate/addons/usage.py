"""Usage accounting: tokens per credential and model for `/account-limits` and the store.

Upstreams that report no usage in their streams (llama.cpp) get an estimate, which also
reaches the client: an estimate beats zeros. The count is in the store before the end of the answer
reaches the client (`settle`, store/journal.py), so a crash never loses an answer's usage.
"""

from __future__ import annotations

from babelgate import ir, tokens
from babelgate.addons.base import Addon
from babelgate.call import Call

CHARS = "usage.chars"  # the call's note: characters produced so far


class Usage(Addon):
    name = "usage"

    def event(self, call: Call, event: ir.Event) -> None:
        if isinstance(event, ir.TextDelta | ir.ThinkingDelta):
            call.notes[CHARS] = call.notes.get(CHARS, 0) + len(event.text)
        elif isinstance(event, ir.ToolArgsDelta):
            call.notes[CHARS] = call.notes.get(CHARS, 0) + len(event.partial_json)
        elif isinstance(event, ir.Finish):
            if event.usage.input_tokens == event.usage.output_tokens == 0:
                event.usage = estimated_usage(call.request, call.notes.get(CHARS, 0))
            self._record(call, event.usage)

    def response(self, call: Call, response: ir.Response) -> None:
        self._record(call, response.usage)

    async def settle(self, call: Call) -> None:
        router = self.context.router
        if call.served is not None and router is not None:
            await router.journal.durable()

    def _record(self, call: Call, usage: ir.Usage) -> None:
        if call.served is not None:
            self.context.ledger.record(call.served.credential, call.served.model, usage)


def estimated_usage(request: ir.Request, output_chars: int) -> ir.Usage:
    return ir.Usage(input_tokens=tokens.estimate(request), output_tokens=-(-output_chars // tokens.CHARS_PER_TOKEN))
