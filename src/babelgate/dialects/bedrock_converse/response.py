"""A Bedrock Converse response (`output.message`, `stopReason`, `usage`) as an ir.Response.

Converse says neither an id nor the model in its body: the id is made here, the model is left
empty (the gateway answers with the name the client asked for). Reasoning comes back as
`reasoningContent` (text with a signature, or redacted bytes), family "bedrock".
"""

from __future__ import annotations

from typing import Any

from babelgate import ids, ir

FAMILY = "bedrock"
STOP_REASONS: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "max_tokens",
}


def stop_reason(value: Any) -> ir.StopReason:
    return STOP_REASONS.get(value, "end_turn") if isinstance(value, str) else "end_turn"


def usage(value: Any) -> ir.Usage:
    """Converse's `inputTokens` leaves out the cache reads and writes it counts beside them."""
    value = value if isinstance(value, dict) else {}
    return ir.Usage(
        input_tokens=int(value.get("inputTokens") or 0),
        output_tokens=int(value.get("outputTokens") or 0),
        cache_read_tokens=int(value.get("cacheReadInputTokens") or 0),
        cache_write_tokens=int(value.get("cacheWriteInputTokens") or 0),
    )


def new_id() -> str:
    return f"msg_bedrock_{ids.new_id()}"


def _part(block: dict[str, Any]) -> ir.Part | None:
    if isinstance(block.get("text"), str):
        return ir.TextPart(block["text"])
    if isinstance(block.get("toolUse"), dict):
        call = block["toolUse"]
        arguments = call.get("input")
        return ir.ToolCallPart(str(call["toolUseId"]), str(call["name"]), arguments if isinstance(arguments, dict) else {})
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict):
        if isinstance(reasoning.get("redactedContent"), str):
            return ir.ThinkingPart("", signature=reasoning["redactedContent"], family=FAMILY, redacted=True)
        text = reasoning.get("reasoningText") or {}
        return ir.ThinkingPart(str(text.get("text") or ""), signature=text.get("signature"), family=FAMILY)
    return None  # citations, guard content and blocks added later have no ir form


def parse_response(body: dict[str, Any]) -> ir.Response:
    message = (body.get("output") or {}).get("message") or {}
    parts = [part for block in message.get("content") or [] if isinstance(block, dict) and (part := _part(block)) is not None]
    return ir.Response(id=new_id(), model="", parts=parts, stop_reason=stop_reason(body.get("stopReason")), usage=usage(body.get("usage")))
