"""The body sent to an OpenAI-compatible upstream: encoded from ir (`encode_request`) or
the client's own body with a few fields changed (`passthrough`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from babelgate import ir
from babelgate.dialects.base import EncodeOptions
from babelgate.dialects.openai_chat._wire import _tool_call
from babelgate.dialects.parts import data_url, tool_result_text


def _content(parts: Sequence[ir.Part]) -> str | list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ir.MediaPart) and part.kind == "image":
            blocks.append({"type": "image_url", "image_url": {"url": data_url(part)}})
        elif isinstance(part, ir.MediaPart) and part.media_type == "text/plain":
            blocks.append({"type": "text", "text": part.data or ""})
        elif isinstance(part, ir.MediaPart):
            blocks.append({"type": "file", "file": {"filename": "document.pdf", "file_data": data_url(part)}})
    if all(b["type"] == "text" for b in blocks):
        return "\n\n".join(b["text"] for b in blocks)
    return blocks


def _tool_turn_replies(messages: list[ir.Message]) -> set[int]:
    """The assistant messages of the turns (from one user prompt to the next) in which tools were called.

    DeepSeek's thinking mode wants the reasoning of exactly these back in every later request
    (a 400 otherwise) and ignores the rest, so `echo_reasoning` sends it for these only."""
    marked: set[int] = set()
    turn: list[int] = []
    called = False
    for index, message in enumerate(messages):
        if message.role == "user" and not all(isinstance(p, ir.ToolResultPart) for p in message.parts):
            marked.update(turn if called else ())
            turn, called = [], False
        elif message.role == "assistant":
            turn.append(index)
            called = called or any(isinstance(p, ir.ToolCallPart) for p in message.parts)
    marked.update(turn if called else ())
    return marked


def _own_reasoning(message: ir.Message) -> list[str]:
    """The reasoning text this family wrote; another family's is not this model's to continue."""
    return [p.text for p in message.parts if isinstance(p, ir.ThinkingPart) and p.family in ("openai", None)]


def _encode_messages(request: ir.Request, options: EncodeOptions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": "\n\n".join(p.text for p in request.system)})
    echoed = _tool_turn_replies(request.messages) if options.echo_reasoning else set()
    for index, message in enumerate(request.messages):
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": "".join(p.text for p in message.parts if isinstance(p, ir.TextPart))}
            calls = [_tool_call(p) for p in message.parts if isinstance(p, ir.ToolCallPart)]
            if calls:
                entry["tool_calls"] = calls
            if index in echoed:  # "" when it was lost (another model's turn): the field must be there
                entry["reasoning_content"] = "".join(_own_reasoning(message))
            out.append(entry)
            continue
        if message.role == "system":
            out.append({"role": "system", "content": "\n\n".join(p.text for p in message.parts if isinstance(p, ir.TextPart))})
            continue
        # Tool results become `tool` messages, which must directly follow the assistant's calls.
        results = [p for p in message.parts if isinstance(p, ir.ToolResultPart)]
        rest = [p for p in message.parts if not isinstance(p, ir.ToolResultPart)]
        for result in results:
            out.append({"role": "tool", "tool_call_id": result.call_id, "content": tool_result_text(result)})
            rest.extend(p for p in result.content if isinstance(p, ir.MediaPart))
        if rest:
            out.append({"role": "user", "content": _content(rest)})
    return out


def _effort(reasoning: ir.Reasoning) -> str | None:
    """The `reasoning_effort` for a reasoning request; a token budget maps to the nearest level. None leaves the default."""
    if reasoning.effort is not None:
        return "high" if reasoning.effort in ("xhigh", "max") else reasoning.effort
    if reasoning.budget is None:
        return None
    return "low" if reasoning.budget <= 2048 else "medium" if reasoning.budget <= 8192 else "high"


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _encode_messages(request, options)}
    if request.max_tokens is not None:
        body[options.max_tokens_field] = request.max_tokens
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    choice = request.tool_choice
    if choice is not None and (request.tools or choice.mode == "none"):
        if choice.mode == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        else:
            body["tool_choice"] = {"any": "required"}.get(choice.mode, choice.mode)
    for key, value in (("temperature", request.temperature), ("top_p", request.top_p)):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop"] = request.stop[:4]
    effort = _effort(request.reasoning) if request.reasoning and options.reasoning_effort else None
    if effort is not None:
        body["reasoning_effort"] = effort
    if request.response_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": request.response_schema}}
    elif request.json_mode:
        body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for an OpenAI-compatible upstream: new model, the token limit the router settled on
    (in the field the client used; the provider's `max_tokens_field` is applied after)."""
    body = dict(raw)
    body["model"] = model
    if request.max_tokens is not None:
        key = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        body.pop("max_tokens", None)
        body[key] = request.max_tokens
    wanted = request.reasoning
    if wanted is not None and wanted != ir.Reasoning(effort=raw.get("reasoning_effort")):  # a routing variant such as `model(high)`
        effort = _effort(wanted)
        if effort is not None:
            body["reasoning_effort"] = effort
    return body
