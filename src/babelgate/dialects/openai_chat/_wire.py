"""What the chat parts share: a tool call as Chat Completions writes it (in a client's
response and in an upstream's request).
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate import ir


def _tool_call(part: ir.ToolCallPart) -> dict[str, Any]:
    return {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": orjson.dumps(part.arguments).decode()}}
