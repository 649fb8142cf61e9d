"""ir to a chat completions client: a completion (`render_response`), a chunk stream
(`Renderer`, made by `stream_renderer`) and an error body (`render_error`).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from babelgate import ir, sse
from babelgate.dialects.openai_chat._wire import _tool_call
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.ids import new_id

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
ERROR_TYPES: dict[Kind, str] = {
    Kind.INVALID_REQUEST: "invalid_request_error",
    Kind.AUTHENTICATION: "authentication_error",
    Kind.PERMISSION: "permission_error",
    Kind.NOT_FOUND: "not_found_error",
    Kind.TOO_LARGE: "invalid_request_error",
    Kind.RATE_LIMIT: "rate_limit_error",
    Kind.BILLING: "insufficient_quota",
    Kind.OVERLOADED: "server_error",
    Kind.UPSTREAM: "server_error",
    Kind.TIMEOUT: "timeout",
}


def _usage(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def render_response(response: ir.Response) -> dict[str, Any]:
    text = "".join(p.text for p in response.parts if isinstance(p, ir.TextPart))
    reasoning = "".join(p.text for p in response.parts if isinstance(p, ir.ThinkingPart))
    calls = [_tool_call(p) for p in response.parts if isinstance(p, ir.ToolCallPart)]
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    return {
        "id": response.id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": response.model,
        "choices": [{"index": 0, "message": message, "finish_reason": STOP_TO_FINISH[response.stop_reason], "logprobs": None}],
        "usage": _usage(response.usage),
    }


class Renderer:
    content_type = "text/event-stream"

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._include_usage = request.stream_usage
        self._id = f"chatcmpl-{new_id()}"
        self._created = int(time.time())
        self._tool_index: dict[int, int] = {}
        self._opened = False  # the role chunk is out: a second upstream's Start continues the same completion

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return sse.encode(None, orjson.dumps(chunk))

    def render(self, event: ir.Event) -> bytes:
        if isinstance(event, ir.TextDelta):
            return self._chunk({"content": event.text})
        if isinstance(event, ir.ToolArgsDelta):
            return self._chunk({"tool_calls": [{"index": self._tool_index[event.index], "function": {"arguments": event.partial_json}}]})
        if isinstance(event, ir.ThinkingDelta):
            return self._chunk({"reasoning_content": event.text}) if event.text else b""
        if isinstance(event, ir.BlockStart):
            if event.kind != "tool_call":
                return b""
            position = self._tool_index[event.index] = len(self._tool_index)
            call = {"index": position, "id": event.id, "type": "function", "function": {"name": event.name, "arguments": ""}}
            return self._chunk({"tool_calls": [call]})
        if isinstance(event, ir.BlockStop):
            return b""
        if isinstance(event, ir.Start):
            if self._opened:
                return b""
            self._opened = True
            return self._chunk({"role": "assistant", "content": ""})
        if isinstance(event, ir.Finish):
            out = self._chunk({}, STOP_TO_FINISH[event.stop_reason])
            if self._include_usage:
                usage_chunk = {
                    "id": self._id,
                    "object": "chat.completion.chunk",
                    "created": self._created,
                    "model": self._model,
                    "choices": [],
                    "usage": _usage(event.usage),
                }
                out += sse.encode(None, orjson.dumps(usage_chunk))
            return out + b"data: [DONE]\n\n"
        error = {"message": event.message, "type": ERROR_TYPES.get(Kind(event.kind), "server_error"), "code": event.kind}
        return sse.encode(None, orjson.dumps({"error": error})) + b"data: [DONE]\n\n"


def stream_renderer(request: ir.Request) -> Renderer:
    return Renderer(request)


def render_error(error: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message, "type": ERROR_TYPES[error.kind], "param": None, "code": error.code}
    if isinstance(error, BadRequest):
        body["param"] = error.path or None
    body.update(error.details)
    return {"error": body}
