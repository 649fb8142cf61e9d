"""A Gemini upstream's answer into ir: a GenerateContentResponse (`parse_response`), an
SSE stream of them (`Parser`, made by `stream_parser`) and an error body (`error_message`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects.base import FrameParser
from babelgate.dialects.gemini._wire import FAMILY, PART_KEYS, STATUS_KINDS, _Ids, _part
from babelgate.errors import Kind
from babelgate.ids import new_id

REFUSALS = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"} | {
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
}


def _usage_in(usage: dict[str, Any] | None) -> ir.Usage:
    usage = usage or {}
    prompt = int(usage.get("promptTokenCount") or 0) + int(usage.get("toolUsePromptTokenCount") or 0)
    cached, thoughts = int(usage.get("cachedContentTokenCount") or 0), int(usage.get("thoughtsTokenCount") or 0)
    output = int(usage.get("candidatesTokenCount") or 0) + thoughts
    return ir.Usage(input_tokens=max(prompt - cached, 0), output_tokens=output, cache_read_tokens=cached, reasoning_tokens=thoughts)


def _stop_reason(finish: str | None, calls: bool) -> ir.StopReason:
    if finish == "MAX_TOKENS":
        return "max_tokens"
    if finish in REFUSALS:
        return "refusal"
    return "tool_use" if calls else "end_turn"


def _upstream_id(response_id: str, count: int) -> str:
    """An id for a call Gemini sent without one: unique per response, stable for the same bytes."""
    return f"call_{hashlib.sha256(f'{response_id}:{count}'.encode()).hexdigest()[:24]}"


def parse_response(body: dict[str, Any]) -> ir.Response:
    rid = str(body.get("responseId") or new_id())
    candidate = (body.get("candidates") or [{}])[0]
    parts: list[ir.Part] = []
    calls = 0
    for part in (candidate.get("content") or {}).get("parts") or []:
        if any(k in part for k in PART_KEYS[:4]):
            call = part.get("functionCall")
            if isinstance(call, dict):
                part = {**part, "functionCall": {**call, "id": call.get("id") or _upstream_id(rid, calls)}}
                calls += 1
            parts.extend(_part(part, "candidates.0.content", _Ids(), (0, 0)))
    blocked = bool((body.get("promptFeedback") or {}).get("blockReason")) and not body.get("candidates")
    finish = "SAFETY" if blocked else candidate.get("finishReason")
    model, usage = str(body.get("modelVersion") or ""), _usage_in(body.get("usageMetadata"))
    return ir.Response(id=rid, model=model, parts=parts, stop_reason=_stop_reason(finish, calls > 0), usage=usage)


class Parser(FrameParser):
    """Gemini SSE chunks into block-indexed ir events; the stream ends at EOF."""

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._done = False
        self._id = ""
        self._open: int | None = None
        self._open_kind = ""
        self._next = 0
        self._calls = 0
        self._pending_signature: str | None = None
        self._finish: str | None = None
        self._usage = ir.Usage()

    def _eof(self, out: list[ir.Event]) -> None:
        if self._done:
            return
        self._done = True
        self._close_block(out)
        if self._finish is None and not self._calls:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended without a finishReason"))
        else:
            out.append(ir.Finish(_stop_reason(self._finish, self._calls > 0), self._usage))

    def _frame(self, data: str, out: list[ir.Event]) -> None:
        if self._done or not data.strip():
            return
        chunk = orjson.loads(data)
        if isinstance(chunk.get("error"), dict):
            error = chunk["error"]
            self._done = True
            out.append(ir.StreamError(STATUS_KINDS.get(str(error.get("status")), Kind.UPSTREAM).value, str(error.get("message") or error)))
            return
        if chunk.get("usageMetadata"):
            self._usage = _usage_in(chunk["usageMetadata"])
        if not self._started:  # Gemini counts the prompt in every chunk, the first too: the client sees it at once
            self._started = True
            self._id = str(chunk.get("responseId") or new_id())
            prompt = dataclasses.replace(self._usage, output_tokens=0, reasoning_tokens=0) if chunk.get("usageMetadata") else None
            out.append(ir.Start(self._id, str(chunk.get("modelVersion") or ""), prompt))
        if (chunk.get("promptFeedback") or {}).get("blockReason") and not chunk.get("candidates"):
            self._finish = "SAFETY"
        candidate = (chunk.get("candidates") or [{}])[0]
        for part in (candidate.get("content") or {}).get("parts") or []:
            self._part(part, out)
        if candidate.get("finishReason"):
            self._finish = str(candidate["finishReason"])
            self._close_block(out)

    def _part(self, part: dict[str, Any], out: list[ir.Event]) -> None:
        signature = part.get("thoughtSignature")
        if isinstance(part.get("functionCall"), dict):
            self._close_block(out)
            call = part["functionCall"]
            call_id = str(call.get("id") or _upstream_id(self._id, self._calls))
            self._calls += 1
            out.append(ir.BlockStart(self._next, "tool_call", id=call_id, name=str(call.get("name") or ""), signature=signature))
            out.append(ir.ToolArgsDelta(self._next, orjson.dumps(call.get("args") or {}).decode()))
            out.append(ir.BlockStop(self._next))
            self._next += 1
        elif part.get("thought") is True:
            self._open_block("thinking", out)
            if part.get("text") or signature:
                out.append(ir.ThinkingDelta(self._open, text=str(part.get("text") or ""), signature=signature or "", family=FAMILY))  # type: ignore[arg-type]
            if signature:  # one signature per block: the next thought starts afresh
                self._close_block(out)
        elif "text" in part:
            if part["text"]:
                self._open_block("text", out)
                out.append(ir.TextDelta(self._open, str(part["text"])))  # type: ignore[arg-type]
            if signature and self._open_kind == "text" and self._open is not None and not self._pending_signature:
                self._pending_signature = signature  # kept until the text block ends, so the text stays whole
            elif signature:
                self._close_block(out)
                self._signature_block(signature, out)

    def _open_block(self, kind: str, out: list[ir.Event]) -> None:
        if self._open is not None and self._open_kind == kind:
            return
        self._close_block(out)
        self._open, self._open_kind = self._next, kind
        self._next += 1
        out.append(ir.BlockStart(self._open, kind))  # type: ignore[arg-type]

    def _close_block(self, out: list[ir.Event]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._open))
            self._open = None
        if self._pending_signature:
            signature, self._pending_signature = self._pending_signature, None
            self._signature_block(signature, out)

    def _signature_block(self, signature: str, out: list[ir.Event]) -> None:
        """A signature that came on a non-thought part: a text-less thinking block of its own."""
        out.append(ir.BlockStart(self._next, "thinking"))
        out.append(ir.ThinkingDelta(self._next, signature=signature, family=FAMILY))
        out.append(ir.BlockStop(self._next))
        self._next += 1


def stream_parser() -> Parser:
    return Parser()


def error_message(body: Any) -> str:
    if isinstance(body, list) and body:
        return error_message(body[0])
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"])
    return str(body)[:500]
