"""OpenAI Responses API: `POST /v1/responses`, as a client dialect and an upstream.

Rules a client sees:

- Tools the upstream cannot serve are dropped: only `function` tools are kept; hosted and
  client-run tool types (web_search, file_search, computer_use, local_shell, shell,
  apply_patch, custom, namespace, mcp, image_generation, code_interpreter...) are removed.
  If `tool_choice` forces a dropped tool → 400.
- Server-side state cannot follow a request to another upstream: `previous_response_id`,
  `conversation`, `prompt`, `background: true` and `item_reference` / `compaction` items → 400.
  `store`, `include`, `metadata`, `truncation`, `service_tier`... are accepted and ignored.
- Records of server-run tool calls in `input` (web_search_call, file_search_call...) are
  skipped: their results already live in the assistant text that follows them.
- Reasoning items become `ir.ThinkingPart(family="openai-responses")` whose signature is
  `encrypted_content`; they are echoed to a Responses upstream only with that family.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from typing import Any

import orjson

from babelgate import ir, sse
from babelgate.dialects import openai_chat
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.base import EncodeOptions, FrameParser
from babelgate.dialects.parts import data_url, load_arguments, openai_usage, parse_data_url, tool_result_text
from babelgate.errors import BadRequest, GatewayError, Kind

name = "openai-responses"
FAMILY = "openai-responses"
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
STATEFUL = ("previous_response_id", "conversation", "prompt")
RECORDS = {"web_search_call", "file_search_call", "image_generation_call", "code_interpreter_call", "mcp_list_tools", "tool_search_call"}
ERROR_CODES: dict[str, str] = {Kind.RATE_LIMIT.value: "rate_limit_exceeded", Kind.INVALID_REQUEST.value: "invalid_prompt"}
CODE_KINDS: dict[str, Kind] = {
    "rate_limit_exceeded": Kind.RATE_LIMIT,
    "insufficient_quota": Kind.RATE_LIMIT,
    "server_is_overloaded": Kind.OVERLOADED,
    "invalid_prompt": Kind.INVALID_REQUEST,
    "context_length_exceeded": Kind.INVALID_REQUEST,
}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _encode_tool_choice(choice: ir.ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name}
    return "required" if choice.mode == "any" else choice.mode


# ---- parsing a client request ----------------------------------------------------------


def _media(item: dict[str, Any], path: str, kind: str) -> ir.MediaPart:
    if field(item, "file_id", str, path) is not None:
        raise BadRequest(f"{path}.file_id", "file ids need OpenAI's Files API; send the content inline or by URL")
    if kind == "image":
        return parse_data_url(need(item, "image_url", str, path), "image")
    data = field(item, "file_data", str, path)
    if data is not None:
        if data.startswith("data:"):
            return parse_data_url(data, "document")
        filename = field(item, "filename", str, path) or ""
        return ir.MediaPart("text/plain" if filename.endswith(".txt") else "application/pdf", data=data, kind="document")
    return ir.MediaPart("application/pdf", url=need(item, "file_url", str, path), kind="document")


def _content(content: Any, path: str) -> list[ir.Part]:
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(path, "expected a string or an array of content parts")
    parts: list[ir.Part] = []
    for where, item in items(content, path):
        kind = need(item, "type", str, where)
        if kind in ("input_text", "output_text", "text"):
            parts.append(ir.TextPart(need(item, "text", str, where)))
        elif kind == "refusal":
            parts.append(ir.TextPart(need(item, "refusal", str, where)))
        elif kind in ("input_image", "input_file"):
            parts.append(_media(item, where, "image" if kind == "input_image" else "document"))
        else:
            raise BadRequest(f"{where}.type", f"unsupported content part type {kind!r}")
    return parts


def _output(item: dict[str, Any], path: str) -> list[ir.TextPart | ir.MediaPart]:
    value = item.get("output")
    if isinstance(value, str) or value is None:
        return [ir.TextPart(value)] if value else []
    return [p for p in _content(value, f"{path}.output") if isinstance(p, (ir.TextPart, ir.MediaPart))]


def _reasoning_text(item: dict[str, Any]) -> str:
    summary = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
    content = [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
    return "\n\n".join(summary) if any(summary) else "\n\n".join(content)


def _append(messages: list[ir.Message], role: ir.Role, parts: list[ir.Part], merge: bool) -> None:
    if merge and messages and messages[-1].role == role:
        last = messages[-1]
        if role == "assistant" or all(isinstance(p, ir.ToolResultPart) for p in last.parts):
            last.parts.extend(parts)
            return
    messages.append(ir.Message(role, parts))


def _input(body: dict[str, Any]) -> tuple[list[ir.TextPart], list[ir.Message]]:
    instructions = field(body, "instructions", str, "")
    system = [ir.TextPart(instructions)] if instructions else []
    raw = body.get("input")
    if isinstance(raw, str):
        return system, [ir.Message("user", [ir.TextPart(raw)])]
    if not isinstance(raw, list):
        raise BadRequest("input", "field required" if raw is None else "expected a string or an array of input items")
    messages: list[ir.Message] = []
    for where, item in items(raw, "input"):
        kind = field(item, "type", str, where) or "message"
        if kind == "message":
            role = one_of(need(item, "role", str, where), ("user", "assistant", "system", "developer"), f"{where}.role")
            parts = _content(item.get("content"), f"{where}.content")
            texts: list[ir.Part] = [p for p in parts if isinstance(p, ir.TextPart)]
            if role in ("system", "developer") and not messages:
                system.extend(p for p in parts if isinstance(p, ir.TextPart))
            elif role in ("system", "developer"):
                messages.append(ir.Message("system", texts))
            else:
                _append(messages, role, parts, merge=role == "assistant")  # type: ignore[arg-type]
        elif kind == "function_call":
            arguments = load_arguments(field(item, "arguments", str, where) or "")
            _append(
                messages, "assistant", [ir.ToolCallPart(need(item, "call_id", str, where), need(item, "name", str, where), arguments)], True
            )
        elif kind == "function_call_output":
            _append(messages, "user", [ir.ToolResultPart(need(item, "call_id", str, where), _output(item, where))], True)
        elif kind == "reasoning":
            signature = field(item, "encrypted_content", str, where)
            _append(messages, "assistant", [ir.ThinkingPart(_reasoning_text(item), signature=signature, family=FAMILY)], True)
        elif kind not in RECORDS:
            raise BadRequest(f"{where}.type", f"unsupported input item type {kind!r}")
    return system, messages


def _tools(body: dict[str, Any]) -> tuple[list[ir.Tool], set[str]]:
    """The function tools, and the names of the tools dropped because no upstream serves them."""
    tools: list[ir.Tool] = []
    dropped: set[str] = set()
    for where, tool in items(field(body, "tools", list, "") or [], "tools"):
        kind = need(tool, "type", str, where)
        if kind != "function":
            nested = [t.get("name") for t in tool.get("tools") or [] if isinstance(t, dict)]
            dropped.update(str(n) for n in (tool.get("name"), *nested) if n)
            continue
        schema = field(tool, "parameters", dict, where) or {"type": "object", "properties": {}}
        tools.append(ir.Tool(need(tool, "name", str, where), field(tool, "description", str, where) or "", schema))
    return tools, dropped


def _forced(name: str, tools: list[ir.Tool], dropped: set[str], path: str) -> None:
    if any(t.name == name for t in tools):
        return
    if name in dropped:
        raise BadRequest(path, f"forces tool {name!r}, which is dropped: tools the upstream cannot serve are dropped")
    raise BadRequest(path, f"forces tool {name!r}, which is not among the function tools")


def _tool_choice(value: Any, tools: list[ir.Tool], dropped: set[str]) -> tuple[ir.ToolChoice | None, list[ir.Tool]]:
    if value is None:
        return None, tools
    if isinstance(value, str):
        mode = one_of(value, ("auto", "none", "required"), "tool_choice")
        if mode == "required" and not tools:
            raise BadRequest("tool_choice", "is 'required' but no function tool is left: tools the upstream cannot serve are dropped")
        return ir.ToolChoice("any" if mode == "required" else mode), tools  # type: ignore[arg-type]
    if not isinstance(value, dict):
        raise BadRequest("tool_choice", "expected a string or an object")
    kind = need(value, "type", str, "tool_choice")
    if kind == "function":
        name = need(value, "name", str, "tool_choice")
        _forced(name, tools, dropped, "tool_choice.name")
        return ir.ToolChoice("tool", name), tools
    if kind == "allowed_tools":
        mode = one_of(field(value, "mode", str, "tool_choice") or "auto", ("auto", "required"), "tool_choice.mode")
        allowed = {str(t.get("name")) for t in field(value, "tools", list, "tool_choice") or [] if isinstance(t, dict)}
        kept = [t for t in tools if t.name in allowed]
        if mode == "required" and not kept:
            raise BadRequest("tool_choice.tools", "requires a tool but none of the allowed tools is a function tool the upstream can serve")
        return ir.ToolChoice("any" if mode == "required" else "auto"), kept
    raise BadRequest("tool_choice.type", f"forces a {kind!r} tool, which is dropped: tools the upstream cannot serve are dropped")


def _text_format(body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    fmt = field(field(body, "text", dict, "") or {}, "format", dict, "text")
    if not fmt:
        return None, False
    kind = one_of(need(fmt, "type", str, "text.format"), ("text", "json_object", "json_schema"), "text.format.type")
    if kind == "json_schema":
        return need(fmt, "schema", dict, "text.format"), True
    return None, kind == "json_object"


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    for key in STATEFUL:
        if body.get(key) is not None:
            raise BadRequest(key, "server-side state is not served by this gateway; send the full conversation in `input`")
    if field(body, "background", bool, ""):
        raise BadRequest("background", "background responses are not served; use stream or a plain request")
    system, messages = _input(body)
    tools, dropped = _tools(body)
    tool_choice, tools = _tool_choice(body.get("tool_choice"), tools, dropped)
    reasoning = field(body, "reasoning", dict, "")
    effort = field(reasoning, "effort", str, "reasoning") if reasoning is not None else None
    schema, json_mode = _text_format(body)
    return ir.Request(
        model=model or need(body, "model", str, ""),
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=field(body, "parallel_tool_calls", bool, ""),
        max_tokens=field(body, "max_output_tokens", int, ""),
        temperature=field(body, "temperature", float, ""),
        top_p=field(body, "top_p", float, ""),
        stream=bool(field(body, "stream", bool, "")) if stream is None else stream,
        stream_usage=True,
        reasoning=None if reasoning is None else ir.Reasoning(effort=one_of(effort, EFFORTS, "reasoning.effort") if effort else None),  # type: ignore[arg-type]
        response_schema=schema,
        json_mode=json_mode,
        user=field(body, "prompt_cache_key", str, "") or field(body, "user", str, ""),
    )


# ---- rendering to a client -------------------------------------------------------------


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
    return upstream_id if upstream_id.startswith("resp_") else f"resp_{upstream_id or uuid.uuid4().hex}"


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


def _output_items(parts: list[ir.Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart):
            if out and out[-1]["type"] == "message":
                out[-1]["content"][0]["text"] += part.text
            else:
                out.append(_message_item(_new_id("msg"), part.text))
        elif isinstance(part, ir.ThinkingPart):
            signature = part.signature if part.family == FAMILY else None
            if part.text or signature:
                out.append(_reasoning_item(_new_id("rs"), part.text, signature))
        elif isinstance(part, ir.ToolCallPart):
            out.append(_call_item(_new_id("fc"), part.id, part.name, orjson.dumps(part.arguments).decode()))
    return out


def render_response(response: ir.Response) -> dict[str, Any]:
    status, incomplete = _status(response.stop_reason)
    body = _response(_response_id(response.id), response.model, status, _output_items(response.parts), None)
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


class Renderer:
    """ir events into the Responses event stream, every frame with `event:` and `sequence_number`."""

    content_type = "text/event-stream"

    def __init__(self, request: ir.Request) -> None:
        self._request = request
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
            self._id = _response_id(event.id)
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
        item = self._open[event.index] = _Item(index, "tool_call", _new_id("fc"), event.id, event.name)
        added = _call_item(item.id, item.call_id, item.name, "", "in_progress")
        return self._emit("response.output_item.added", output_index=index, item=added)

    def _text(self, event: ir.TextDelta) -> bytes:
        item = self._open[event.index]
        item.text.append(event.text)
        return self._emit(
            "response.output_text.delta", item_id=item.id, output_index=item.output_index, content_index=0, delta=event.text, logprobs=[]
        )

    def _thinking(self, event: ir.ThinkingDelta) -> bytes:
        item = self._open[event.index]
        out = b""
        if event.signature and event.family == FAMILY:
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
            done = _reasoning_item(item.id, text, item.signature)
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


# ---- speaking to a Responses upstream ------------------------------------------------------


def _input_part(part: ir.Part) -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        return {"type": "input_text", "text": part.text}
    if not isinstance(part, ir.MediaPart):
        return None
    if part.kind == "image":
        return {"type": "input_image", "image_url": data_url(part), "detail": "auto"}
    if part.media_type == "text/plain" and part.data is not None:
        return {"type": "input_text", "text": part.data}
    if part.url is not None:
        return {"type": "input_file", "file_url": part.url}
    return {"type": "input_file", "filename": "document.pdf", "file_data": data_url(part)}


def _result_output(result: ir.ToolResultPart) -> str | list[dict[str, Any]]:
    if all(isinstance(p, ir.TextPart) for p in result.content):
        return tool_result_text(result)
    parts = [_input_part(p) for p in result.content]
    if result.is_error:
        parts.insert(0, {"type": "input_text", "text": "[tool error]"})
    return [p for p in parts if p is not None]


def _encode_assistant(message: ir.Message, out: list[dict[str, Any]]) -> None:
    for part in message.parts:
        if isinstance(part, ir.TextPart):
            if out and out[-1].get("role") == "assistant":
                out[-1]["content"][0]["text"] += part.text
            else:
                out.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": part.text}]})
        elif isinstance(part, ir.ToolCallPart):
            out.append({"type": "function_call", "call_id": part.id, "name": part.name, "arguments": orjson.dumps(part.arguments).decode()})
        elif isinstance(part, ir.ThinkingPart) and part.family == FAMILY and part.signature:
            summary = [{"type": "summary_text", "text": part.text}] if part.text else []
            out.append({"type": "reasoning", "summary": summary, "encrypted_content": part.signature})


def _encode_input(request: ir.Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "assistant":
            _encode_assistant(message, out)
            continue
        role = "developer" if message.role == "system" else "user"
        for result in (p for p in message.parts if isinstance(p, ir.ToolResultPart)):
            out.append({"type": "function_call_output", "call_id": result.call_id, "output": _result_output(result)})
        content = [c for c in (_input_part(p) for p in message.parts) if c is not None]
        if content:
            out.append({"type": "message", "role": role, "content": content})
    return out


def _effort(reasoning: ir.Reasoning) -> str | None:
    """The Responses effort for a reasoning request; None leaves the model's default."""
    if reasoning.effort is not None:
        return "xhigh" if reasoning.effort == "max" else reasoning.effort
    if reasoning.budget is None:
        return None
    return "low" if reasoning.budget <= 2048 else "medium" if reasoning.budget <= 8192 else "high"


def _cache_key(user: str) -> str:
    return user if len(user) <= 64 else f"bg-{hashlib.sha256(user.encode()).hexdigest()[:40]}"


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": _encode_input(request), "store": False}
    if request.system:
        body["instructions"] = "\n\n".join(p.text for p in request.system)
    if request.tools:
        body["tools"] = [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": False}
            for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None and (request.tools or request.tool_choice.mode == "none"):
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    for key, value in (("max_output_tokens", request.max_tokens), ("temperature", request.temperature), ("top_p", request.top_p)):
        if value is not None:
            body[key] = value
    if request.reasoning is not None and options.reasoning_effort:
        effort = _effort(request.reasoning)
        body["reasoning"] = {} if effort == "none" else {"summary": "auto"}
        if effort is not None:
            body["reasoning"]["effort"] = effort
        if effort != "none":
            body["include"] = ["reasoning.encrypted_content"]
    if request.response_schema is not None:
        body["text"] = {"format": {"type": "json_schema", "name": "response", "schema": request.response_schema, "strict": False}}
    elif request.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    if request.user:
        body["prompt_cache_key"] = _cache_key(request.user)
    if request.stream:
        body["stream"] = True
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for a Responses upstream: new model, clamped token limit, changed effort."""
    body = dict(raw)
    body["model"] = model
    if request.max_tokens is not None and "max_output_tokens" in body:
        body["max_output_tokens"] = request.max_tokens
    reasoning: dict[str, Any] = body["reasoning"] if isinstance(body.get("reasoning"), dict) else {}
    if request.reasoning is not None and request.reasoning.effort is not None and request.reasoning.effort != reasoning.get("effort"):
        body["reasoning"] = {**reasoning, "effort": _effort(request.reasoning)}
    return body


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
