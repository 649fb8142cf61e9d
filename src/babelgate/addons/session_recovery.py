"""Histories an upstream would refuse, repaired before they go (`addons: {session_recovery: false}` to stop).

- An assistant `tool_use` with no `tool_result` after it (the user pressed Esc mid-tool, a
  crash, a client that lost it) gets a synthetic result saying the call was interrupted, where
  the next user turn begins (a user turn is added when there is none before the next assistant
  turn). Every API refuses the history otherwise (Anthropic: "tool_use ids were found without
  tool_result blocks immediately after"; OpenAI: "An assistant message with 'tool_calls' must be
  followed by tool messages").
- A `tool_result` whose `tool_use` is gone (compaction cut it out) becomes plain text.
- Tool-call ids outside what every family takes are rewritten there and back (addons/tool_ids.py).

The translated request is repaired; so is the client's own Anthropic body on the pass-through
path (for another dialect's own body the repaired request is encoded instead). Each request's
repairs are logged in one line.
"""

from __future__ import annotations

import logging
from typing import Any

from babelgate import ir
from babelgate.addons.base import Addon, Context
from babelgate.addons.tool_ids import IdMap, rewrite_history
from babelgate.call import Call

log = logging.getLogger("babelgate.addons.session_recovery")
INTERRUPTED = "interrupted: this tool call did not finish, so there is no result (the session was interrupted before it came back)"


def _result_text(content: list[ir.TextPart | ir.MediaPart]) -> str:
    return "\n".join(p.text if isinstance(p, ir.TextPart) else f"[{p.kind}]" for p in content)


def repair_history(messages: list[ir.Message]) -> tuple[list[ir.Message], list[str]]:
    """The messages with every tool call answered and every result attached to its call; what was done."""
    out: list[ir.Message] = []
    done: list[str] = []
    pending: list[str] = []  # ids of the last assistant turn's calls, not answered yet
    for message in messages:
        if message.role == "system":
            out.append(message)
            continue
        if message.role == "assistant":
            if pending:
                out.append(ir.Message("user", _synthetic(pending, done)))
            pending = [p.id for p in message.parts if isinstance(p, ir.ToolCallPart)]
            out.append(message)
            continue
        parts: list[ir.Part] = []
        answered: set[str] = set()
        for part in message.parts:
            if isinstance(part, ir.ToolResultPart) and part.call_id not in pending:
                done.append(f"tool_result {part.call_id} has no tool_use: kept as text")
                parts.append(ir.TextPart(f"[result of tool call {part.call_id}]\n{_result_text(part.content)}"))
                continue
            if isinstance(part, ir.ToolResultPart):
                answered.add(part.call_id)
            parts.append(part)
        missing = [call_id for call_id in pending if call_id not in answered]
        out.append(ir.Message("user", [*_synthetic(missing, done), *parts]) if missing or parts != message.parts else message)
        pending = []
    return out, done


def _synthetic(call_ids: list[str], done: list[str]) -> list[ir.Part]:
    done.extend(f"tool_use {call_id} has no tool_result: answered as interrupted" for call_id in call_ids)
    return [ir.ToolResultPart(call_id, [ir.TextPart(INTERRUPTED)], is_error=True) for call_id in call_ids]


def repair_anthropic_body(body: dict[str, Any]) -> dict[str, Any]:
    """The same repairs on a client's own Messages body (a new dict; the client's is not edited)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    out: list[Any] = []
    pending: list[str] = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role == "assistant":
            if pending:
                out.append({"role": "user", "content": _raw_synthetic(pending)})
            content = message.get("content")
            blocks = content if isinstance(content, list) else []
            pending = [b["id"] for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use" and isinstance(b.get("id"), str)]
        elif role == "user":
            message = _raw_user(message, pending)
            pending = []
        out.append(message)
    return {**body, "messages": out}


def _raw_user(message: dict[str, Any], pending: list[str]) -> dict[str, Any]:
    content = message.get("content")
    blocks = content if isinstance(content, list) else ([{"type": "text", "text": content}] if content else [])
    fixed: list[Any] = []
    answered: set[str] = set()
    for block in blocks:
        is_result = isinstance(block, dict) and block.get("type") == "tool_result"
        if is_result and block.get("tool_use_id") not in pending:
            fixed.append({"type": "text", "text": f"[result of tool call {block.get('tool_use_id')}]\n{_raw_text(block.get('content'))}"})
            continue
        if is_result:
            answered.add(block["tool_use_id"])
        fixed.append(block)
    missing = [call_id for call_id in pending if call_id not in answered]
    if not missing and fixed == blocks:
        return message
    return {**message, "content": [*_raw_synthetic(missing), *fixed]}


def _raw_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(str(b.get("text", "")) if b.get("type") == "text" else f"[{b.get('type')}]" for b in content if isinstance(b, dict))


def _raw_synthetic(call_ids: list[str]) -> list[dict[str, Any]]:
    return [{"type": "tool_result", "tool_use_id": i, "content": INTERRUPTED, "is_error": True} for i in call_ids]


class SessionRecovery(Addon):
    name = "session_recovery"
    kept_on_reload = ("ids",)  # conversations in progress still need what it learnt

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self.ids = IdMap()

    def request(self, call: Call) -> ir.Response | None:
        request = call.request
        request.messages, done = repair_history(request.messages)
        renamed = rewrite_history(request.messages, self.ids)
        if renamed:
            done.append(f"{renamed} tool ids rewritten to the form every upstream takes")
        if not done:
            return None
        level = logging.WARNING if len(done) > (1 if renamed else 0) else logging.INFO  # ids alone are routine
        log.log(level, "session_recovery: %s: %s", request.model, "; ".join(done))
        if call.raw is not None:
            call.raw = repair_anthropic_body(call.raw) if call.inbound.name == "anthropic" else None
        return None

    def event(self, call: Call, event: ir.Event) -> None:
        if isinstance(event, ir.BlockStart) and event.kind == "tool_call":
            event.id = self.ids.mint(event.id)

    def response(self, call: Call, response: ir.Response) -> None:
        for part in response.parts:
            if isinstance(part, ir.ToolCallPart):
                part.id = self.ids.mint(part.id)
