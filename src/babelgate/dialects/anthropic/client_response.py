"""ir to an Anthropic client: a whole message (`render_response`), an SSE stream
(`Renderer`, made by `stream_renderer`) and an error body (`render_error`).
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate import ir, reasoning, sse, tokens
from babelgate.dialects.anthropic._wire import ERROR_TYPES, _render_part
from babelgate.errors import GatewayError, Kind


def _usage(usage: ir.Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _foreign(family: str | None) -> bool:
    return family not in (reasoning.ANTHROPIC, None)


def _sealed_block(text: str, envelope: str) -> dict[str, Any]:
    """Another family's reasoning, carried in the field an Anthropic client sends back: a thinking
    block's signature, or (with no text to show) a redacted_thinking block's data."""
    if text:
        return {"type": "thinking", "thinking": text, "signature": envelope}
    return {"type": "redacted_thinking", "data": envelope}


def _client_blocks(part: ir.Part, model: str) -> list[dict[str, Any]]:
    if isinstance(part, ir.ThinkingPart) and _foreign(part.family):
        return [_sealed_block(part.text, reasoning.seal_part(part, model))] if part.text or part.signature else []
    block = _render_part(part)
    if block is None:
        return []
    if isinstance(part, ir.ToolCallPart) and part.signature:  # a Gemini call's signature travels just before it
        return [_sealed_block("", reasoning.seal_call(part, model)), block]
    return [block]


def render_response(response: ir.Response) -> dict[str, Any]:
    return {
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": [block for part in response.parts for block in _client_blocks(part, response.model)],
        "stop_reason": response.stop_reason,
        "stop_sequence": response.stop_sequence,
        "usage": _usage(response.usage),
        **response.extra,
    }


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return sse.encode(event, orjson.dumps(payload))


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


_TEXT_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":"text_delta","text":%b}}\n\n'


def _text_delta(index: int, text: str) -> bytes:
    """`_delta(index, {"type": "text_delta", "text": text})`, byte for byte, without building the dicts
    (the hottest frame of a translated stream): orjson writes a string alone as it writes it inside an object."""
    return _TEXT_DELTA % (index, orjson.dumps(text))


class Renderer:
    """ir events to Anthropic SSE.

    Block indexes are renumbered as blocks are shown: a thinking block opens only once it has
    text or a signature (the SDK's accumulator needs indexes without gaps). Another family's
    state is sealed (reasoning.py) into the block's signature when the block stops, or, for a
    block without text, into a redacted_thinking block; a Gemini tool call's signature goes
    into a redacted_thinking block just before the tool_use.
    """

    content_type = "text/event-stream"

    def __init__(self, model: str, request: ir.Request | None = None) -> None:
        self.model = model
        self._request = request  # estimated for message_start when the upstream counts the prompt only at the end
        self._shown: dict[int, int] = {}  # ir index -> client index
        self._waiting: set[int] = set()  # thinking blocks not shown yet
        self._source = model  # the model that writes the answer, as the upstream names it (for envelopes)
        self._foreign: dict[int, tuple[str, list[str]]] = {}  # another family's thinking: its family, its signature pieces
        self._opened = False  # message_start is out: a second upstream's Start continues the same message

    def _open(self, index: int, block: dict[str, Any]) -> bytes:
        self._waiting.discard(index)
        shown = self._shown[index] = len(self._shown)
        return _frame("content_block_start", {"type": "content_block_start", "index": shown, "content_block": block})

    def render(self, event: ir.Event) -> bytes:
        if isinstance(event, ir.TextDelta):
            return _text_delta(self._shown[event.index], event.text)
        if isinstance(event, ir.ToolArgsDelta):
            return _delta(self._shown[event.index], {"type": "input_json_delta", "partial_json": event.partial_json})
        if isinstance(event, ir.ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ir.BlockStart):
            if event.kind == "thinking":
                self._waiting.add(event.index)
                return b""
            if event.kind == "text":
                return self._open(event.index, {"type": "text", "text": ""})
            out = b""
            if event.signature:
                call = ir.ToolCallPart(event.id, event.name, {}, event.signature)
                out = self._whole_block(-1 - event.index, _sealed_block("", reasoning.seal_call(call, self._source)))
            return out + self._open(event.index, {"type": "tool_use", "id": event.id, "name": event.name, "input": {}})
        if isinstance(event, ir.BlockStop):
            return self._stop(event.index)
        if isinstance(event, ir.Start):
            self._source = event.model or self.model
            if self._opened:
                return b""
            self._opened = True
            message: dict[str, Any] = {
                "id": event.id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": _usage(event.usage or self._prompt_estimate()),
            }
            return _frame("message_start", {"type": "message_start", "message": message})
        if isinstance(event, ir.Finish):
            delta = {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence, **event.extra}
            return _frame("message_delta", {"type": "message_delta", "delta": delta, "usage": _usage(event.usage)}) + _frame(
                "message_stop", {"type": "message_stop"}
            )
        error = {"type": ERROR_TYPES.get(Kind(event.kind), "api_error"), "message": event.message}
        return _frame("error", {"type": "error", "error": error})

    def _prompt_estimate(self) -> ir.Usage:
        """message_start's usage when the upstream has not counted the prompt yet (OpenAI and Bedrock Converse
        count it only at the end): the estimate, as clients read the input tokens from there; message_delta
        carries the upstream's exact figures."""
        return ir.Usage(input_tokens=tokens.estimate(self._request) if self._request is not None else 0)

    def _whole_block(self, index: int, block: dict[str, Any]) -> bytes:
        out = self._open(index, block)
        return out + _frame("content_block_stop", {"type": "content_block_stop", "index": self._shown[index]})

    def _stop(self, index: int) -> bytes:
        foreign = self._foreign.pop(index, None)
        waiting = index in self._waiting
        self._waiting.discard(index)
        if foreign is not None:
            family, pieces = foreign
            envelope = reasoning.seal(reasoning.Sealed(family, self._source, "".join(pieces) or None))
            if waiting:
                return self._whole_block(index, _sealed_block("", envelope)) if pieces else b""
            out = _delta(self._shown[index], {"type": "signature_delta", "signature": envelope})
            return out + _frame("content_block_stop", {"type": "content_block_stop", "index": self._shown[index]})
        if waiting or index not in self._shown:
            return b""
        return _frame("content_block_stop", {"type": "content_block_stop", "index": self._shown[index]})

    def _thinking(self, event: ir.ThinkingDelta) -> bytes:
        """A waiting thinking block opens with its first text or Anthropic signature; another family's is sealed at its stop."""
        if _foreign(event.family) or event.index in self._foreign:
            return self._foreign_thinking(event)
        if event.redacted and event.signature and event.index in self._waiting:
            return self._open(event.index, {"type": "redacted_thinking", "data": event.signature})
        signed = bool(event.signature) and event.family == "anthropic"
        out = b""
        if event.index in self._waiting and (event.text or signed):
            out = self._open(event.index, {"type": "thinking", "thinking": "", "signature": ""})
        if event.index not in self._shown:
            return out
        if event.text:
            out += _delta(self._shown[event.index], {"type": "thinking_delta", "thinking": event.text})
        if signed:
            out += _delta(self._shown[event.index], {"type": "signature_delta", "signature": event.signature})
        return out

    def _foreign_thinking(self, event: ir.ThinkingDelta) -> bytes:
        _, pieces = self._foreign.setdefault(event.index, (event.family or "unknown", []))
        if event.signature:
            pieces.append(event.signature)
        if not event.text:
            return b""
        out = b""
        if event.index in self._waiting:
            out = self._open(event.index, {"type": "thinking", "thinking": "", "signature": ""})
        return out + _delta(self._shown[event.index], {"type": "thinking_delta", "thinking": event.text})


def stream_renderer(request: ir.Request) -> Renderer:
    return Renderer(request.model, request)


def render_error(error: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": ERROR_TYPES[error.kind], "message": error.message}}
    if error.code:
        body["error"]["code"] = error.code
    body["error"].update(error.details)
    return body
