"""An outgoing Anthropic body's history made acceptable to the Messages API (`sanitize`).

Applied to every body, encoded or passed through:

- a thinking block whose signature Anthropic did not make (another family's envelope, empty,
  missing) is dropped, as is a redacted_thinking block whose data is an envelope; Anthropic's own
  signed and redacted blocks are kept as they are;
- `cache_control` on a thinking or redacted_thinking block is taken off (the API refuses it);
- an assistant message left with no content is dropped;
- with thinking enabled (not adaptive, which may skip thinking), the assistant turn being continued (the first assistant message after the
  last user message that is not only tool results) must start with a thinking block: when it
  does not, thinking is switched off for this request (and logged) rather than refused, and
  context-management edits that need thinking go with it.
"""

from __future__ import annotations

import logging
from typing import Any

from babelgate.reasoning import is_envelope

log = logging.getLogger("babelgate.reasoning")
THINKING_BLOCKS = ("thinking", "redacted_thinking")


def _own(block: dict[str, Any]) -> bool:
    """A thinking block Anthropic made: signed (or redacted) with something that is not an envelope."""
    value = block.get("signature") if block.get("type") == "thinking" else block.get("data")
    return isinstance(value, str) and bool(value) and not is_envelope(value)


def _clean_content(content: list[Any]) -> list[Any] | None:
    """The content without the thinking Anthropic would refuse; None when nothing changes."""
    kept: list[Any] = []
    changed = False
    for block in content:
        if isinstance(block, dict) and block.get("type") in THINKING_BLOCKS:
            if not _own(block):
                changed = True
                continue
            if "cache_control" in block:
                block = {k: v for k, v in block.items() if k != "cache_control"}
                changed = True
        kept.append(block)
    return kept if changed else None


def _tool_results_only(content: Any) -> bool:
    return isinstance(content, list) and bool(content) and all(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def _turn_needing_thinking(messages: list[Any]) -> int | None:
    """The index of the assistant message that must start with thinking, when the last message continues its turn."""
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        return None
    if not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in messages[-1].get("content") or []):
        return None
    first: int | None = None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if not isinstance(message, dict):
            return first
        if message.get("role") == "assistant":
            first = index
        elif message.get("role") == "user" and not _tool_results_only(message.get("content")):
            break
    return first


def _starts_with_thinking(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and bool(content) and isinstance(content[0], dict) and content[0].get("type") in THINKING_BLOCKS


def sanitize(body: dict[str, Any], where: str = "") -> dict[str, Any]:
    """`body` with its history fit for Anthropic (a new dict where anything changed; the client's own is never edited)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    cleaned: list[Any] = []
    changed = False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) and message.get("role") == "assistant" else None
        kept = _clean_content(content) if isinstance(content, list) else None
        if kept is None:
            cleaned.append(message)
            continue
        changed = True
        if kept:
            cleaned.append({**message, "content": kept})
    if changed:
        body = {**body, "messages": cleaned}
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":  # adaptive thinking may skip a turn's thinking
        index = _turn_needing_thinking(cleaned)
        if index is not None and not _starts_with_thinking(cleaned[index]):
            log.info(
                "thinking turned off for this request to %s: the assistant turn it continues (messages.%d) "
                "has no thinking block Anthropic signed (another model wrote it)",
                where or "anthropic",
                index,
            )
            body = {k: v for k, v in body.items() if k != "thinking"}
            _drop_thinking_edits(body)
    return body


def _drop_thinking_edits(body: dict[str, Any]) -> None:
    """Context-management edits that clear thinking need thinking on: they go when it does."""
    management = body.get("context_management")
    if not isinstance(management, dict) or not isinstance(management.get("edits"), list):
        return
    edits = [e for e in management["edits"] if not (isinstance(e, dict) and str(e.get("type", "")).startswith("clear_thinking"))]
    if len(edits) == len(management["edits"]):
        return
    if edits:
        body["context_management"] = {**management, "edits": edits}
    else:
        body.pop("context_management")
