"""A client's Responses request into an `ir.Request`: `parse_request`.

Stateful requests are refused, tools no upstream serves are dropped (and a `tool_choice`
that forces one is refused), and records of server-run tool calls are skipped.
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.dialects._check import base64, field, items, need, one_of
from babelgate.dialects.openai_responses._wire import FAMILY, _reasoning_text
from babelgate.dialects.parts import load_arguments, parse_data_url
from babelgate.errors import BadRequest
from babelgate.reasoning import open_messages

EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
STATEFUL = ("previous_response_id", "conversation", "prompt")
RECORDS = {"web_search_call", "file_search_call", "image_generation_call", "code_interpreter_call", "mcp_list_tools", "tool_search_call"}


def _media(item: dict[str, Any], path: str, kind: str) -> ir.MediaPart:
    if field(item, "file_id", str, path) is not None:
        raise BadRequest(f"{path}.file_id", "file ids need OpenAI's Files API; send the content inline or by URL")
    if kind == "image":
        return parse_data_url(need(item, "image_url", str, path), "image", f"{path}.image_url")
    data = field(item, "file_data", str, path)
    if data is not None:
        if data.startswith("data:"):
            return parse_data_url(data, "document", f"{path}.file_data")
        filename = field(item, "filename", str, path) or ""
        return ir.MediaPart(
            "text/plain" if filename.endswith(".txt") else "application/pdf", data=base64(data, f"{path}.file_data"), kind="document"
        )
    return ir.MediaPart("application/pdf", url=need(item, "file_url", str, path), kind="document")


def _content(content: Any, path: str) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(path, "expected a string or an array of content parts")
    parts: list[ir.Part] = []
    for where, item in items(content, path):
        kind = need(item, "type", str, where)
        if kind in ("input_text", "output_text", "text"):
            parts.append(ir.TextPart(need(item, "text", str, where)))
        elif kind == "refusal":
            parts.append(ir.TextPart(need(item, "refusal", str, where)))
        elif kind in ("input_image", "input_file"):
            parts.append(_media(item, where, "image" if kind == "input_image" else "document"))
        else:
            raise BadRequest(f"{where}.type", f"unsupported content part type {kind!r}")
    return parts


def _output(item: dict[str, Any], path: str) -> list[ir.TextPart | ir.MediaPart]:
    value = item.get("output")
    if isinstance(value, str) or value is None:
        return [ir.TextPart(value)] if value else []
    return [p for p in _content(value, f"{path}.output") if isinstance(p, (ir.TextPart, ir.MediaPart))]


def _append(messages: list[ir.Message], role: ir.Role, parts: list[ir.Part], merge: bool) -> None:
    if merge and messages and messages[-1].role == role:
        last = messages[-1]
        if role == "assistant" or all(isinstance(p, ir.ToolResultPart) for p in last.parts):
            last.parts.extend(parts)
            return
    messages.append(ir.Message(role, parts))


def _input(body: dict[str, Any]) -> tuple[list[ir.TextPart], list[ir.Message]]:
    instructions = field(body, "instructions", str, "")
    system = [ir.TextPart(instructions)] if instructions else []
    raw = body.get("input")
    if isinstance(raw, str):
        return system, [ir.Message("user", [ir.TextPart(raw)])]
    if not isinstance(raw, list):
        raise BadRequest("input", "field required" if raw is None else "expected a string or an array of input items")
    messages: list[ir.Message] = []
    for where, item in items(raw, "input"):
        kind = field(item, "type", str, where) or "message"
        if kind == "message":
            role = one_of(need(item, "role", str, where), ("user", "assistant", "system", "developer"), f"{where}.role")
            parts = _content(item.get("content"), f"{where}.content")
            texts: list[ir.Part] = [p for p in parts if isinstance(p, ir.TextPart)]
            if role in ("system", "developer") and not messages:
                system.extend(p for p in parts if isinstance(p, ir.TextPart))
            elif role in ("system", "developer"):
                messages.append(ir.Message("system", texts))
            else:
                _append(messages, role, parts, merge=role == "assistant")  # type: ignore[arg-type]
        elif kind == "function_call":
            arguments = load_arguments(field(item, "arguments", str, where) or "")
            _append(
                messages, "assistant", [ir.ToolCallPart(need(item, "call_id", str, where), need(item, "name", str, where), arguments)], True
            )
        elif kind == "function_call_output":
            _append(messages, "user", [ir.ToolResultPart(need(item, "call_id", str, where), _output(item, where))], True)
        elif kind == "reasoning":
            signature = field(item, "encrypted_content", str, where)
            _append(messages, "assistant", [ir.ThinkingPart(_reasoning_text(item), signature=signature, family=FAMILY)], True)
        elif kind not in RECORDS:
            raise BadRequest(f"{where}.type", f"unsupported input item type {kind!r}")
    open_messages(messages)  # another family's state, sealed in encrypted_content we gave out
    return system, messages


def _tools(body: dict[str, Any]) -> tuple[list[ir.Tool], set[str]]:
    """The function tools, and the names of the tools dropped because no upstream serves them."""
    tools: list[ir.Tool] = []
    dropped: set[str] = set()
    for where, tool in items(field(body, "tools", list, "") or [], "tools"):
        kind = need(tool, "type", str, where)
        if kind != "function":
            nested = [t.get("name") for t in tool.get("tools") or [] if isinstance(t, dict)]
            dropped.update(str(n) for n in (tool.get("name"), *nested) if n)
            continue
        schema = field(tool, "parameters", dict, where) or {"type": "object", "properties": {}}
        tools.append(ir.Tool(need(tool, "name", str, where), field(tool, "description", str, where) or "", schema))
    return tools, dropped


def _forced(name: str, tools: list[ir.Tool], dropped: set[str], path: str) -> None:
    if any(t.name == name for t in tools):
        return
    if name in dropped:
        raise BadRequest(path, f"forces tool {name!r}, which is dropped: tools the upstream cannot serve are dropped")
    raise BadRequest(path, f"forces tool {name!r}, which is not among the function tools")


def _tool_choice(value: Any, tools: list[ir.Tool], dropped: set[str]) -> tuple[ir.ToolChoice | None, list[ir.Tool]]:
    if value is None:
        return None, tools
    if isinstance(value, str):
        mode = one_of(value, ("auto", "none", "required"), "tool_choice")
        if mode == "required" and not tools:
            raise BadRequest("tool_choice", "is 'required' but no function tool is left: tools the upstream cannot serve are dropped")
        return ir.ToolChoice("any" if mode == "required" else mode), tools  # type: ignore[arg-type]
    if not isinstance(value, dict):
        raise BadRequest("tool_choice", "expected a string or an object")
    kind = need(value, "type", str, "tool_choice")
    if kind == "function":
        name = need(value, "name", str, "tool_choice")
        _forced(name, tools, dropped, "tool_choice.name")
        return ir.ToolChoice("tool", name), tools
    if kind == "allowed_tools":
        mode = one_of(field(value, "mode", str, "tool_choice") or "auto", ("auto", "required"), "tool_choice.mode")
        allowed = {str(t.get("name")) for t in field(value, "tools", list, "tool_choice") or [] if isinstance(t, dict)}
        kept = [t for t in tools if t.name in allowed]
        if mode == "required" and not kept:
            raise BadRequest("tool_choice.tools", "requires a tool but none of the allowed tools is a function tool the upstream can serve")
        return ir.ToolChoice("any" if mode == "required" else "auto"), kept
    raise BadRequest("tool_choice.type", f"forces a {kind!r} tool, which is dropped: tools the upstream cannot serve are dropped")


def _text_format(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    fmt = field(field(body, "text", dict, "") or {}, "format", dict, "text")
    if not fmt:
        return None, False
    kind = one_of(need(fmt, "type", str, "text.format"), ("text", "json_object", "json_schema"), "text.format.type")
    if kind == "json_schema":
        return need(fmt, "schema", dict, "text.format"), True
    return None, kind == "json_object"


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    for key in STATEFUL:
        if body.get(key) is not None:
            raise BadRequest(key, "server-side state is not served by this gateway; send the full conversation in `input`")
    if field(body, "background", bool, ""):
        raise BadRequest("background", "background responses are not served; use stream or a plain request")
    system, messages = _input(body)
    tools, dropped = _tools(body)
    tool_choice, tools = _tool_choice(body.get("tool_choice"), tools, dropped)
    reasoning = field(body, "reasoning", dict, "")
    effort = field(reasoning, "effort", str, "reasoning") if reasoning is not None else None
    schema, json_mode = _text_format(body)
    return ir.Request(
        model=model or need(body, "model", str, ""),
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=field(body, "parallel_tool_calls", bool, ""),
        max_tokens=field(body, "max_output_tokens", int, ""),
        temperature=field(body, "temperature", float, ""),
        top_p=field(body, "top_p", float, ""),
        stream=bool(field(body, "stream", bool, "")) if stream is None else stream,
        stream_usage=True,
        reasoning=None if reasoning is None else ir.Reasoning(effort=one_of(effort, EFFORTS, "reasoning.effort") if effort else None),  # type: ignore[arg-type]
        response_schema=schema,
        json_mode=json_mode,
        user=field(body, "prompt_cache_key", str, "") or field(body, "user", str, ""),
    )
