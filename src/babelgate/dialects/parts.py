"""Small conversions several dialects share: data URLs, tool-call arguments, OpenAI usage, tool-result text."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from babelgate import ir
from babelgate.dialects._check import base64
from babelgate.errors import BadRequest


def data_url(part: ir.MediaPart) -> str:
    """The part as a URL: its own, or a base64 `data:` URL."""
    return part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"


def parse_data_url(url: str, kind: Literal["image", "document"], path: str = "") -> ir.MediaPart:
    if url.startswith("data:") and ";base64," in url:
        header, data = url[5:].split(";base64,", 1)
        return ir.MediaPart(header or "application/octet-stream", data=base64(data, path), kind=kind)
    if url.startswith("data:"):
        raise BadRequest(path, "a data: URL must be base64 (data:<media type>;base64,<data>)")
    return ir.MediaPart("image/jpeg" if kind == "image" else "application/pdf", url=url, kind=kind)


def load_arguments(raw: str) -> dict[str, Any]:
    """Tool-call arguments from their JSON text; never fails (malformed text is kept under `_raw_arguments`)."""
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"_raw_arguments": raw}
    return value if isinstance(value, dict) else {"value": value}


def openai_usage(usage: dict[str, Any] | None, prompt: str = "prompt", completion: str = "completion") -> ir.Usage:
    """OpenAI token counts in ir terms: OpenAI's prompt count includes cache reads and writes, ir's input does not.
    Chat Completions says `prompt_tokens` / `completion_tokens`; Responses passes `"input"`, `"output"`."""
    usage = usage or {}
    details = usage.get(f"{prompt}_tokens_details") or {}
    cached, written = int(details.get("cached_tokens") or 0), int(details.get("cache_write_tokens") or 0)
    cached = cached or int(usage.get("prompt_cache_hit_tokens") or 0)  # DeepSeek's spelling
    reasoning = int((usage.get(f"{completion}_tokens_details") or {}).get("reasoning_tokens") or 0)
    total = int(usage.get(f"{prompt}_tokens") or 0)
    return ir.Usage(max(total - cached - written, 0), int(usage.get(f"{completion}_tokens") or 0), cached, written, reasoning)


def tool_result_text(result: ir.ToolResultPart) -> str:
    """A tool result as plain text, for dialects without an error flag."""
    text = "\n".join(p.text for p in result.content if isinstance(p, ir.TextPart))
    return f"[tool error] {text}" if result.is_error else text
