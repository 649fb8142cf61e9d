"""Reasoning state for clients that cannot carry it: a cache in the store, shared like cooldowns.

Most clients carry every family's reasoning state themselves, sealed into a field they send back
(reasoning.py): nothing is kept here for them. An OpenAI Chat client has no such field, and some
clients drop signatures. For those, each answer's state (thinking with its signature, a Gemini
tool call's `thoughtSignature`) is written to the store under the answer's tool-call ids, or, for
an answer without tool calls, under a hash of its text and of the message before it; all scoped
to the client's credential, with a TTL. When that answer comes back in a later request without
its state, the state is put back, for the upstream of the family that made it (the encoders
drop it for any other). The write is awaited before the answer's last bytes leave (`settle`),
so the client's next request finds it on any worker or instance that shares the store.

Options (`addons: {signatures: {...}}`): `cache`: `auto` (the default: for OpenAI Chat clients),
`always` (for every client, which also helps clients that strip signatures) or `off`;
`ttl`: seconds an entry is kept (default 86400).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson

from babelgate import ir
from babelgate.addons.base import Addon, Context
from babelgate.call import Call
from babelgate.config import ConfigError

log = logging.getLogger("babelgate.addons.signatures")
TTL = 86400.0
CARRY_NOTHING = ("openai",)  # client dialects with no field for reasoning state
AUTH_HEADERS = ("x-api-key", "authorization", "x-goog-api-key", "api-key")


def _scope(call: Call) -> str:
    """The client's credential, hashed: one client's cached state never reaches another's requests."""
    secret = next((call.headers[h] for h in AUTH_HEADERS if h in call.headers), "")
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _digest(message: ir.Message | None) -> str:
    if message is None:
        return ""
    pieces = [p.text if isinstance(p, ir.TextPart) else p.call_id if isinstance(p, ir.ToolResultPart) else "" for p in message.parts]
    return hashlib.sha256("\x1f".join(pieces).encode()).hexdigest()


def _keys(scope: str, parts: list[ir.Part], before: ir.Message | None) -> list[str]:
    calls = [p.id for p in parts if isinstance(p, ir.ToolCallPart)]
    if calls:
        return [f"{scope}:call:{call_id}" for call_id in calls]
    text = "".join(p.text for p in parts if isinstance(p, ir.TextPart))
    if not text:
        return []
    return [f"{scope}:text:{hashlib.sha256((_digest(before) + chr(31) + text).encode()).hexdigest()}"]


def _state(parts: list[ir.Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.ThinkingPart) and (part.signature or part.text):
            out.append({"t": part.text, "s": part.signature, "f": part.family, "r": part.redacted})
        elif isinstance(part, ir.ToolCallPart) and part.signature:
            out.append({"call": part.id, "s": part.signature})
    return out


def _carries_state(message: ir.Message) -> bool:
    return any(isinstance(p, (ir.ThinkingPart, ir.ToolCallPart)) and p.signature for p in message.parts)


def _restore(message: ir.Message, state: list[dict[str, Any]]) -> None:
    calls = {p.id: p for p in message.parts if isinstance(p, ir.ToolCallPart)}
    thinking: list[ir.Part] = []
    for item in state:
        if "call" in item:
            call = calls.get(str(item["call"]))
            if call is not None and not call.signature:
                call.signature = item.get("s")
        else:
            thinking.append(ir.ThinkingPart(str(item.get("t") or ""), item.get("s"), item.get("f"), bool(item.get("r"))))
    texts = {p.text for p in thinking if isinstance(p, ir.ThinkingPart)}
    rest = [p for p in message.parts if not (isinstance(p, ir.ThinkingPart) and p.text in texts)]  # the client's unsigned copies
    message.parts = [*thinking, *rest]


class Signatures(Addon):
    """Writes the reasoning state of answers to clients that cannot carry it, and puts it back later."""

    name = "signatures"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.mode = str(context.options.get("cache", "auto"))
        if self.mode not in ("auto", "always", "off"):
            raise ConfigError(f"addons.signatures.cache: expected auto, always or off, not {self.mode!r}")
        ttl = context.options.get("ttl", TTL)
        if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or ttl <= 0:
            raise ConfigError("addons.signatures.ttl: expected a positive number of seconds")
        self.ttl = float(ttl)

    def _caching(self, call: Call) -> bool:
        return self.mode == "always" or (self.mode == "auto" and call.inbound.name in CARRY_NOTHING)

    async def request(self, call: Call) -> ir.Response | None:
        if not self._caching(call):
            return None
        scope, messages = _scope(call), call.request.messages
        wanting = {
            i: _keys(scope, m.parts, messages[i - 1] if i else None)
            for i, m in enumerate(messages)
            if m.role == "assistant" and not _carries_state(m)
        }
        keys = [key for found in wanting.values() for key in found]
        if not keys:
            return None
        cached = await self.context.store.get_reasoning(keys)
        restored = False
        for index, found in wanting.items():
            value = next((cached[key] for key in found if key in cached), None)
            if value is not None:
                _restore(messages[index], orjson.loads(value))
                restored = True
        if restored and call.raw is not None:
            call.raw = None  # the client's own body lacks what came back: encode the request afresh
        return None

    def event(self, call: Call, event: ir.Event) -> None:
        if self._caching(call):
            call.notes["signatures"] = ir.accumulate(event, call.notes.get("signatures"))

    def response(self, call: Call, response: ir.Response) -> None:
        if self._caching(call):
            call.notes["signatures"] = ir.Snapshot(response)

    async def settle(self, call: Call) -> None:
        snapshot = call.notes.get("signatures")
        if not isinstance(snapshot, ir.Snapshot) or snapshot.error is not None:
            return
        parts = snapshot.response.parts
        state = _state(parts)
        if not state:
            return
        messages = call.request.messages
        keys = _keys(_scope(call), parts, messages[-1] if messages else None)
        if keys:
            value = orjson.dumps(state).decode()
            await self.context.store.put_reasoning(dict.fromkeys(keys, value), self.ttl)
