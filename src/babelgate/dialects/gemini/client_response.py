"""ir to a Gemini client: a GenerateContentResponse (`render_response`), a stream of them
(`Renderer`, made by `stream_renderer`) and an error body (`render_error`).
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate import ir, sse
from babelgate.dialects.gemini._wire import FAMILY, STATUS, _model_parts
from babelgate.dialects.parts import load_arguments
from babelgate.errors import GatewayError
from babelgate.ids import new_id
from babelgate.reasoning import seal_part

FINISH: dict[str, str] = {"max_tokens": "MAX_TOKENS", "refusal": "SAFETY"}


def _usage(usage: ir.Usage) -> dict[str, int]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    candidates = max(usage.output_tokens - usage.reasoning_tokens, 0)
    out = {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates + usage.reasoning_tokens}
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def _response(rid: str, model: str, parts: list[dict[str, Any]] | None, finish: str | None, usage: ir.Usage | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": rid}
    if usage is not None:
        body["usageMetadata"] = _usage(usage)
    return body


def render_response(response: ir.Response) -> dict[str, Any]:
    finish = FINISH.get(response.stop_reason, "STOP")
    return _response(response.id, response.model, _model_parts(response.parts, model=response.model), finish, response.usage)


class Renderer:
    """ir events into `data: {GenerateContentResponse}` frames, one part per frame."""

    content_type = "text/event-stream"

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._source = request.model  # the model that writes the answer (for envelopes)
        self._id = new_id()
        self._calls: dict[int, tuple[ir.BlockStart, list[str]]] = {}
        self._thought_text: set[int] = set()
        self._foreign: dict[int, tuple[str, list[str], list[str]]] = {}  # another family's thinking: family, signature, text
        self._redacted: set[int] = set()
        self._finished = False
        self._opened = False

    def _frame(self, parts: list[dict[str, Any]] | None, finish: str | None = None, usage: ir.Usage | None = None) -> bytes:
        return sse.encode(None, orjson.dumps(_response(self._id, self._model, parts, finish, usage)))

    def render(self, event: ir.Event) -> bytes:
        if self._finished:
            return b""
        if isinstance(event, ir.TextDelta):
            return self._frame([{"text": event.text}]) if event.text else b""
        if isinstance(event, ir.ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ir.ToolArgsDelta):
            self._calls[event.index][1].append(event.partial_json)
            return b""
        if isinstance(event, ir.BlockStart):
            if event.kind == "tool_call":
                self._calls[event.index] = (event, [])
            return b""
        if isinstance(event, ir.BlockStop):
            if event.index in self._foreign:
                return self._sealed(event.index)
            return self._call(event.index) if event.index in self._calls else b""
        if isinstance(event, ir.Start):  # Gemini has no opening frame; the first upstream's id stays
            self._source = event.model or self._model
            self._id = self._id if self._opened else event.id or self._id
            self._opened = True
            return b""
        self._finished = True
        if isinstance(event, ir.Finish):
            pending = b"".join(self._call(index) for index in list(self._calls))
            return pending + self._frame(None, FINISH.get(event.stop_reason, "STOP"), event.usage)
        code, status = STATUS.get(event.kind, (500, "INTERNAL"))
        return sse.encode(None, orjson.dumps({"error": {"code": code, "message": event.message, "status": status}}))

    def _sealed(self, index: int) -> bytes:
        """Another family's thinking block ends with one thought part whose signature seals its state."""
        family, signature, text = self._foreign.pop(index)
        if not signature and not text:
            return b""
        part = ir.ThinkingPart("".join(text), "".join(signature) or None, family, index in self._redacted)
        return self._frame([{"text": "", "thought": True, "thoughtSignature": seal_part(part, self._source)}])

    def _thinking(self, event: ir.ThinkingDelta) -> bytes:
        if event.family not in (FAMILY, None) or event.index in self._foreign:
            _, signature, text = self._foreign.setdefault(event.index, (event.family or "unknown", [], []))
            signature.extend([event.signature] if event.signature else [])
            if event.redacted:
                self._redacted.add(event.index)
            text.extend([event.text] if event.text else [])
            return self._frame([{"text": event.text, "thought": True}]) if event.text else b""
        signed = bool(event.signature) and event.family == FAMILY
        if not event.text and not signed:
            return b""
        part: dict[str, Any] = {"text": event.text}
        if event.text or event.index in self._thought_text:
            self._thought_text.add(event.index)
            part["thought"] = True
        if signed:
            part["thoughtSignature"] = event.signature
        return self._frame([part])

    def _call(self, index: int) -> bytes:
        start, chunks = self._calls.pop(index)
        call = ir.ToolCallPart(start.id, start.name, load_arguments("".join(chunks)), start.signature)
        return self._frame(_model_parts([call]))


def stream_renderer(request: ir.Request) -> Renderer:
    return Renderer(request)


def render_error(error: GatewayError) -> dict[str, Any]:
    status = STATUS.get(error.kind.value, (500, "INTERNAL"))[1]
    return {"error": {"code": error.status, "message": error.message, "status": status}}
