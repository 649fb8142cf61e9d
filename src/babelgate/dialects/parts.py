"""Small conversions several dialects share: data URLs, tool-call arguments, tool-result text."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from babelgate import ir


def data_url(part: ir.MediaPart) -> str:
    """The part as a URL: its own, or a base64 `data:` URL."""
    return part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"


def parse_data_url(url: str, kind: Literal["image", "document"]) -> ir.MediaPart:
    if url.startswith("data:") and ";base64," in url:
        header, data = url[5:].split(";base64,", 1)
        return ir.MediaPart(header or "application/octet-stream", data=data, kind=kind)
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


def tool_result_text(result: ir.ToolResultPart) -> str:
    """A tool result as plain text, for dialects without an error flag."""
    text = "\n".join(p.text for p in result.content if isinstance(p, ir.TextPart))
    return f"[tool error] {text}" if result.is_error else text
