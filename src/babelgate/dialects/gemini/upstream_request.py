"""The body sent to a Gemini upstream: encoded from ir (`encode_request`), with thinking
set by model generation, or the client's own body with a few fields changed (`passthrough`).
"""

from __future__ import annotations

import re
from typing import Any

from babelgate import ir
from babelgate.dialects.anthropic import thinking_budget
from babelgate.dialects.base import EncodeOptions
from babelgate.dialects.gemini._wire import _camel, _media, _model_parts, _reasoning
from babelgate.dialects.gemini.history import sanitize
from babelgate.dialects.gemini_schema import clean_schema

LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH", "max": "HIGH"}


def _model_generation(model: str) -> int | None:
    found = re.search(r"gemini-(\d+)", model)
    return int(found.group(1)) if found else None


def _user_parts(message: ir.Message, names: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ir.ToolResultPart):
            text = "\n".join(p.text for p in part.content if isinstance(p, ir.TextPart))
            response = {"error" if part.is_error else "output": text}
            fname = part.name or names.get(part.call_id) or part.call_id
            out.append({"functionResponse": {"id": part.call_id, "name": fname, "response": response}})
            media.extend(_media(p) for p in part.content if isinstance(p, ir.MediaPart))
        elif isinstance(part, ir.TextPart) and part.text:
            media.append({"text": part.text})
        elif isinstance(part, ir.MediaPart):
            media.append(_media(part))
    return out + media


def _thinking_config(reasoning: ir.Reasoning, model: str) -> dict[str, Any]:
    generation = _model_generation(model)
    legacy = generation is not None and generation < 3
    if reasoning.effort == "none":  # 2.5 Pro cannot switch thinking off: its floor is 128 tokens
        return {"thinkingBudget": 128 if "-pro" in model else 0} if legacy else {"thinkingLevel": _level("minimal", model)}
    config: dict[str, Any] = {"includeThoughts": True}
    if reasoning.budget is not None:
        config["thinkingBudget"] = reasoning.budget
    elif reasoning.effort is not None and legacy:
        config["thinkingBudget"] = thinking_budget(reasoning.effort)
    elif reasoning.effort is not None:
        config["thinkingLevel"] = _level(reasoning.effort, model)
    return config


def _level(effort: str, model: str) -> str:
    """Gemini 3 Pro models take only LOW and HIGH; Flash models take all four levels."""
    level = LEVELS[effort]
    if "-pro" in model and level in ("MINIMAL", "MEDIUM"):
        return "LOW" if level == "MINIMAL" else "HIGH"
    return level


def _declaration(tool: ir.Tool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    parameters = clean_schema(tool.parameters)
    if parameters:
        declaration["parameters"] = parameters
    return declaration


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    names = {p.id: p.name for m in request.messages for p in m.parts if isinstance(p, ir.ToolCallPart)}
    placeholder = (_model_generation(model) or 0) >= 3
    contents = []
    for message in request.messages:
        if message.role == "assistant":
            parts, role = _model_parts(message.parts, True, placeholder), "model"
        else:
            parts, role = _user_parts(message, names), "user"
        if parts:
            contents.append({"role": role, "parts": parts})
    body: dict[str, Any] = {"contents": contents}
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": p.text} for p in request.system]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    choice = request.tool_choice
    if choice is not None and (request.tools or choice.mode == "none"):
        calling: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE"}.get(choice.mode, "ANY")}
        if choice.mode == "tool":
            calling["allowedFunctionNames"] = [choice.name]
        body["toolConfig"] = {"functionCallingConfig": calling}
    config: dict[str, Any] = {}
    for key, value in (
        ("maxOutputTokens", request.max_tokens),
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("topK", request.top_k),
    ):
        if value is not None:
            config[key] = value
    if request.stop:
        config["stopSequences"] = request.stop[:5]
    if request.response_schema is not None or request.json_mode:
        config["responseMimeType"] = "application/json"
        if request.response_schema is not None:
            config["responseJsonSchema"] = request.response_schema
    if request.reasoning is not None and not re.search(r"gemini-(1\.|2\.0)", model):  # 1.x and 2.0 do not think
        config["thinkingConfig"] = _thinking_config(request.reasoning, model)
    if config:
        body["generationConfig"] = config
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for a Gemini upstream (the model is in the URL): only the router's token
    limit and a changed reasoning level (a routing variant) are written in."""
    body = _camel(raw)
    config = _camel(body.get("generationConfig") or {})
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.reasoning is not None and request.reasoning != _reasoning(config):
        include = _camel(config.get("thinkingConfig") or {}).get("includeThoughts")
        thinking = _thinking_config(request.reasoning, model)
        config["thinkingConfig"] = thinking if include is None else {**thinking, "includeThoughts": include}
    if config:
        body["generationConfig"] = config
    return sanitize(body, (_model_generation(model) or 0) >= 3)
