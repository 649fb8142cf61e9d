"""A client's chat completions request into an `ir.Request`: `parse_request`.

System and developer messages before the first turn become the system prompt; `tool` and
`function` messages become tool results in a user message.
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.parts import load_arguments, parse_data_url
from babelgate.errors import BadRequest

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def _user_parts(content: Any, path: str) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise BadRequest(path, "expected a string or an array of content parts")
    parts: list[ir.Part] = []
    for where, item in items(content, path):
        kind = need(item, "type", str, where)
        if kind in ("text", "input_text", "output_text", "refusal"):
            parts.append(ir.TextPart(need(item, "refusal" if kind == "refusal" else "text", str, where)))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise BadRequest(f"{where}.image_url.url", "field required")
            parts.append(parse_data_url(url, "image", f"{where}.image_url.url"))
        elif kind == "file":
            file = need(item, "file", dict, where)
            data = field(file, "file_data", str, f"{where}.file")
            if data is None:
                raise BadRequest(f"{where}.file.file_data", "only inline file_data is supported, not file_id")
            parts.append(parse_data_url(data, "document", f"{where}.file.file_data"))
        else:
            raise BadRequest(f"{where}.type", f"unsupported content part type {kind!r}")
    return parts


def _assistant_parts(message: dict[str, Any], path: str) -> list[ir.Part]:
    parts: list[ir.Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ir.ThinkingPart(reasoning, family="openai"))
    parts.extend(_user_parts(message.get("content"), f"{path}.content"))
    for where, call in items(field(message, "tool_calls", list, path) or [], f"{path}.tool_calls"):
        function = need(call, "function", dict, where)
        arguments = field(function, "arguments", str, f"{where}.function") or ""
        parts.append(
            ir.ToolCallPart(need(call, "id", str, where), need(function, "name", str, f"{where}.function"), load_arguments(arguments))
        )
    return parts


def _messages(raw: list[Any]) -> tuple[list[ir.TextPart], list[ir.Message]]:
    system: list[ir.TextPart] = []
    messages: list[ir.Message] = []
    for where, message in items(raw, "messages"):
        role = one_of(need(message, "role", str, where), ("system", "developer", "user", "assistant", "tool", "function"), f"{where}.role")
        if role in ("system", "developer"):
            texts = [p for p in _user_parts(message.get("content"), f"{where}.content") if isinstance(p, ir.TextPart)]
            if not messages:
                system.extend(texts)
            elif texts:  # an empty one would reach Anthropic as a message with no content: a 400
                messages.append(ir.Message("system", list(texts)))
        elif role == "assistant":
            messages.append(ir.Message("assistant", _assistant_parts(message, where)))
        elif role in ("tool", "function"):
            call_id = need(message, "tool_call_id", str, where) if role == "tool" else need(message, "name", str, where)
            content = [p for p in _user_parts(message.get("content"), f"{where}.content") if isinstance(p, (ir.TextPart, ir.MediaPart))]
            result = ir.ToolResultPart(call_id, content)
            if messages and messages[-1].role == "user" and all(isinstance(p, ir.ToolResultPart) for p in messages[-1].parts):
                messages[-1].parts.append(result)
            else:
                messages.append(ir.Message("user", [result]))
        else:
            messages.append(ir.Message("user", _user_parts(message.get("content"), f"{where}.content")))
    return system, messages


def _tools(body: dict[str, Any]) -> list[ir.Tool]:
    tools = []
    for where, tool in items(field(body, "tools", list, "") or [], "tools"):
        if tool.get("type", "function") != "function":
            raise BadRequest(f"{where}.type", f"unsupported tool type {tool.get('type')!r}; only function tools are served")
        function = need(tool, "function", dict, where)
        schema = field(function, "parameters", dict, f"{where}.function") or {"type": "object", "properties": {}}
        tools.append(
            ir.Tool(
                need(function, "name", str, f"{where}.function"), field(function, "description", str, f"{where}.function") or "", schema
            )
        )
    return tools


def _tool_choice(value: Any) -> ir.ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        mode = one_of(value, ("auto", "none", "required"), "tool_choice")
        return ir.ToolChoice("any" if mode == "required" else mode)  # type: ignore[arg-type]
    if isinstance(value, dict):
        function = need(value, "function", dict, "tool_choice")
        return ir.ToolChoice("tool", need(function, "name", str, "tool_choice.function"))
    raise BadRequest("tool_choice", "expected a string or an object")


def _response_format(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    fmt = field(body, "response_format", dict, "")
    if not fmt:
        return None, False
    kind = one_of(need(fmt, "type", str, "response_format"), ("text", "json_object", "json_schema"), "response_format.type")
    if kind == "json_schema":
        spec = need(fmt, "json_schema", dict, "response_format")
        return field(spec, "schema", dict, "response_format.json_schema") or {"type": "object"}, True
    return None, kind == "json_object"


def _max_tokens(body: dict[str, Any]) -> int | None:
    value = field(body, "max_completion_tokens", int, "")
    return field(body, "max_tokens", int, "") if value is None else value


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    n = field(body, "n", int, "")
    if n is not None and n > 1:
        raise BadRequest("n", "only n=1 is served; send one request per completion")
    system, messages = _messages(need(body, "messages", list, ""))
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, (str, list)):
        raise BadRequest("stop", "expected a string or an array of strings")
    effort = field(body, "reasoning_effort", str, "")
    schema, json_mode = _response_format(body)
    stream_options = field(body, "stream_options", dict, "") or {}
    return ir.Request(
        model=model or need(body, "model", str, ""),
        messages=messages,
        system=system,
        tools=_tools(body),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=field(body, "parallel_tool_calls", bool, ""),
        max_tokens=_max_tokens(body),
        temperature=field(body, "temperature", float, ""),
        top_p=field(body, "top_p", float, ""),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
        stream=bool(field(body, "stream", bool, "")) if stream is None else stream,
        stream_usage=bool(stream_options.get("include_usage")),
        reasoning=ir.Reasoning(effort=one_of(effort, EFFORTS, "reasoning_effort")) if effort else None,  # type: ignore[arg-type]
        response_schema=schema,
        json_mode=json_mode,
        user=field(body, "user", str, ""),
    )
