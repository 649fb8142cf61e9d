"""What the Anthropic parts share: the error and effort tables, reading a content block
(a client's request, an upstream's response), writing one (a client's response, an
upstream's request), and reading a body's reasoning fields (`parse_request`, `passthrough`).
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.dialects._check import base64, field, items, need
from babelgate.errors import BadRequest, Kind

ERROR_TYPES: dict[Kind, str] = {
    Kind.INVALID_REQUEST: "invalid_request_error",
    Kind.AUTHENTICATION: "authentication_error",
    Kind.PERMISSION: "permission_error",
    Kind.NOT_FOUND: "not_found_error",
    Kind.TOO_LARGE: "request_too_large",
    Kind.RATE_LIMIT: "rate_limit_error",
    Kind.BILLING: "billing_error",
    Kind.OVERLOADED: "overloaded_error",
    Kind.UPSTREAM: "api_error",
    Kind.TIMEOUT: "timeout_error",
}
KIND_OF_TYPE = {v: k for k, v in ERROR_TYPES.items()}
EFFORTS: tuple[ir.EffortLevel, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def _media(block: dict[str, Any], path: str, kind: str) -> ir.MediaPart:
    source = need(block, "source", dict, path)
    where = f"{path}.source"
    source_type = need(source, "type", str, where)
    if source_type == "base64":
        return ir.MediaPart(
            need(source, "media_type", str, where),
            data=base64(need(source, "data", str, where), f"{where}.data"),
            kind=kind,  # type: ignore[arg-type]
        )
    if source_type == "url":
        url = need(source, "url", str, where)
        media_type = "application/pdf" if kind == "document" else _guess_image_type(url)
        return ir.MediaPart(media_type, url=url, kind=kind)  # type: ignore[arg-type]
    if source_type == "text" and kind == "document":
        return ir.MediaPart("text/plain", data=need(source, "data", str, where), kind="document")
    raise BadRequest(f"{where}.type", f"unsupported source type {source_type!r}")


def _guess_image_type(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for ext, media_type in ((".png", "image/png"), (".gif", "image/gif"), (".webp", "image/webp")):
        if lowered.endswith(ext):
            return media_type
    return "image/jpeg"


def _tool_result_content(block: dict[str, Any], path: str) -> list[ir.TextPart | ir.MediaPart]:
    content = block.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [ir.TextPart(content)]
    if not isinstance(content, list):
        raise BadRequest(f"{path}.content", "expected a string or an array")
    parts: list[ir.TextPart | ir.MediaPart] = []
    for where, item in items(content, f"{path}.content"):
        kind = need(item, "type", str, where)
        if kind == "text":
            parts.append(ir.TextPart(need(item, "text", str, where)))
        elif kind in ("image", "document"):
            parts.append(_media(item, where, kind))
        elif kind == "tool_reference":
            parts.append(ir.TextPart(f"Tool loaded: {need(item, 'tool_name', str, where)}"))
        elif kind == "search_result":
            texts = [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
            parts.append(ir.TextPart("\n".join([str(item.get("title", "")), *texts]).strip()))
        # another type means nothing to another family; the client's own body keeps it for Anthropic
    return parts


def _block(block: dict[str, Any], path: str) -> ir.Part:
    kind = need(block, "type", str, path)
    if kind == "text":
        return ir.TextPart(need(block, "text", str, path))
    if kind in ("image", "document"):
        return _media(block, path, kind)
    if kind == "thinking":
        return ir.ThinkingPart(need(block, "thinking", str, path), signature=field(block, "signature", str, path), family="anthropic")
    if kind == "redacted_thinking":
        return ir.ThinkingPart("", signature=need(block, "data", str, path), family="anthropic", redacted=True)
    if kind == "tool_use":
        arguments = block.get("input")
        if not isinstance(arguments, dict):
            raise BadRequest(f"{path}.input", "expected an object")
        return ir.ToolCallPart(need(block, "id", str, path), need(block, "name", str, path), arguments)
    if kind == "tool_result":
        return ir.ToolResultPart(
            need(block, "tool_use_id", str, path),
            _tool_result_content(block, path),
            is_error=bool(field(block, "is_error", bool, path)),
        )
    raise BadRequest(f"{path}.type", f"unsupported content block type {kind!r}")


def _reasoning(body: dict[str, Any]) -> ir.Reasoning | None:
    thinking = field(body, "thinking", dict, "")
    output_config = field(body, "output_config", dict, "") or {}
    effort = field(output_config, "effort", str, "output_config")
    if effort not in EFFORTS:
        effort = None  # a level newer than this code: Anthropic reads it from the client's own body
    if thinking is None:
        return ir.Reasoning(effort=effort) if effort else None
    mode = need(thinking, "type", str, "thinking")
    if mode not in ("enabled", "adaptive", "disabled"):
        return ir.Reasoning(effort=effort) if effort else None
    if mode == "disabled":
        return ir.Reasoning(effort="none")
    budget = field(thinking, "budget_tokens", int, "thinking") if mode == "enabled" else None
    return ir.Reasoning(effort=effort or ("medium" if budget is None else None), budget=budget)


def _media_block(part: ir.MediaPart) -> dict[str, Any]:
    if part.url is not None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    elif part.media_type == "text/plain":
        source = {"type": "text", "media_type": "text/plain", "data": part.data}
    else:
        source = {"type": "base64", "media_type": part.media_type, "data": part.data}
    return {"type": part.kind, "source": source}


def _render_part(part: ir.Part, family: str | None = "anthropic") -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ir.ThinkingPart):
        signature = part.signature if part.family == family else None
        if part.redacted:
            return {"type": "redacted_thinking", "data": signature} if signature else None
        return {"type": "thinking", "thinking": part.text, "signature": signature or ""}
    if isinstance(part, ir.ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ir.MediaPart):
        return _media_block(part)
    content = [_render_part(p) for p in part.content]
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id, "content": content}
    if part.is_error:
        block["is_error"] = True
    return block
