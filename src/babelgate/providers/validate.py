"""Is an upstream's 2xx body a response of its dialect? `problem(dialect, body)` says what is wrong, or None.

The dialects' parsers are lenient (a field left out gets its default), so `{"foo": 1}` would parse as
an empty message with zero usage; this checks the fields every real response of the format has
(from the providers' API references), so a wrong-shape answer is a 502 that fails over before the
client sees a byte. Only the envelope is checked: what is inside stays the parser's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _anthropic(body: dict[str, Any]) -> str | None:
    # {"type": "message", "role": "assistant", "content": [...], "stop_reason": ..., "usage": {...}}
    if body.get("type") != "message":
        return '"type" is not "message"'
    return None if isinstance(body.get("content"), list) else '"content" is not an array'


def _openai_chat(body: dict[str, Any]) -> str | None:
    # {"object": "chat.completion", "choices": [{"index", "message": {...}, "finish_reason"}], "usage": {...}}
    choices = body.get("choices")
    if not isinstance(choices, list):
        return '"choices" is not an array'
    if not all(isinstance(choice, dict) and isinstance(choice.get("message"), dict) for choice in choices):
        return 'a choice has no "message" object'
    return None


def _openai_responses(body: dict[str, Any]) -> str | None:
    # {"object": "response", "status": "completed", "output": [...], "usage": {...}}
    if body.get("object") not in (None, "response"):
        return '"object" is not "response"'
    return None if isinstance(body.get("output"), list) else '"output" is not an array'


def _gemini(body: dict[str, Any]) -> str | None:
    # {"candidates": [{"content": {...}, "finishReason"}], "usageMetadata": {...}}; a blocked prompt has
    # no candidates but {"promptFeedback": {"blockReason": ...}}
    if isinstance(body.get("candidates"), list) or isinstance(body.get("promptFeedback"), dict):
        return None
    return 'neither "candidates" nor "promptFeedback"'


def _bedrock_converse(body: dict[str, Any]) -> str | None:
    # {"output": {"message": {"role", "content"}}, "stopReason", "usage", "metrics"}
    output = body.get("output")
    return None if isinstance(output, dict) and isinstance(output.get("message"), dict) else 'no "output.message" object'


_CHECKS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "anthropic": _anthropic,
    "openai": _openai_chat,
    "openai-responses": _openai_responses,
    "gemini": _gemini,
    "bedrock_converse": _bedrock_converse,
}


def problem(dialect: str, body: Any) -> str | None:
    """Why `body` is not a whole response of `dialect` (a dialect's `name`), or None when it may be one."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    check = _CHECKS.get(dialect)
    return None if check is None else check(body)
