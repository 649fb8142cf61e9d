"""What the Responses parts share: the reasoning family, new ids, `tool_choice` as the
wire writes it, and the text of a reasoning item.
"""

from __future__ import annotations

from typing import Any

from babelgate import ir
from babelgate.ids import new_id

FAMILY = "openai-responses"


def _new_id(prefix: str) -> str:
    return f"{prefix}_{new_id()}"


def _encode_tool_choice(choice: ir.ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name}
    return "required" if choice.mode == "any" else choice.mode


def _reasoning_text(item: dict[str, Any]) -> str:
    summary = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
    content = [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
    return "\n\n".join(summary) if any(summary) else "\n\n".join(content)
