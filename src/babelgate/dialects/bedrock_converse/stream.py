"""ConverseStream events into ir events.

The framing (providers/eventstream.py) hands each message over as `{"<event>": <payload>}`:
messageStart, contentBlockStart (tool calls only: text and reasoning blocks open with their first
delta), contentBlockDelta (`text`, `toolUse.input` JSON pieces, `reasoningContent` text, signature
or redacted bytes), contentBlockStop, messageStop (the stop reason) and metadata (the usage, after
messageStop). Anything named like an exception (`throttlingException`, ...) ends the stream as a
`StreamError` whose message starts with that name.
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects.base import FrameParser
from babelgate.dialects.bedrock_converse.response import FAMILY, new_id, stop_reason, usage
from babelgate.errors import Kind

# The Kind each stream exception maps to; the others are api_error.
EXCEPTION_KINDS = {
    "throttlingexception": Kind.RATE_LIMIT,
    "serviceunavailableexception": Kind.OVERLOADED,
    "modelnotreadyexception": Kind.OVERLOADED,
    "modeltimeoutexception": Kind.TIMEOUT,
    "validationexception": Kind.INVALID_REQUEST,
}


class Parser(FrameParser):
    def __init__(self) -> None:
        super().__init__()
        self._open: dict[int, ir.BlockKind] = {}
        self._started = False
        self._stop: ir.StopReason | None = None
        self._done = False

    def _frame(self, data: str, out: list[ir.Event]) -> None:
        if self._done or not data:
            return
        event = orjson.loads(data)
        (name, payload), *_ = event.items()
        failed = name.lower().endswith("exception") or isinstance(payload.get("message"), str)
        if not failed:
            self._start(out)  # messageStart, or whatever came first
        if name == "contentBlockStart":
            start = payload["start"].get("toolUse") or {}
            self._block(payload["contentBlockIndex"], "tool_call", out, str(start.get("toolUseId", "")), str(start.get("name", "")))
        elif name == "contentBlockDelta":
            self._delta(payload["contentBlockIndex"], payload["delta"], out)
        elif name == "contentBlockStop":
            if self._open.pop(payload["contentBlockIndex"], None) is not None:
                out.append(ir.BlockStop(payload["contentBlockIndex"]))
        elif name == "messageStop":
            self._stop = stop_reason(payload.get("stopReason"))
        elif name == "metadata":
            self._finish(out, usage(payload.get("usage")))
        elif failed:
            self._done = True
            kind = EXCEPTION_KINDS.get(name.lower(), Kind.UPSTREAM)
            out.append(ir.StreamError(kind.value, f"{name}: {payload.get('message') or 'the stream failed'}"))

    def _start(self, out: list[ir.Event]) -> None:
        if not self._started:
            self._started = True
            out.append(ir.Start(new_id(), ""))

    def _block(self, index: int, kind: ir.BlockKind, out: list[ir.Event], call_id: str = "", name: str = "") -> None:
        if index not in self._open:
            self._open[index] = kind
            out.append(ir.BlockStart(index, kind, id=call_id, name=name))

    def _delta(self, index: int, delta: dict[str, Any], out: list[ir.Event]) -> None:
        if isinstance(delta.get("text"), str):
            self._block(index, "text", out)
            out.append(ir.TextDelta(index, delta["text"]))
        elif isinstance(delta.get("toolUse"), dict):
            self._block(index, "tool_call", out)
            out.append(ir.ToolArgsDelta(index, str(delta["toolUse"].get("input") or "")))
        elif isinstance(delta.get("reasoningContent"), dict):
            reasoning = delta["reasoningContent"]
            self._block(index, "thinking", out)
            redacted = reasoning.get("redactedContent")
            signature = str(redacted or reasoning.get("signature") or "")
            out.append(ir.ThinkingDelta(index, str(reasoning.get("text") or ""), signature, FAMILY, redacted=bool(redacted)))

    def _finish(self, out: list[ir.Event], final: ir.Usage) -> None:
        for index in list(self._open):
            out.append(ir.BlockStop(index))
        self._open.clear()
        self._done = True
        out.append(ir.Finish(self._stop or "end_turn", final))

    def _eof(self, out: list[ir.Event]) -> None:
        if self._done:
            return
        if self._stop is not None:  # messageStop came, metadata did not: no usage to report
            self._finish(out, ir.Usage())
        else:
            self._done = True
            out.append(ir.StreamError(Kind.UPSTREAM.value, "the upstream stream ended before messageStop"))


def stream_parser() -> Parser:
    return Parser()
