"""Deferred tools for an Anthropic-format upstream that cannot defer them.

Claude Code marks the tools it does not need yet with `defer_loading: true` and loads one when
its tool search answers with a `tool_reference` block in a tool result. Anthropic's API honours
both; a server that only speaks the format (an Anthropic-compatible endpoint of another vendor,
a local server) does not. For those, `undefer` edits the client's own body the way the
translated path does (client_request.py): a deferred tool is sent only once a `tool_reference`
in the conversation loaded it, without its `defer_loading`, and each `tool_reference` becomes
the text "Tool loaded: NAME".
"""

from __future__ import annotations

from typing import Any

from babelgate.dialects.anthropic.client_request import _referenced_tools


def _deferred(tool: Any) -> bool:
    return isinstance(tool, dict) and bool(tool.get("defer_loading"))


def _without_references(message: Any) -> Any:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return message
    blocks = []
    for block in content:
        inner = block.get("content") if isinstance(block, dict) and block.get("type") == "tool_result" else None
        if isinstance(inner, list) and any(isinstance(i, dict) and i.get("type") == "tool_reference" for i in inner):
            loaded = [
                {"type": "text", "text": f"Tool loaded: {i.get('tool_name')}"}
                if isinstance(i, dict) and i.get("type") == "tool_reference"
                else i
                for i in inner
            ]
            block = {**block, "content": loaded}
        blocks.append(block)
    return {**message, "content": blocks}


def undefer(body: dict[str, Any]) -> dict[str, Any]:
    tools, messages = body.get("tools"), body.get("messages")
    if not isinstance(tools, list) or not isinstance(messages, list) or not any(_deferred(t) for t in tools):
        return body
    loaded = _referenced_tools(messages)
    kept = [t for t in tools if not _deferred(t) or t.get("name") in loaded]
    body = {**body, "tools": [{k: v for k, v in t.items() if k != "defer_loading"} if _deferred(t) else t for t in kept]}
    body["messages"] = [_without_references(m) for m in messages]
    return body
