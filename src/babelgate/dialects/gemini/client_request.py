"""A client's generateContent request into an `ir.Request`: `parse_request` (the model
and the stream flag come from the URL).
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.gemini._wire import _camel, _Ids, _part, _reasoning
from babelgate.dialects.gemini_schema import to_json_schema
from babelgate.errors import BadRequest
from babelgate.reasoning import open_messages


def _contents(body: dict[str, Any]) -> list[ir.Message]:
    ids = _Ids()
    messages: list[ir.Message] = []
    for ci, (where, content) in enumerate(items(need(body, "contents", list, ""), "contents")):
        role = one_of(field(content, "role", str, where) or "user", ("user", "model", "function"), f"{where}.role")
        parts: list[ir.Part] = []
        for pi, (path, part) in enumerate(items(field(content, "parts", list, where) or [], f"{where}.parts")):
            parts.extend(_part(part, path, ids, (ci, pi)))
        messages.append(ir.Message("assistant" if role == "model" else "user", parts))
    open_messages(messages)  # another family's state, sealed in signatures we gave out
    return messages


def _system(body: dict[str, Any]) -> list[ir.TextPart]:
    value = body.get("systemInstruction")
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    if value is None:
        return []
    if not isinstance(value, dict):
        raise BadRequest("systemInstruction", "expected an object with parts")
    parts = items(field(value, "parts", list, "systemInstruction") or [], "systemInstruction.parts")
    return [ir.TextPart(need(p, "text", str, where)) for where, p in parts if p.get("text")]


def _tools(body: dict[str, Any]) -> tuple[list[ir.Tool], set[str]]:
    tools: list[ir.Tool] = []
    dropped: set[str] = set()
    for where, tool in items(field(body, "tools", list, "") or [], "tools"):
        tool = _camel(tool)
        dropped.update(k for k in tool if k != "functionDeclarations")
        for path, decl in items(field(tool, "functionDeclarations", list, where) or [], f"{where}.functionDeclarations"):
            decl = _camel(decl)
            raw = decl.get("parametersJsonSchema", decl.get("parameters"))
            if raw is not None and not isinstance(raw, dict):
                raise BadRequest(f"{path}.parameters", "expected an object")
            schema = to_json_schema(raw) if raw else {"type": "object", "properties": {}}
            tools.append(ir.Tool(need(decl, "name", str, path), field(decl, "description", str, path) or "", schema))
    return tools, dropped


def _tool_choice(body: dict[str, Any], tools: list[ir.Tool], dropped: set[str]) -> tuple[ir.ToolChoice | None, list[ir.Tool]]:
    config = _camel(field(body, "toolConfig", dict, "") or {})
    calling = field(config, "functionCallingConfig", dict, "toolConfig")
    if calling is None:
        return None, tools
    path = "toolConfig.functionCallingConfig"
    calling = _camel(calling)
    mode = one_of(
        (field(calling, "mode", str, path) or "AUTO").upper(), ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"), f"{path}.mode"
    )
    if mode == "NONE":
        return ir.ToolChoice("none"), tools
    if mode != "ANY":
        return ir.ToolChoice("auto"), tools
    allowed = field(calling, "allowedFunctionNames", list, path)
    kept = [t for t in tools if allowed is None or t.name in allowed]
    if not kept:
        why = "tools the upstream cannot serve are dropped" if dropped else "no function declaration matches"
        raise BadRequest(f"{path}.allowedFunctionNames" if allowed else f"{path}.mode", f"forces a function call, but {why}")
    if len(kept) == 1 and allowed is not None:
        return ir.ToolChoice("tool", kept[0].name), tools
    return ir.ToolChoice("any"), kept


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    body = _camel(body)
    config = _camel(field(body, "generationConfig", dict, "") or {})
    count = field(config, "candidateCount", int, "generationConfig")
    if count is not None and count > 1:
        raise BadRequest("generationConfig.candidateCount", "only one candidate is served; send one request per candidate")
    top_k = field(config, "topK", float, "generationConfig")
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    tools, dropped = _tools(body)
    tool_choice, tools = _tool_choice(body, tools, dropped)
    return ir.Request(
        model=(model or need(body, "model", str, "")).removeprefix("models/"),
        messages=_contents(body),
        system=_system(body),
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=field(config, "maxOutputTokens", int, "generationConfig"),
        temperature=field(config, "temperature", float, "generationConfig"),
        top_p=field(config, "topP", float, "generationConfig"),
        top_k=int(top_k) if top_k is not None else None,
        stop=[str(s) for s in field(config, "stopSequences", list, "generationConfig") or []],
        stream=bool(stream),
        stream_usage=True,
        reasoning=_reasoning(config),
        response_schema=to_json_schema(schema) if isinstance(schema, dict) else None,
        json_mode=field(config, "responseMimeType", str, "generationConfig") == "application/json",
    )
