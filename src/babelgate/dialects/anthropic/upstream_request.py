"""The body sent to an Anthropic upstream: encoded from ir (`encode_request`) or the
client's own body with a few fields changed (`passthrough`); thinking budgets by effort.
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.dialects.anthropic._wire import _reasoning, _render_part
from babelgate.dialects.anthropic.history import sanitize
from babelgate.dialects.base import EncodeOptions
from babelgate.reasoning import signed_by

MIN_BUDGET = 1024  # Anthropic's smallest thinking budget
BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32768}


def thinking_budget(effort: str) -> int:
    return BUDGETS.get(effort, 8192)


def _signed_here(part: ir.Part) -> bool:
    """Anthropic rejects thinking it did not sign: other models' reasoning stays behind."""
    return not isinstance(part, ir.ThinkingPart) or signed_by(part, "anthropic")


def _encode_message(message: ir.Message) -> dict[str, Any]:
    blocks = [b for b in (_render_part(p) for p in message.parts if _signed_here(p)) if b is not None]
    return {"role": message.role, "content": blocks}


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or 8192,
        "messages": [m for m in (_encode_message(m) for m in request.messages) if m["content"]],
    }
    if request.system:
        body["system"] = [{"type": "text", "text": p.text} for p in request.system]
    if request.tools:
        body["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools]
    if request.tool_choice:
        choice: dict[str, Any] = {"type": request.tool_choice.mode}
        if request.tool_choice.name:
            choice["name"] = request.tool_choice.name
        if request.parallel_tool_calls is False and request.tool_choice.mode != "none":
            choice["disable_parallel_tool_use"] = True
        body["tool_choice"] = choice
    elif request.parallel_tool_calls is False and request.tools:
        body["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
    for key, value in (("temperature", request.temperature), ("top_p", request.top_p), ("top_k", request.top_k)):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop_sequences"] = request.stop
    reasoning = request.reasoning
    forced = request.tool_choice is not None and request.tool_choice.mode in ("any", "tool")
    if reasoning and reasoning.effort != "none" and not forced:  # Anthropic refuses thinking with a forced tool
        budget = min(reasoning.budget or thinking_budget(reasoning.effort or "medium"), body["max_tokens"] - 1)
        if budget >= MIN_BUDGET:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            body.pop("top_k", None)  # thinking allows no top_k and only the default temperature
            body.pop("temperature", None)
    if request.response_schema is not None:
        body["output_format"] = {"type": "json_schema", "schema": request.response_schema}
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    return sanitize(body, model)


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for an Anthropic upstream: new model, clamped max_tokens, the routing variant's thinking."""
    body = dict(raw)
    body["model"] = model
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    wanted = request.reasoning
    if wanted is not None and wanted != _reasoning(raw):  # a routing variant such as `model(high)`
        if wanted.effort == "none":
            body.pop("thinking", None)
        else:
            body["thinking"] = {"type": "enabled", "budget_tokens": wanted.budget or thinking_budget(wanted.effort or "medium")}
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int) and isinstance(body.get("max_tokens"), int):
        budget = min(thinking["budget_tokens"], body["max_tokens"] - 1)  # the cap may have lowered max_tokens
        if budget < MIN_BUDGET:
            body.pop("thinking")
        else:
            body["thinking"] = {**thinking, "budget_tokens": budget}
    return sanitize(body, model)
