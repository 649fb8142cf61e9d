"""A client's Messages request into an `ir.Request`: `parse_request`.

Server-tool blocks, server tools and block types this code does not know are dropped (the client's
own body still carries them to an Anthropic upstream), deferred tools are kept only once a
`tool_reference` loaded them, and the billing header is taken out of the system prompt.
"""

from __future__ import annotations

from typing import Any

from babelgate import ir, reasoning
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.anthropic._wire import _block, _reasoning
from babelgate.errors import BadRequest


def _server_block(block: dict[str, Any]) -> bool:
    """A server tool's call or result (web search, code execution...): it ran on Anthropic's side and means nothing elsewhere."""
    kind = block.get("type")
    return isinstance(kind, str) and (
        kind in ("server_tool_use", "mcp_tool_use") or (kind.endswith("_tool_result") and kind != "tool_result")
    )


# The block types that mean something to another family. Others (`container_upload`, types newer than
# this code) are left out of the translated request and pass to an Anthropic upstream untouched.
KNOWN_BLOCKS = frozenset({"text", "image", "document", "thinking", "redacted_thinking", "tool_use", "tool_result"})


def _content(message: dict[str, Any], path: str) -> list[ir.Part]:
    content = message.get("content")
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{path}.content", "expected a string or an array of content blocks")
    return [_block(block, where) for where, block in items(content, f"{path}.content") if _translatable(block, where)]


def _translatable(block: dict[str, Any], path: str) -> bool:
    kind = need(block, "type", str, path)
    return kind in KNOWN_BLOCKS and not _server_block(block)


def _system(value: Any) -> list[ir.TextPart]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    if not isinstance(value, list):
        raise BadRequest("system", "expected a string or an array of text blocks")
    parts = []
    for where, block in items(value, "system"):
        parts.append(ir.TextPart(need(block, "text", str, where)))
    return parts


def _referenced_tools(messages: list[dict[str, Any]]) -> set[str]:
    """Names loaded by `tool_reference` blocks: deferred tools become visible only then."""
    names: set[str] = set()
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for inner in block["content"]:
                    if isinstance(inner, dict) and inner.get("type") == "tool_reference":
                        names.add(str(inner.get("tool_name")))
    return names


def _tools(body: dict[str, Any], messages: list[dict[str, Any]]) -> list[ir.Tool]:
    raw = field(body, "tools", list, "")
    if not raw:
        return []
    loaded = _referenced_tools(messages)
    tools = []
    for where, tool in items(raw, "tools"):
        if tool.get("type") not in (None, "custom"):
            continue  # Anthropic server tools (web_search, ...) only run on Anthropic's side
        name = need(tool, "name", str, where)
        if tool.get("defer_loading") and name not in loaded:
            continue
        schema = field(tool, "input_schema", dict, where) or {"type": "object", "properties": {}}
        tools.append(ir.Tool(name, field(tool, "description", str, where) or "", schema))
    return tools


def _tool_choice(body: dict[str, Any]) -> tuple[ir.ToolChoice | None, bool | None]:
    choice = field(body, "tool_choice", dict, "")
    if choice is None:
        return None, None
    mode = one_of(need(choice, "type", str, "tool_choice"), ("auto", "any", "tool", "none"), "tool_choice.type")
    name = need(choice, "name", str, "tool_choice") if mode == "tool" else None
    parallel = None if "disable_parallel_tool_use" not in choice else not choice["disable_parallel_tool_use"]
    return ir.ToolChoice(mode, name), parallel  # type: ignore[arg-type]


def _schema_format(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        schema: dict[str, Any] = fmt["schema"]
        return schema
    return None


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    raw_messages = need(body, "messages", list, "")
    messages: list[ir.Message] = []
    for where, message in items(raw_messages, "messages"):
        role = one_of(need(message, "role", str, where), ("user", "assistant", "system"), f"{where}.role")
        parts = _content(message, where)
        if role == "system" and not parts:
            continue
        messages.append(ir.Message(role, parts))  # type: ignore[arg-type]
    reasoning.open_messages(messages)  # another family's state, sealed in signatures we gave out
    tool_choice, parallel = _tool_choice(body)
    metadata = field(body, "metadata", dict, "") or {}
    return ir.Request(
        model=model or need(body, "model", str, ""),
        messages=messages,
        system=_system(body.get("system")),
        tools=_tools(body, raw_messages),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        max_tokens=field(body, "max_tokens", int, ""),
        temperature=field(body, "temperature", float, ""),
        top_p=field(body, "top_p", float, ""),
        top_k=field(body, "top_k", int, ""),
        stop=list(field(body, "stop_sequences", list, "") or []),
        stream=bool(field(body, "stream", bool, "")) if stream is None else stream,
        reasoning=_reasoning(body),
        response_schema=_schema_format(body),
        user=field(metadata, "user_id", str, "metadata"),
    )
