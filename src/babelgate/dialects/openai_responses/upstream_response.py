"""A Responses upstream's answer into ir: a Response object (`parse_response`), the event
stream (`Parser`, made by `stream_parser`) and an error body (`error_message`, as chat's).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects import openai_chat
from babelgate.dialects.base import FrameParser
from babelgate.dialects.openai_responses._wire import FAMILY, _new_id, _reasoning_text
from babelgate.dialects.parts import load_arguments, openai_usage
from babelgate.errors import Kind

CODE_KINDS: dict[str, Kind] = {
    "rate_limit_exceeded": Kind.RATE_LIMIT,
    "insufficient_quota": Kind.RATE_LIMIT,
    "server_is_overloaded": Kind.OVERLOADED,
    "invalid_prompt": Kind.INVALID_REQUEST,
    "context_length_exceeded": Kind.INVALID_REQUEST,
}


def _usage_in(usage: dict[str, Any] | None) -> ir.Usage:
    return openai_usage(usage, "input", "output")


def _message_text(item: dict[str, Any]) -> tuple[str, bool]:
    """The text of a message item, and whether it was a refusal."""
    texts = [c.get("text") or c.get("refusal") or "" for c in item.get("content") or [] if isinstance(c, dict)]
    refused = any(isinstance(c, dict) and c.get("type") == "refusal" for c in item.get("content") or [])
    return "".join(texts), refused


def _stop_reason(response: dict[str, Any], calls: bool, refused: bool) -> ir.StopReason:
    reason = (response.get("incomplete_details") or {}).get("reason")
    if response.get("status") == "incomplete" and reason == "max_output_tokens":
        return "max_tokens"
    if (response.get("status") == "incomplete" and reason == "content_filter") or (refused and not calls):
        return "refusal"
    return "tool_use" if calls else "end_turn"


def parse_response(body: dict[str, Any]) -> ir.Response:
    parts: list[ir.Part] = []
    refused = False
    for item in body.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            text, refusal = _message_text(item)
            refused = refused or refusal
            if text:
                parts.append(ir.TextPart(text))
        elif kind == "reasoning":
            parts.append(ir.ThinkingPart(_reasoning_text(item), signature=item.get("encrypted_content"), family=FAMILY))
        elif kind == "function_call":
            arguments = load_arguments(str(item.get("arguments") or ""))
            parts.append(ir.ToolCallPart(str(item.get("call_id") or _new_id("call")), str(item.get("name") or ""), arguments))
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    return ir.Response(
        id=str(body.get("id") or _new_id("resp")),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=_stop_reason(body, calls, refused),
        usage=_usage_in(body.get("usage")),
    )


@dataclasses.dataclass(slots=True)
class _Block:
    index: int
    kind: str
    emitted: bool = False
    summary: int = -1


class Parser(FrameParser):
    """Responses SSE from an upstream into ir events: one block per output item."""

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._done = False
        self._blocks: dict[int, _Block] = {}
        self._next = 0
        self._calls = False
        self._refused = False

    def _eof(self, out: list[ir.Event]) -> None:
        if not self._done:
            self._done = True
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended before response.completed"))

    def _frame(self, data: str, out: list[ir.Event]) -> None:
        if self._done or not data or data.strip() == "[DONE]":
            return
        event = orjson.loads(data)
        kind = str(event.get("type") or "")
        response = event.get("response") if isinstance(event.get("response"), dict) else {}
        if not self._started and kind != "error":
            self._started = True
            out.append(ir.Start(str(response.get("id") or _new_id("resp")), str(response.get("model") or "")))
        if kind == "response.output_item.added":
            self._added(event, out)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            block = self._blocks.get(event.get("output_index", -1))
            self._refused = self._refused or kind == "response.refusal.delta"
            if block is not None and block.kind == "text" and event.get("delta"):
                block.emitted = True
                out.append(ir.TextDelta(block.index, event["delta"]))
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            self._reasoning(event, kind.endswith("summary_text.delta"), out)
        elif kind == "response.function_call_arguments.delta":
            block = self._blocks.get(event.get("output_index", -1))
            if block is not None and event.get("delta"):
                block.emitted = True
                out.append(ir.ToolArgsDelta(block.index, event["delta"]))
        elif kind == "response.output_item.done":
            self._item_done(event, out)
        elif kind in ("response.completed", "response.incomplete"):
            for position in list(self._blocks):
                out.append(ir.BlockStop(self._blocks.pop(position).index))
            self._done = True
            status = {**response, "status": "incomplete"} if kind == "response.incomplete" else response
            out.append(ir.Finish(_stop_reason(status, self._calls, self._refused), _usage_in(response.get("usage"))))
        elif kind in ("response.failed", "error"):
            error = (response.get("error") if kind == "response.failed" else event) or {}
            self._done = True
            out.append(
                ir.StreamError(CODE_KINDS.get(str(error.get("code")), Kind.UPSTREAM).value, str(error.get("message") or "upstream failed"))
            )

    def _added(self, event: dict[str, Any], out: list[ir.Event]) -> None:
        item = event.get("item") or {}
        kinds = {"message": "text", "reasoning": "thinking", "function_call": "tool_call"}
        kind = kinds.get(str(item.get("type")))
        if kind is None:
            return
        block = self._blocks[event.get("output_index", self._next)] = _Block(self._next, kind)
        self._next += 1
        if kind == "tool_call":
            self._calls = True
            out.append(
                ir.BlockStart(block.index, "tool_call", id=str(item.get("call_id") or _new_id("call")), name=str(item.get("name") or ""))
            )
        else:
            out.append(ir.BlockStart(block.index, kind))  # type: ignore[arg-type]

    def _reasoning(self, event: dict[str, Any], summary: bool, out: list[ir.Event]) -> None:
        block = self._blocks.get(event.get("output_index", -1))
        if block is None or block.kind != "thinking" or not event.get("delta") or (not summary and block.summary >= 0):
            return
        text = event["delta"]
        if summary:
            position = int(event.get("summary_index") or 0)
            text = ("\n\n" if 0 <= block.summary < position else "") + text
            block.summary = position
        block.emitted = True
        out.append(ir.ThinkingDelta(block.index, text=text, family=FAMILY))

    def _item_done(self, event: dict[str, Any], out: list[ir.Event]) -> None:
        item = event.get("item") or {}
        position = event.get("output_index", -1)
        if position not in self._blocks:
            self._added(event, out)
        block = self._blocks.pop(position, None)
        if block is None:
            return
        if block.kind == "tool_call" and not block.emitted and item.get("arguments"):
            out.append(ir.ToolArgsDelta(block.index, str(item["arguments"])))
        elif block.kind == "text":
            text, refusal = _message_text(item)
            self._refused = self._refused or refusal
            if not block.emitted and text:
                out.append(ir.TextDelta(block.index, text))
        elif block.kind == "thinking":
            text = _reasoning_text(item)
            if not block.emitted and text:
                out.append(ir.ThinkingDelta(block.index, text=text, family=FAMILY))
            if item.get("encrypted_content"):
                out.append(ir.ThinkingDelta(block.index, signature=str(item["encrypted_content"]), family=FAMILY))
        out.append(ir.BlockStop(block.index))


def stream_parser() -> Parser:
    return Parser()


def error_message(body: Any) -> str:
    return openai_chat.error_message(body)
