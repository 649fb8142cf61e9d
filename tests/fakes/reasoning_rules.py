"""What the real APIs refuse about reasoning state in a history, with their own error texts.

Taken from the APIs' documentation and from the errors users report against them:

- Anthropic Messages: a thinking block without `signature` ("thinking.signature: Field required"),
  one whose signature Anthropic did not make ("Invalid signature in thinking block"), `cache_control`
  on a thinking block ("thinking.cache_control: Extra inputs are not permitted"), and with thinking
  enabled, a continued turn whose first assistant message does not start with thinking
  ("Expected `thinking` or `redacted_thinking`, but found `tool_use`...").
- Gemini 3: the first functionCall of each model step in the current turn without a
  thoughtSignature ("Function call is missing a thought_signature in functionCall parts...");
  a signature Gemini did not make ("Corrupted thought signature.").
- OpenAI Responses, stateless (`store: false`): a reasoning item with an id and no encrypted
  content ("Item with id ... not found"), encrypted content it did not make ("The encrypted
  content ... could not be verified.", code invalid_encrypted_content).

Each check takes the request body and the state the fake issued, and returns the error or None.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from tests.fakes.upstream import Reply

SKIP = "skip_thought_signature_validator"
DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


def anthropic_error(message: str) -> Reply:
    return Reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}}, headers={"request-id": "req_x"})


def _turn_start(messages: list[dict[str, Any]]) -> int | None:
    """The first assistant message of the turn the request continues (after the last real user message)."""
    last = messages[-1] if messages else {}
    if last.get("role") != "user" or not any(b.get("type") == "tool_result" for b in last.get("content") or [] if isinstance(b, dict)):
        return None
    first = None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        content = message.get("content")
        results_only = isinstance(content, list) and bool(content) and all(b.get("type") == "tool_result" for b in content)
        if message.get("role") == "assistant":
            first = index
        elif not results_only:
            break
    return first


def anthropic(body: dict[str, Any], signed: dict[str, str]) -> Reply | None:
    """`signed`: the signatures this fake gave out, each with the thinking text it covers."""
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else []):
            kind = block.get("type")
            if kind not in ("thinking", "redacted_thinking"):
                continue
            if "cache_control" in block:
                return anthropic_error(f"messages.{i}.content.{j}.{kind}.cache_control: Extra inputs are not permitted")
            if kind == "thinking" and "signature" not in block:
                return anthropic_error(f"messages.{i}.content.{j}.thinking.signature: Field required")
            if kind == "thinking" and signed.get(block["signature"]) != block.get("thinking"):
                return anthropic_error(f"messages.{i}.content.{j}: Invalid signature in thinking block")
            if kind == "redacted_thinking" and block.get("data") not in signed:
                return anthropic_error(f"messages.{i}.content.{j}: Invalid `data` in `redacted_thinking` block")
    thinking = body.get("thinking")
    start = _turn_start(messages) if isinstance(thinking, dict) and thinking.get("type") == "enabled" else None
    if start is not None:
        content = messages[start].get("content")
        found = content[0].get("type") if isinstance(content, list) and content else "text"
        if found not in ("thinking", "redacted_thinking"):
            return anthropic_error(
                f"messages.{start}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is "
                "enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and "
                "`tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, "
                f"disable `thinking`. Please consult our documentation at {DOCS}"
            )
    return None


def gemini_error(message: str) -> Reply:
    return Reply(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


def signature_bytes(value: str) -> bytes | None:
    """A thoughtSignature is bytes in base64, in either alphabet (the SDK re-encodes it URL-safe)."""
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def gemini(body: dict[str, Any], signed: set[bytes]) -> Reply | None:
    contents = body.get("contents") or []
    for content in contents:
        for part in content.get("parts") or []:
            signature = part.get("thoughtSignature")
            if signature is not None and signature != SKIP and signature_bytes(signature) not in signed:
                return gemini_error("Corrupted thought signature.")
    current = 0  # the current turn starts after the last user content that is not only function responses
    for index, content in enumerate(contents):
        if content.get("role") != "model" and any("functionResponse" not in p for p in content.get("parts") or []):
            current = index + 1
    for index in range(current, len(contents)):
        content = contents[index]
        calls = [p for p in content.get("parts") or [] if "functionCall" in p] if content.get("role") == "model" else []
        if calls and not calls[0].get("thoughtSignature"):
            return gemini_error(
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, "
                f"and missing thought_signature may lead to degraded model performance. Additional data, function call "
                f"`default_api:{calls[0]['functionCall'].get('name')}` , position {index + 1}. Please refer to "
                "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
            )
    return None


def responses(body: dict[str, Any], encrypted: dict[str, str]) -> Reply | None:
    """`encrypted`: the encrypted contents this fake gave out, each with its reasoning item's id."""
    for item in body.get("input") or []:
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            continue
        content = item.get("encrypted_content")
        if content is None and item.get("id") and body.get("store") is False:
            message = (
                f"Item with id '{item['id']}' not found. Items are not persisted when `store` is set to false. "
                "Try again with `store` set to true, or remove this item from your input."
            )
            return Reply(404, {"error": {"message": message, "type": "invalid_request_error", "param": "input", "code": None}})
        if content is not None and (content not in encrypted or item.get("id") not in (None, encrypted[content])):
            message = f"The encrypted content {str(content)[:4]}...{str(content)[-4:]} could not be verified."
            return Reply(
                400, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_encrypted_content"}}
            )
    return None
