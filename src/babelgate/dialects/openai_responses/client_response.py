"""ir to a Responses client: a Response object (`render_response`), the event stream
(`Renderer`, made by `stream_renderer`) and an error body (`render_error`, as chat's).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import orjson

from babelgate import ir, sse
from babelgate.dialects import openai_chat
from babelgate.dialects.openai_responses._wire import FAMILY, _encode_tool_choice, _new_id
from babelgate.errors import GatewayError, Kind
from babelgate.ids import new_id
from babelgate.reasoning import seal_call, seal_part

ERROR_CODES: dict[str, str] = {
    Kind.RATE_LIMIT.value: "rate_limit_exceeded",
    Kind.BILLING.value: "insufficient_quota",
    Kind.INVALID_REQUEST.value: "invalid_prompt",
}


def _usage(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": prompt + usage.output_tokens,
    }


def _response_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("resp_") else f"resp_{upstream_id or new_id()}"


def _status(stop: ir.StopReason) -> tuple[str, dict[str, str] | None]:
    if stop == "max_tokens":
        return "incomplete", {"reason": "max_output_tokens"}
    if stop == "refusal":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _response(rid: str, model: str, status: str, output: list[dict[str, Any]], request: ir.Request | None) -> dict[str, Any]:
    """A Response object; optional fields the SDKs do not need are left out."""
    choice = request.tool_choice if request else None
    body: dict[str, Any] = {"id": rid, "object": "response", "created_at": int(time.time()), "status": status, "model": model}
    body.update(error=None, incomplete_details=None, output=output, usage=None, tools=[], store=False, metadata={})
    body["parallel_tool_calls"] = request is None or request.parallel_tool_calls is not False
    body["tool_choice"] = _encode_tool_choice(choice) if choice else "auto"
    return body


def _reasoning_item(item_id: str, text: str, signature: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}] if text else []}
    if signature:
        item["encrypted_content"] = signature
    return item


def _message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status == "completed" else []
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": name, "arguments": arguments}


def _output_items(parts: list[ir.Part], model: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart):
            if out and out[-1]["type"] == "message":
                out[-1]["content"][0]["text"] += part.text
            else:
                out.append(_message_item(_new_id("msg"), part.text))
        elif isinstance(part, ir.ThinkingPart) and (part.text or part.signature):
            signature = part.signature if part.family == FAMILY else seal_part(part, model)  # another family's, sealed
            out.append(_reasoning_item(_new_id("rs"), part.text, signature))
        elif isinstance(part, ir.ToolCallPart):
            if part.signature:  # a Gemini call's signature travels in a reasoning item just before it
                out.append(_reasoning_item(_new_id("rs"), "", seal_call(part, model)))
            out.append(_call_item(_new_id("fc"), part.id, part.name, orjson.dumps(part.arguments).decode()))
    return out


def render_response(response: ir.Response) -> dict[str, Any]:
    status, incomplete = _status(response.stop_reason)
    body = _response(_response_id(response.id), response.model, status, _output_items(response.parts, response.model), None)
    body["incomplete_details"] = incomplete
    body["usage"] = _usage(response.usage)
    return body


@dataclasses.dataclass(slots=True)
class _Item:
    output_index: int
    kind: str
    id: str
    call_id: str = ""
    name: str = ""
    text: list[str] = dataclasses.field(default_factory=list)
    signature: str | None = None
    summary_open: bool = False
    family: str = FAMILY
    redacted: bool = False


class Renderer:
    """ir events into the Responses event stream, every frame with `event:` and `sequence_number`."""

    content_type = "text/event-stream"

    def __init__(self, request: ir.Request) -> None:
        self._request = request
        self._model = request.model
        self._id = _new_id("resp")
        self._seq = 0
        self._started = False
        self._finished = False
        self._open: dict[int, _Item] = {}
        self._done: dict[int, dict[str, Any]] = {}
        self._outputs = 0

    def _emit(self, kind: str, **payload: Any) -> bytes:
        frame = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        return sse.encode(kind, orjson.dumps(frame))

    def _snapshot(self, status: str) -> dict[str, Any]:
        output = [self._done[i] for i in sorted(self._done)]
        return _response(self._id, self._request.model, status, output, self._request)

    def _start(self) -> bytes:
        self._started = True
        return self._emit("response.created", response=self._snapshot("in_progress")) + self._emit(
            "response.in_progress", response=self._snapshot("in_progress")
        )

    def render(self, event: ir.Event) -> bytes:
        if self._finished:
            return b""
        if isinstance(event, ir.Start):
            if self._started:  # the opening is out: a second upstream's Start continues the same response
                return b""
            self._id = _response_id(event.id)
            self._model = event.model or self._model
            return self._start()
        out = b"" if self._started else self._start()
        if isinstance(event, ir.TextDelta):
            return out + self._text(event)
        if isinstance(event, ir.ThinkingDelta):
            return out + self._thinking(event)
        if isinstance(event, ir.ToolArgsDelta):
            item = self._open[event.index]
            item.text.append(event.partial_json)
            return out + self._emit(
                "response.function_call_arguments.delta", item_id=item.id, output_index=item.output_index, delta=event.partial_json
            )
        if isinstance(event, ir.BlockStart):
            return out + self._block_start(event)
        if isinstance(event, ir.BlockStop):
            return out + self._block_stop(event.index)
        out += b"".join(self._block_stop(index) for index in list(self._open))
        self._finished = True
        if isinstance(event, ir.Finish):
            status, incomplete = _status(event.stop_reason)
            response = self._snapshot(status)
            response["incomplete_details"], response["usage"] = incomplete, _usage(event.usage)
            return out + self._emit("response.completed" if status == "completed" else "response.incomplete", response=response)
        response = self._snapshot("failed")
        response["error"] = {"code": ERROR_CODES.get(event.kind, "server_error"), "message": event.message}
        return out + self._emit("response.failed", response=response)

    def _block_start(self, event: ir.BlockStart) -> bytes:
        index = self._outputs
        self._outputs += 1
        if event.kind == "text":
            item = self._open[event.index] = _Item(index, "text", _new_id("msg"))
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            return self._emit(
                "response.output_item.added", output_index=index, item=_message_item(item.id, "", "in_progress")
            ) + self._emit("response.content_part.added", item_id=item.id, output_index=index, content_index=0, part=part)
        if event.kind == "thinking":
            item = self._open[event.index] = _Item(index, "thinking", _new_id("rs"))
            return self._emit("response.output_item.added", output_index=index, item=_reasoning_item(item.id, "", None))
        out = b""
        if event.signature:  # a Gemini call's signature: a whole reasoning item just before the call
            call = ir.ToolCallPart(event.id, event.name, {}, event.signature)
            sealed = _reasoning_item(_new_id("rs"), "", seal_call(call, self._model))
            self._done[index] = sealed
            out = self._emit("response.output_item.added", output_index=index, item={**sealed, "encrypted_content": None})
            out += self._emit("response.output_item.done", output_index=index, item=sealed)
            index = self._outputs
            self._outputs += 1
        item = self._open[event.index] = _Item(index, "tool_call", _new_id("fc"), event.id, event.name)
        added = _call_item(item.id, item.call_id, item.name, "", "in_progress")
        return out + self._emit("response.output_item.added", output_index=index, item=added)

    def _text(self, event: ir.TextDelta) -> bytes:
        item = self._open[event.index]
        item.text.append(event.text)
        return self._emit(
            "response.output_text.delta", item_id=item.id, output_index=item.output_index, content_index=0, delta=event.text, logprobs=[]
        )

    def _thinking(self, event: ir.ThinkingDelta) -> bytes:
        item = self._open[event.index]
        out = b""
        if event.family not in (FAMILY, None):
            item.family = event.family
            item.redacted = item.redacted or event.redacted
        if event.signature:
            item.signature = (item.signature or "") + event.signature
        if event.text:
            if not item.summary_open:
                item.summary_open = True
                part = {"type": "summary_text", "text": ""}
                out += self._emit(
                    "response.reasoning_summary_part.added", item_id=item.id, output_index=item.output_index, summary_index=0, part=part
                )
            item.text.append(event.text)
            out += self._emit(
                "response.reasoning_summary_text.delta", item_id=item.id, output_index=item.output_index, summary_index=0, delta=event.text
            )
        return out

    def _block_stop(self, index: int) -> bytes:
        item = self._open.pop(index, None)
        if item is None:
            return b""
        text = "".join(item.text)
        where = {"item_id": item.id, "output_index": item.output_index}
        out = b""
        if item.kind == "text":
            done = _message_item(item.id, text)
            out += self._emit("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
            out += self._emit("response.content_part.done", **where, content_index=0, part=done["content"][0])
        elif item.kind == "thinking":
            signature = item.signature
            if item.family != FAMILY and (text or signature):  # another family's state, sealed
                signature = seal_part(ir.ThinkingPart(text, signature, item.family, item.redacted), self._model)
            done = _reasoning_item(item.id, text, signature)
            if item.summary_open:
                out += self._emit("response.reasoning_summary_text.done", **where, summary_index=0, text=text)
                out += self._emit("response.reasoning_summary_part.done", **where, summary_index=0, part=done["summary"][0])
        else:
            done = _call_item(item.id, item.call_id, item.name, text)
            out += self._emit("response.function_call_arguments.done", **where, arguments=text)
        self._done[item.output_index] = done
        return out + self._emit("response.output_item.done", output_index=item.output_index, item=done)


def stream_renderer(request: ir.Request) -> Renderer:
    return Renderer(request)


def render_error(error: GatewayError) -> dict[str, Any]:
    return openai_chat.render_error(error)
