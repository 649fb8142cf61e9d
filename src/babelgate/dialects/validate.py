"""What every parsed request must satisfy before it is sent anywhere: value ranges and tool pairing.

The dialects' parsers check types as they read (dialects/_check.py, base64 included); this checks
the parsed `ir.Request` against the limits every upstream enforces, and names the offending
field as the caller's dialect spells it, so a bad request is a 400 from the gateway rather than
an upstream's (or a failover through every credential).
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.errors import BadRequest

# The wire name of each checked field, by dialect (`Dialect.name`).
_COMMON = {"max_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "stop": "stop"}
FIELDS: dict[str, dict[str, str]] = {
    "anthropic": {**_COMMON, "stop": "stop_sequences"},
    "openai": _COMMON,
    "openai-responses": {**_COMMON, "max_tokens": "max_output_tokens"},
    "gemini": {
        "max_tokens": "generationConfig.maxOutputTokens",
        "temperature": "generationConfig.temperature",
        "top_p": "generationConfig.topP",
        "top_k": "generationConfig.topK",
        "stop": "generationConfig.stopSequences",
    },
}
MAX_TEMPERATURE = {"anthropic": 1.0}  # others: 2.0


def check(dialect: str, body: dict[str, Any], request: ir.Request) -> None:
    """Raise `BadRequest` for the first value out of range or tool result without its call."""
    names = FIELDS.get(dialect, FIELDS["anthropic"])
    if dialect == "openai" and "max_completion_tokens" in body:
        names = {**names, "max_tokens": "max_completion_tokens"}
    if request.max_tokens is not None and request.max_tokens < 1:
        raise BadRequest(names["max_tokens"], f"must be at least 1, got {request.max_tokens}")
    top = MAX_TEMPERATURE.get(dialect, 2.0)
    if request.temperature is not None and not 0 <= request.temperature <= top:
        raise BadRequest(names["temperature"], f"must be between 0 and {top:g}, got {request.temperature:g}")
    if request.top_p is not None and not 0 <= request.top_p <= 1:
        raise BadRequest(names["top_p"], f"must be between 0 and 1, got {request.top_p:g}")
    if request.top_k is not None and request.top_k < 0:
        raise BadRequest(names["top_k"], f"must be at least 0, got {request.top_k}")
    for i, stop in enumerate(request.stop):
        if not isinstance(stop, str):
            raise BadRequest(f"{names['stop']}.{i}", "expected a string")
    for i, tool in enumerate(request.tools):
        if not tool.name:
            raise BadRequest(_tool_path(dialect, i), "a tool needs a non-empty name")


def _tool_path(dialect: str, index: int) -> str:
    return "tools" if dialect == "gemini" else f"tools.{index}.name"


def pairing(dialect: str, body: dict[str, Any], request: ir.Request) -> None:
    """Every tool result answers a tool call made before it (every upstream refuses one that does not).
    Checked after the request addons, which may repair a history (session_recovery). Gemini pairs a
    functionResponse with its functionCall by name when neither has an id."""
    calls: set[str] = set()
    names: set[str] = set()
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, ir.ToolCallPart):
                calls.add(part.id)
                names.add(part.name)
            elif isinstance(part, ir.ToolResultPart) and part.call_id not in calls:
                if dialect == "gemini" and part.name in names:
                    continue
                path, what = _locate(dialect, body, part)
                raise BadRequest(path, f"{what} answers no tool call made before it (id {part.call_id!r})")


def _locate(dialect: str, body: dict[str, Any], result: ir.ToolResultPart) -> tuple[str, str]:
    """Where the orphan result sits in the caller's body, and what the caller calls it."""
    if dialect == "openai":
        for i, message in enumerate(_list(body.get("messages"))):
            if _get(message, "tool_call_id") == result.call_id or _get(message, "name") == result.call_id:
                return f"messages.{i}.tool_call_id", "this tool message"
        return "messages", "a tool message"
    if dialect == "openai-responses":
        for i, item in enumerate(_list(body.get("input"))):
            if _get(item, "call_id") == result.call_id and str(_get(item, "type")).endswith("_output"):
                return f"input.{i}.call_id", "this function_call_output"
        return "input", "a function_call_output"
    if dialect == "gemini":
        for i, content in enumerate(_list(body.get("contents"))):
            for j, part in enumerate(_list(_get(content, "parts"))):
                response = _get(part, "functionResponse") or _get(part, "function_response")
                if isinstance(response, dict) and response.get("name") == result.name:
                    return f"contents.{i}.parts.{j}.functionResponse", "this functionResponse"
        return "contents", "a functionResponse"
    for i, message in enumerate(_list(body.get("messages"))):
        for j, block in enumerate(_list(_get(message, "content"))):
            if _get(block, "type") == "tool_result" and _get(block, "tool_use_id") == result.call_id:
                return f"messages.{i}.content.{j}.tool_use_id", "this tool_result"
    return "messages", "a tool_result"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None
