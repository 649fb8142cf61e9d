"""Opaque tool-call signatures that a client's dialect has no room for.

A Gemini upstream signs its function calls (`thoughtSignature`) and wants the signature back
with the history; Claude Code or an OpenAI client drops it. The gateway keeps each signature
under its tool-call id and puts it back when that call returns in a later request.
"""

from __future__ import annotations

from collections import OrderedDict

from babelgate import ir
from babelgate.addons.base import Addon, Context
from babelgate.call import Call

CAPACITY = 50_000


class SignatureCache:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._by_call: OrderedDict[str, str] = OrderedDict()

    def remember(self, call_id: str, signature: str) -> None:
        self._by_call[call_id] = signature
        self._by_call.move_to_end(call_id)
        if len(self._by_call) > self._capacity:
            self._by_call.popitem(last=False)

    def remember_parts(self, parts: list[ir.Part]) -> None:
        for part in parts:
            if isinstance(part, ir.ToolCallPart) and part.signature:
                self.remember(part.id, part.signature)

    def restore(self, request: ir.Request) -> None:
        """Give back their signatures to the assistant tool calls that lost them."""
        if not self._by_call:
            return
        for message in request.messages:
            if message.role != "assistant":
                continue
            for part in message.parts:
                if isinstance(part, ir.ToolCallPart) and not part.signature:
                    part.signature = self._by_call.get(part.id)


class Signatures(Addon):
    """Keeps the signatures of the tool calls that pass through and gives them back in later requests."""

    name = "signatures"
    kept_on_reload = ("cache",)  # conversations in progress still need what it learnt

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.cache = SignatureCache()

    def request(self, call: Call) -> ir.Response | None:
        self.cache.restore(call.request)
        return None

    def event(self, call: Call, event: ir.Event) -> None:
        if isinstance(event, ir.BlockStart) and event.signature:
            self.cache.remember(event.id, event.signature)

    def response(self, call: Call, response: ir.Response) -> None:
        self.cache.remember_parts(response.parts)
