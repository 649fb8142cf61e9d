"""Tool-call ids every family takes, and the way back to the ids an upstream gave.

The strictest rules among the families: Anthropic wants `^[a-zA-Z0-9_-]+$`, OpenAI at most 40
characters, Bedrock Converse `[a-zA-Z0-9_-]{1,64}`. An id outside `[A-Za-z0-9_-]{1,40}` gets a
stable replacement (`toolu_` and a hash, so the same id maps the same way in every request):
in a client's history before it goes upstream, and in an upstream's reply before the client sees
it. The latter is remembered, so when the client sends it back the upstream gets its own id
again (some OpenAI-compatible servers check the ids they issued, such as `functions.Bash:0`).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict

from babelgate import ir

SAFE = re.compile(r"[A-Za-z0-9_-]{1,40}")
CAPACITY = 50_000


def safe_id(original: str) -> str:
    if SAFE.fullmatch(original):
        return original
    return "toolu_" + hashlib.blake2b(original.encode(), digest_size=12).hexdigest()


class IdMap:
    """The ids minted for an upstream's unsafe ones: minted -> original, the oldest forgotten first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._capacity = capacity
        self._original: OrderedDict[str, str] = OrderedDict()

    def mint(self, original: str) -> str:
        minted = safe_id(original)
        if minted != original:
            self._original[minted] = original
            self._original.move_to_end(minted)
            if len(self._original) > self._capacity:
                self._original.popitem(last=False)
        return minted

    def outbound(self, given: str) -> str:
        """The id to send upstream for an id in the client's history."""
        return self._original.get(given) or safe_id(given)


def rewrite_history(messages: list[ir.Message], ids: IdMap) -> int:
    """Every tool call and result id as the upstream should see it; how many changed."""
    changed = 0
    for message in messages:
        for part in message.parts:
            if isinstance(part, ir.ToolCallPart):
                new = ids.outbound(part.id)
                changed += new != part.id
                part.id = new
            elif isinstance(part, ir.ToolResultPart):
                new = ids.outbound(part.call_id)
                changed += new != part.call_id
                part.call_id = new
    return changed
