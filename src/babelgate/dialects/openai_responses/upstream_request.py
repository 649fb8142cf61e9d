"""The body sent to a Responses upstream: encoded from ir (`encode_request`, stateless:
`store` false, reasoning echoed only as this family's encrypted content) or the client's
own body with a few fields changed (`passthrough`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects.base import EncodeOptions
from babelgate.dialects.openai_responses._wire import FAMILY, _encode_tool_choice
from babelgate.dialects.parts import data_url, tool_result_text
from babelgate.reasoning import is_envelope, signed_by


def _input_part(part: ir.Part) -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        return {"type": "input_text", "text": part.text}
    if not isinstance(part, ir.MediaPart):
        return None
    if part.kind == "image":
        return {"type": "input_image", "image_url": data_url(part), "detail": "auto"}
    if part.media_type == "text/plain" and part.data is not None:
        return {"type": "input_text", "text": part.data}
    if part.url is not None:
        return {"type": "input_file", "file_url": part.url}
    return {"type": "input_file", "filename": "document.pdf", "file_data": data_url(part)}


def _result_output(result: ir.ToolResultPart) -> str | list[dict[str, Any]]:
    if all(isinstance(p, ir.TextPart) for p in result.content):
        return tool_result_text(result)
    parts = [_input_part(p) for p in result.content]
    if result.is_error:
        parts.insert(0, {"type": "input_text", "text": "[tool error]"})
    return [p for p in parts if p is not None]


def _encode_assistant(message: ir.Message, out: list[dict[str, Any]]) -> None:
    for part in message.parts:
        if isinstance(part, ir.TextPart):
            if out and out[-1].get("role") == "assistant":
                out[-1]["content"][0]["text"] += part.text
            else:
                out.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": part.text}]})
        elif isinstance(part, ir.ToolCallPart):
            out.append({"type": "function_call", "call_id": part.id, "name": part.name, "arguments": orjson.dumps(part.arguments).decode()})
        elif isinstance(part, ir.ThinkingPart) and signed_by(part, FAMILY):  # no id: items are not stored (`store` false)
            summary = [{"type": "summary_text", "text": part.text}] if part.text else []
            out.append({"type": "reasoning", "summary": summary, "encrypted_content": part.signature})


def _encode_input(request: ir.Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "assistant":
            _encode_assistant(message, out)
            continue
        role = "developer" if message.role == "system" else "user"
        for result in (p for p in message.parts if isinstance(p, ir.ToolResultPart)):
            out.append({"type": "function_call_output", "call_id": result.call_id, "output": _result_output(result)})
        content = [c for c in (_input_part(p) for p in message.parts) if c is not None]
        if content:
            out.append({"type": "message", "role": role, "content": content})
    return out


def _effort(reasoning: ir.Reasoning) -> str | None:
    """The Responses effort for a reasoning request; None leaves the model's default."""
    if reasoning.effort is not None:
        return "xhigh" if reasoning.effort == "max" else reasoning.effort
    if reasoning.budget is None:
        return None
    return "low" if reasoning.budget <= 2048 else "medium" if reasoning.budget <= 8192 else "high"


def _cache_key(user: str) -> str:
    return user if len(user) <= 64 else f"bg-{hashlib.sha256(user.encode()).hexdigest()[:40]}"


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": _encode_input(request), "store": False}
    if request.system:
        body["instructions"] = "\n\n".join(p.text for p in request.system)
    if request.tools:
        body["tools"] = [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": False}
            for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None and (request.tools or request.tool_choice.mode == "none"):
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    for key, value in (("max_output_tokens", request.max_tokens), ("temperature", request.temperature), ("top_p", request.top_p)):
        if value is not None:
            body[key] = value
    if request.reasoning is not None and options.reasoning_effort:
        effort = _effort(request.reasoning)
        body["reasoning"] = {} if effort == "none" else {"summary": "auto"}
        if effort is not None:
            body["reasoning"]["effort"] = effort
        if effort != "none":
            body["include"] = ["reasoning.encrypted_content"]
    if request.response_schema is not None:
        body["text"] = {"format": {"type": "json_schema", "name": "response", "schema": request.response_schema, "strict": False}}
    elif request.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    if request.user:
        body["prompt_cache_key"] = _cache_key(request.user)
    if request.stream:
        body["stream"] = True
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for a Responses upstream: new model, the router's token limit, changed effort."""
    body = dict(raw)
    body["model"] = model
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    reasoning: dict[str, Any] = body["reasoning"] if isinstance(body.get("reasoning"), dict) else {}
    if request.reasoning is not None and request.reasoning.effort is not None and request.reasoning.effort != reasoning.get("effort"):
        body["reasoning"] = {**reasoning, "effort": _effort(request.reasoning)}
    return _sanitize(body)


def _sanitize(body: dict[str, Any]) -> dict[str, Any]:
    """Reasoning items that hold another family's envelope stay home; a stateless request with
    reasoning asks for its encrypted content, so the state can travel with the client's history."""
    items = body.get("input")
    if isinstance(items, list):
        kept = [i for i in items if not (isinstance(i, dict) and i.get("type") == "reasoning" and is_envelope(i.get("encrypted_content")))]
        if len(kept) != len(items):
            body["input"] = kept
    given = body.get("include")
    include: list[Any] = given if isinstance(given, list) else []
    wanted = body.get("reasoning")
    thinks = isinstance(wanted, dict) and wanted.get("effort") != "none"
    if body.get("store") is False and thinks and "reasoning.encrypted_content" not in include:
        body["include"] = [*include, "reasoning.encrypted_content"]
    return body
