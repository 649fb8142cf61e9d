"""ir to an Anthropic client: a whole message (`render_response`), an SSE stream
(`Renderer`, made by `stream_renderer`) and an error body (`render_error`).
"""

from __future__ import annotations

from typing import Any

import orjson

from babelgate import ir, sse, tokens
from babelgate.dialects.anthropic._wire import ERROR_TYPES, _render_part
from babelgate.errors import GatewayError, Kind


def _usage(usage: ir.Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _worth_showing(part: ir.Part) -> bool:
    """Another family's bare signature is nothing an Anthropic client can use or show."""
    return not isinstance(part, ir.ThinkingPart) or bool(part.text) or part.family == "anthropic"


def render_response(response: ir.Response) -> dict[str, Any]:
    return {
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": [b for b in (_render_part(p) for p in response.parts if _worth_showing(p)) if b is not None],
        "stop_reason": response.stop_reason,
        "stop_sequence": response.stop_sequence,
        "usage": _usage(response.usage),
        **response.extra,
    }


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return sse.encode(event, orjson.dumps(payload))


def _delta(index: int, delta: dict[str, Any]) -> bytes:
    return _frame("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


class Renderer:
    """ir events to Anthropic SSE.

    Block indexes are renumbered as blocks are shown: a thinking block opens only once it has
    text or an Anthropic signature, so another family's bare signature never shows up as an
    empty thinking block (the SDK's accumulator needs indexes without gaps).
    """

    content_type = "text/event-stream"

    def __init__(self, model: str, request: ir.Request | None = None) -> None:
        self.model = model
        self._request = request  # estimated for message_start when the upstream counts the prompt only at the end
        self._shown: dict[int, int] = {}  # ir index -> client index
        self._waiting: set[int] = set()  # thinking blocks not shown yet

    def _open(self, index: int, block: dict[str, Any]) -> bytes:
        self._waiting.discard(index)
        shown = self._shown[index] = len(self._shown)
        return _frame("content_block_start", {"type": "content_block_start", "index": shown, "content_block": block})

    def render(self, event: ir.Event) -> bytes:
        if isinstance(event, ir.TextDelta):
            return _delta(self._shown[event.index], {"type": "text_delta", "text": event.text})
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
            return self._open(event.index, {"type": "tool_use", "id": event.id, "name": event.name, "input": {}})
        if isinstance(event, ir.BlockStop):
            if event.index in self._waiting or event.index not in self._shown:
                self._waiting.discard(event.index)
                return b""
            return _frame("content_block_stop", {"type": "content_block_stop", "index": self._shown[event.index]})
        if isinstance(event, ir.Start):
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

    def _thinking(self, event: ir.ThinkingDelta) -> bytes:
        """A waiting thinking block opens with its first text or Anthropic signature."""
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


def stream_renderer(request: ir.Request) -> Renderer:
    return Renderer(request.model, request)


def render_error(error: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": ERROR_TYPES[error.kind], "message": error.message}}
    if error.code:
        body["error"]["code"] = error.code
    body["error"].update(error.details)
    return body
