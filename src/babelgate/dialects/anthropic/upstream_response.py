"""An Anthropic upstream's answer into ir: a message body (`parse_response`), an SSE
stream (`Parser`, made by `stream_parser`) and an error body (`error_message`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects.anthropic._wire import KIND_OF_TYPE, _block
from babelgate.dialects.base import FrameParser
from babelgate.errors import Kind
from babelgate.ids import new_id

STOP_REASONS: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    "model_context_window_exceeded": "max_tokens",
}
_KNOWN_BLOCKS = {"text", "thinking", "redacted_thinking", "tool_use"}
# Fields of the finished message that ir carries as they are (`extra`), so a reply rebuilt from them keeps them:
# auto mode's verdicts (Claude Code reads them top-level, or in the final message_delta's delta).
KEPT_FIELDS = ("safeguard_results",)


def _usage_in(usage: dict[str, Any] | None) -> ir.Usage:
    usage = usage or {}
    return ir.Usage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cache_read_tokens=int(usage.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
    )


def _stop_reason(value: Any) -> ir.StopReason:
    """An upstream stop reason ir knows; one added to the API later must not reach a renderer's lookup table."""
    return STOP_REASONS.get(value, "end_turn") if isinstance(value, str) else "end_turn"


def parse_response(body: dict[str, Any]) -> ir.Response:
    parts = [_block(b, "content") for b in body.get("content") or [] if b.get("type") in _KNOWN_BLOCKS]
    return ir.Response(
        id=str(body.get("id") or f"msg_{new_id()}"),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=_stop_reason(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence"),
        usage=_usage_in(body.get("usage")),
        extra={name: body[name] for name in KEPT_FIELDS if name in body},
    )


class Parser(FrameParser):
    """Anthropic SSE from an upstream into ir events (block indexes kept as they come)."""

    def __init__(self) -> None:
        super().__init__()
        self._usage = ir.Usage()
        self._finished = False
        self._skipped: set[int] = set()
        self._stop: tuple[ir.StopReason, str | None] = ("end_turn", None)
        self._extra: dict[str, Any] = {}

    def _eof(self, out: list[ir.Event]) -> None:
        if not self._finished:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended before message_stop"))

    def _frame(self, raw: str, out: list[ir.Event]) -> None:
        if not raw:
            return
        data = orjson.loads(raw)
        kind = data.get("type")
        if kind == "content_block_delta":
            self._block_delta(data, out)
        elif kind == "content_block_start":
            self._block_start(data, out)
        elif kind == "content_block_stop":
            if data["index"] not in self._skipped:
                out.append(ir.BlockStop(data["index"]))
        elif kind == "message_start":
            message = data.get("message") or {}
            self._usage = _usage_in(message.get("usage"))
            start_usage = dataclasses.replace(self._usage)  # message_delta updates self._usage later, not this event
            out.append(ir.Start(str(message.get("id") or f"msg_{new_id()}"), str(message.get("model") or ""), start_usage))
        elif kind == "message_delta":
            self._message_delta(data)
        elif kind == "message_stop":
            self._finished = True
            out.append(ir.Finish(self._stop[0], self._usage, self._stop[1], self._extra))
        elif kind == "error":
            error = data.get("error") or {}
            self._finished = True
            out.append(ir.StreamError(KIND_OF_TYPE.get(str(error.get("type")), Kind.UPSTREAM).value, str(error.get("message"))))

    def _block_delta(self, data: dict[str, Any], out: list[ir.Event]) -> None:
        index, delta = data["index"], data["delta"]
        dtype = None if index in self._skipped else delta.get("type")
        if dtype == "text_delta":
            out.append(ir.TextDelta(index, delta["text"]))
        elif dtype == "input_json_delta":
            out.append(ir.ToolArgsDelta(index, delta["partial_json"]))
        elif dtype == "thinking_delta":
            out.append(ir.ThinkingDelta(index, text=delta["thinking"], family="anthropic"))
        elif dtype == "signature_delta":
            out.append(ir.ThinkingDelta(index, signature=delta["signature"], family="anthropic"))

    def _block_start(self, data: dict[str, Any], out: list[ir.Event]) -> None:
        """A block ir has no kind for (a server tool's call or result) is skipped, with its deltas and its stop."""
        index, block = data["index"], data["content_block"]
        btype = block.get("type")
        if btype in ("text", "thinking"):
            out.append(ir.BlockStart(index, btype))
            if block.get(btype):
                out.append(
                    ir.TextDelta(index, block["text"])
                    if btype == "text"
                    else ir.ThinkingDelta(index, block["thinking"], family="anthropic")
                )
        elif btype == "tool_use":
            out.append(ir.BlockStart(index, "tool_call", id=block["id"], name=block["name"]))
        elif btype == "redacted_thinking" and isinstance(block.get("data"), str):
            out.append(ir.BlockStart(index, "thinking"))
            out.append(ir.ThinkingDelta(index, signature=block["data"], family="anthropic", redacted=True))
        else:
            self._skipped.add(index)

    def _message_delta(self, data: dict[str, Any]) -> None:
        """The usage counts it carries replace those so far; the stop reason is kept for message_stop."""
        usage = data.get("usage") or {}
        for key, attr in (
            ("output_tokens", "output_tokens"),
            ("input_tokens", "input_tokens"),
            ("cache_read_input_tokens", "cache_read_tokens"),
            ("cache_creation_input_tokens", "cache_write_tokens"),
        ):
            if usage.get(key) is not None:
                setattr(self._usage, attr, int(usage[key]))
        delta = data.get("delta") or {}
        self._stop = (_stop_reason(delta.get("stop_reason")), delta.get("stop_sequence"))
        self._extra.update({name: delta[name] for name in KEPT_FIELDS if name in delta})


def stream_parser() -> Parser:
    return Parser()


def error_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"])
    return str(body)[:500]
