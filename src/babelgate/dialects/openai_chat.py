"""OpenAI Chat Completions: `POST /v1/chat/completions`, as a client dialect and an upstream."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from babelgate import ir, sse
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.base import EncodeOptions, FrameParser
from babelgate.dialects.parts import data_url, load_arguments, openai_usage, parse_data_url, tool_result_text
from babelgate.errors import BadRequest, GatewayError, Kind

name = "openai"

FINISH_TO_STOP: dict[str, ir.StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
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
    Kind.OVERLOADED: "server_error",
    Kind.UPSTREAM: "server_error",
    Kind.TIMEOUT: "timeout",
}
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


# ---- parsing a client request ----------------------------------------------------------


def _user_parts(content: Any, path: str) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise BadRequest(path, "expected a string or an array of content parts")
    parts: list[ir.Part] = []
    for where, item in items(content, path):
        kind = need(item, "type", str, where)
        if kind in ("text", "input_text", "output_text", "refusal"):
            parts.append(ir.TextPart(need(item, "refusal" if kind == "refusal" else "text", str, where)))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise BadRequest(f"{where}.image_url.url", "field required")
            parts.append(parse_data_url(url, "image"))
        elif kind == "file":
            file = need(item, "file", dict, where)
            data = field(file, "file_data", str, f"{where}.file")
            if data is None:
                raise BadRequest(f"{where}.file.file_data", "only inline file_data is supported, not file_id")
            parts.append(parse_data_url(data, "document"))
        else:
            raise BadRequest(f"{where}.type", f"unsupported content part type {kind!r}")
    return parts


def _assistant_parts(message: dict[str, Any], path: str) -> list[ir.Part]:
    parts: list[ir.Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ir.ThinkingPart(reasoning, family="openai"))
    parts.extend(_user_parts(message.get("content"), f"{path}.content"))
    for where, call in items(field(message, "tool_calls", list, path) or [], f"{path}.tool_calls"):
        function = need(call, "function", dict, where)
        arguments = field(function, "arguments", str, f"{where}.function") or ""
        parts.append(
            ir.ToolCallPart(need(call, "id", str, where), need(function, "name", str, f"{where}.function"), load_arguments(arguments))
        )
    return parts


def _messages(raw: list[Any]) -> tuple[list[ir.TextPart], list[ir.Message]]:
    system: list[ir.TextPart] = []
    messages: list[ir.Message] = []
    for where, message in items(raw, "messages"):
        role = one_of(need(message, "role", str, where), ("system", "developer", "user", "assistant", "tool", "function"), f"{where}.role")
        if role in ("system", "developer"):
            texts = [p for p in _user_parts(message.get("content"), f"{where}.content") if isinstance(p, ir.TextPart)]
            if not messages:
                system.extend(texts)
            elif texts:  # an empty one would reach Anthropic as a message with no content: a 400
                messages.append(ir.Message("system", list(texts)))
        elif role == "assistant":
            messages.append(ir.Message("assistant", _assistant_parts(message, where)))
        elif role in ("tool", "function"):
            call_id = need(message, "tool_call_id", str, where) if role == "tool" else need(message, "name", str, where)
            content = [p for p in _user_parts(message.get("content"), f"{where}.content") if isinstance(p, (ir.TextPart, ir.MediaPart))]
            result = ir.ToolResultPart(call_id, content)
            if messages and messages[-1].role == "user" and all(isinstance(p, ir.ToolResultPart) for p in messages[-1].parts):
                messages[-1].parts.append(result)
            else:
                messages.append(ir.Message("user", [result]))
        else:
            messages.append(ir.Message("user", _user_parts(message.get("content"), f"{where}.content")))
    return system, messages


def _tools(body: dict[str, Any]) -> list[ir.Tool]:
    tools = []
    for where, tool in items(field(body, "tools", list, "") or [], "tools"):
        if tool.get("type", "function") != "function":
            raise BadRequest(f"{where}.type", f"unsupported tool type {tool.get('type')!r}; only function tools are served")
        function = need(tool, "function", dict, where)
        schema = field(function, "parameters", dict, f"{where}.function") or {"type": "object", "properties": {}}
        tools.append(
            ir.Tool(
                need(function, "name", str, f"{where}.function"), field(function, "description", str, f"{where}.function") or "", schema
            )
        )
    return tools


def _tool_choice(value: Any) -> ir.ToolChoice | None:
    if value is None:
        return None
    if isinstance(value, str):
        mode = one_of(value, ("auto", "none", "required"), "tool_choice")
        return ir.ToolChoice("any" if mode == "required" else mode)  # type: ignore[arg-type]
    if isinstance(value, dict):
        function = need(value, "function", dict, "tool_choice")
        return ir.ToolChoice("tool", need(function, "name", str, "tool_choice.function"))
    raise BadRequest("tool_choice", "expected a string or an object")


def _response_format(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    fmt = field(body, "response_format", dict, "")
    if not fmt:
        return None, False
    kind = one_of(need(fmt, "type", str, "response_format"), ("text", "json_object", "json_schema"), "response_format.type")
    if kind == "json_schema":
        spec = need(fmt, "json_schema", dict, "response_format")
        return field(spec, "schema", dict, "response_format.json_schema") or {"type": "object"}, True
    return None, kind == "json_object"


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    n = field(body, "n", int, "")
    if n is not None and n > 1:
        raise BadRequest("n", "only n=1 is served; send one request per completion")
    system, messages = _messages(need(body, "messages", list, ""))
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, (str, list)):
        raise BadRequest("stop", "expected a string or an array of strings")
    effort = field(body, "reasoning_effort", str, "")
    schema, json_mode = _response_format(body)
    stream_options = field(body, "stream_options", dict, "") or {}
    return ir.Request(
        model=model or need(body, "model", str, ""),
        messages=messages,
        system=system,
        tools=_tools(body),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=field(body, "parallel_tool_calls", bool, ""),
        max_tokens=field(body, "max_completion_tokens", int, "") or field(body, "max_tokens", int, ""),
        temperature=field(body, "temperature", float, ""),
        top_p=field(body, "top_p", float, ""),
        stop=[stop] if isinstance(stop, str) else list(stop or []),
        stream=bool(field(body, "stream", bool, "")) if stream is None else stream,
        stream_usage=bool(stream_options.get("include_usage")),
        reasoning=ir.Reasoning(effort=one_of(effort, EFFORTS, "reasoning_effort")) if effort else None,  # type: ignore[arg-type]
        response_schema=schema,
        json_mode=json_mode,
        user=field(body, "user", str, ""),
    )


# ---- rendering to a client -------------------------------------------------------------


def _usage(usage: ir.Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens, "cache_write_tokens": usage.cache_write_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _tool_call(part: ir.ToolCallPart) -> dict[str, Any]:
    return {"id": part.id, "type": "function", "function": {"name": part.name, "arguments": orjson.dumps(part.arguments).decode()}}


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
        self._id = f"chatcmpl-{uuid.uuid4().hex}"
        self._created = int(time.time())
        self._tool_index: dict[int, int] = {}

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


# ---- speaking to an OpenAI-compatible upstream ------------------------------------------


def _content(parts: Sequence[ir.Part]) -> str | list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ir.MediaPart) and part.kind == "image":
            blocks.append({"type": "image_url", "image_url": {"url": data_url(part)}})
        elif isinstance(part, ir.MediaPart) and part.media_type == "text/plain":
            blocks.append({"type": "text", "text": part.data or ""})
        elif isinstance(part, ir.MediaPart):
            blocks.append({"type": "file", "file": {"filename": "document.pdf", "file_data": data_url(part)}})
    if all(b["type"] == "text" for b in blocks):
        return "\n\n".join(b["text"] for b in blocks)
    return blocks


def _encode_messages(request: ir.Request, options: EncodeOptions) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if request.system:
        out.append({"role": "system", "content": "\n\n".join(p.text for p in request.system)})
    for message in request.messages:
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": "".join(p.text for p in message.parts if isinstance(p, ir.TextPart))}
            calls = [_tool_call(p) for p in message.parts if isinstance(p, ir.ToolCallPart)]
            if calls:
                entry["tool_calls"] = calls
            reasoning = "".join(p.text for p in message.parts if isinstance(p, ir.ThinkingPart))
            if reasoning and options.echo_reasoning:
                entry["reasoning_content"] = reasoning
            out.append(entry)
            continue
        if message.role == "system":
            out.append({"role": "system", "content": "\n\n".join(p.text for p in message.parts if isinstance(p, ir.TextPart))})
            continue
        # Tool results become `tool` messages, which must directly follow the assistant's calls.
        results = [p for p in message.parts if isinstance(p, ir.ToolResultPart)]
        rest = [p for p in message.parts if not isinstance(p, ir.ToolResultPart)]
        for result in results:
            out.append({"role": "tool", "tool_call_id": result.call_id, "content": tool_result_text(result)})
            rest.extend(p for p in result.content if isinstance(p, ir.MediaPart))
        if rest:
            out.append({"role": "user", "content": _content(rest)})
    return out


def _effort(reasoning: ir.Reasoning) -> str | None:
    """The `reasoning_effort` for a reasoning request; a token budget maps to the nearest level. None leaves the default."""
    if reasoning.effort is not None:
        return "high" if reasoning.effort in ("xhigh", "max") else reasoning.effort
    if reasoning.budget is None:
        return None
    return "low" if reasoning.budget <= 2048 else "medium" if reasoning.budget <= 8192 else "high"


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": _encode_messages(request, options)}
    if request.max_tokens is not None:
        body[options.max_tokens_field] = request.max_tokens
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    choice = request.tool_choice
    if choice is not None and (request.tools or choice.mode == "none"):
        if choice.mode == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        else:
            body["tool_choice"] = {"any": "required"}.get(choice.mode, choice.mode)
    for key, value in (("temperature", request.temperature), ("top_p", request.top_p)):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop"] = request.stop[:4]
    effort = _effort(request.reasoning) if request.reasoning and options.reasoning_effort else None
    if effort is not None:
        body["reasoning_effort"] = effort
    if request.response_schema is not None:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": request.response_schema}}
    elif request.json_mode:
        body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for an OpenAI-compatible upstream: new model, clamped token limit."""
    body = dict(raw)
    body["model"] = model
    if request.max_tokens is not None:
        for key in ("max_tokens", "max_completion_tokens"):
            if key in body:
                body[key] = request.max_tokens
    wanted = request.reasoning
    if wanted is not None and wanted != ir.Reasoning(effort=raw.get("reasoning_effort")):  # a routing variant such as `model(high)`
        effort = _effort(wanted)
        if effort is not None:
            body["reasoning_effort"] = effort
    return body


def _stop_reason(finish: str | None, has_tool_calls: bool) -> ir.StopReason:
    if has_tool_calls and finish in (None, "stop", "tool_calls", "function_call"):
        return "tool_use"  # some servers (llama.cpp, Ollama) report "stop" after tool calls
    return FINISH_TO_STOP.get(finish or "stop", "end_turn")


def parse_response(body: dict[str, Any]) -> ir.Response:
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    parts: list[ir.Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ir.ThinkingPart(reasoning, family="openai"))
    if message.get("content"):
        parts.append(ir.TextPart(str(message["content"])))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        call_id = str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}")
        parts.append(ir.ToolCallPart(call_id, str(function.get("name") or ""), load_arguments(str(function.get("arguments") or ""))))
    has_calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    return ir.Response(
        id=str(body.get("id") or f"chatcmpl-{uuid.uuid4().hex}"),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=_stop_reason(choice.get("finish_reason"), has_calls),
        usage=openai_usage(body.get("usage")),
    )


@dataclass(slots=True)
class _ToolCall:
    id: str = ""
    name: str = ""
    pending: str = ""
    index: int = -1


class Parser(FrameParser):
    """OpenAI chat chunks into ir events.

    Blocks open in the order content arrives; a tool call opens once both its id and its
    name are known (some servers send the id after the name), with the argument fragments
    seen so far flushed right after.
    """

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._open: int | None = None
        self._open_kind = ""
        self._next = 0
        self._tools: dict[int, _ToolCall] = {}
        self._finish: str | None = None
        self._usage = ir.Usage()
        self._done = False

    def _eof(self, out: list[ir.Event]) -> None:
        if self._done:
            return
        if self._finish is None:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended before a finish_reason"))
            self._done = True
        else:
            self._end(out)

    def _frame(self, data: str, out: list[ir.Event]) -> None:
        if self._done or not data:
            return
        if data.strip() == "[DONE]":
            self._end(out)
            return
        chunk = orjson.loads(data)
        if "error" in chunk and not chunk.get("choices"):
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]}
            out.append(ir.StreamError(_stream_error_kind(error).value, str(error.get("message") or error)))
            self._done = True
            return
        if not self._started:
            self._started = True
            out.append(ir.Start(str(chunk.get("id") or f"chatcmpl-{uuid.uuid4().hex}"), str(chunk.get("model") or "")))
        if chunk.get("usage"):
            self._usage = openai_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            self._delta(choice.get("delta") or {}, out)
            if choice.get("finish_reason"):
                self._finish = choice["finish_reason"]
                self._start_waiting_tools(out)
                self._close_block(out)

    def _delta(self, delta: dict[str, Any], out: list[ir.Event]) -> None:
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self._ensure_block("thinking", out)
            out.append(ir.ThinkingDelta(self._open, text=reasoning, family="openai"))  # type: ignore[arg-type]
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._ensure_block("text", out)
            out.append(ir.TextDelta(self._open, content))  # type: ignore[arg-type]
        for position, call in enumerate(delta.get("tool_calls") or []):
            self._tool_delta(call.get("index", position), call, out)

    def _tool_delta(self, key: int, call: dict[str, Any], out: list[ir.Event]) -> None:
        tool = self._tools.get(key)
        if tool is None:
            self._start_waiting_tools(out)
            tool = self._tools[key] = _ToolCall()
        function = call.get("function") or {}
        tool.id = tool.id or str(call.get("id") or "")
        tool.name = tool.name or str(function.get("name") or "")
        arguments = function.get("arguments") or ""
        if tool.index >= 0:
            if arguments:
                out.append(ir.ToolArgsDelta(tool.index, arguments))
            return
        tool.pending += arguments
        if tool.id and tool.name:
            self._open_tool(tool, out)

    def _open_tool(self, tool: _ToolCall, out: list[ir.Event]) -> None:
        self._close_block(out)
        tool.index = self._open = self._next
        self._open_kind = "tool_call"
        self._next += 1
        out.append(ir.BlockStart(tool.index, "tool_call", id=tool.id or f"call_{uuid.uuid4().hex[:24]}", name=tool.name))
        if tool.pending:
            out.append(ir.ToolArgsDelta(tool.index, tool.pending))
            tool.pending = ""

    def _start_waiting_tools(self, out: list[ir.Event]) -> None:
        """Give up waiting for a missing id once something else arrives."""
        for tool in self._tools.values():
            if tool.index < 0:
                self._open_tool(tool, out)

    def _ensure_block(self, kind: str, out: list[ir.Event]) -> None:
        if self._open is not None and self._open_kind == kind:
            return
        self._start_waiting_tools(out)
        self._close_block(out)
        self._open, self._open_kind = self._next, kind
        self._next += 1
        out.append(ir.BlockStart(self._open, kind))  # type: ignore[arg-type]

    def _close_block(self, out: list[ir.Event]) -> None:
        if self._open is not None:
            out.append(ir.BlockStop(self._open))
            self._open = None

    def _end(self, out: list[ir.Event]) -> None:
        if not self._started:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended without any data"))
            self._done = True
            return
        self._start_waiting_tools(out)
        self._close_block(out)
        self._done = True
        out.append(ir.Finish(_stop_reason(self._finish, bool(self._tools)), self._usage))


def _stream_error_kind(error: dict[str, Any]) -> Kind:
    """An error inside a stream (OpenRouter and others send them): rate limits and overloads keep their kind."""
    code, kind = str(error.get("code") or ""), str(error.get("type") or "")
    if code == "429" or "rate_limit" in code or "rate_limit" in kind:
        return Kind.RATE_LIMIT
    if code in ("502", "503", "529") or "overloaded" in kind or "overloaded" in code:
        return Kind.OVERLOADED
    return Kind.UPSTREAM


def stream_parser() -> Parser:
    return Parser()


def error_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        if isinstance(error, str):
            return error
        if "message" in body:
            return str(body["message"])
    if isinstance(body, list) and body:
        return error_message(body[0])
    return str(body)[:500]
