"""OpenAI Chat Completions' checks on a conversation's tool calls, for a FakeUpstream script.

The real API refuses (400 invalid_request_error, these messages) an assistant message whose
`tool_calls` are not each answered by a `tool` message right after it, and a `tool` message that
answers no call of the assistant message before it. `strict_history(answer)` checks, then lets
`answer` reply.
"""

from __future__ import annotations

from typing import Any

from tests.fakes import openai_wire as wire
from tests.fakes.upstream import Received, Reply, Script

UNANSWERED = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. "
    "The following tool_call_ids did not have response messages: {ids}"
)
ORPHAN = "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'."


def problem(body: Any) -> str | None:
    messages = body.get("messages") if isinstance(body, dict) else None
    waiting: set[str] = set()
    for message in messages or []:
        role = message.get("role")
        if role == "tool":
            if message.get("tool_call_id") not in waiting:
                return ORPHAN
            waiting.discard(message["tool_call_id"])
            continue
        if waiting:
            return UNANSWERED.format(ids=", ".join(sorted(waiting)))
        if role == "assistant":
            waiting = {call["id"] for call in message.get("tool_calls") or []}
    return None


def strict_history(answer: Script) -> Script:
    def script(record: Received) -> Reply:
        found = problem(record.body)
        return wire.error(400, found, "invalid_request_error") if found else answer(record)

    return script
