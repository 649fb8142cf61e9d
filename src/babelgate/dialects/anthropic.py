"""Anthropic Messages API: `POST /v1/messages`, both as a client dialect and an upstream."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import orjson

from babelgate import ir, sse
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.base import EncodeOptions, FrameParser
from babelgate.errors import BadRequest, GatewayError, Kind

name = "anthropic"
BILLING_HEADER = "x-anthropic-billing-header:"

ERROR_TYPES: dict[Kind, str] = {
    Kind.INVALID_REQUEST: "invalid_request_error",
    Kind.AUTHENTICATION: "authentication_error",
    Kind.PERMISSION: "permission_error",
    Kind.NOT_FOUND: "not_found_error",
    Kind.TOO_LARGE: "request_too_large",
    Kind.RATE_LIMIT: "rate_limit_error",
    Kind.OVERLOADED: "overloaded_error",
    Kind.UPSTREAM: "api_error",
    Kind.TIMEOUT: "timeout_error",
}
KIND_OF_TYPE = {v: k for k, v in ERROR_TYPES.items()}
EFFORTS: tuple[ir.EffortLevel, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
STOP_REASONS: dict[str, ir.StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    "model_context_window_exceeded": "max_tokens",
}


# ---- parsing a client request ----------------------------------------------------------


def _media(block: dict[str, Any], path: str, kind: str) -> ir.MediaPart:
    source = need(block, "source", dict, path)
    where = f"{path}.source"
    source_type = need(source, "type", str, where)
    if source_type == "base64":
        return ir.MediaPart(
            need(source, "media_type", str, where),
            data=need(source, "data", str, where),
            kind=kind,  # type: ignore[arg-type]
        )
    if source_type == "url":
        url = need(source, "url", str, where)
        media_type = "application/pdf" if kind == "document" else _guess_image_type(url)
        return ir.MediaPart(media_type, url=url, kind=kind)  # type: ignore[arg-type]
    if source_type == "text" and kind == "document":
        return ir.MediaPart("text/plain", data=need(source, "data", str, where), kind="document")
    raise BadRequest(f"{where}.type", f"unsupported source type {source_type!r}")


def _guess_image_type(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for ext, media_type in ((".png", "image/png"), (".gif", "image/gif"), (".webp", "image/webp")):
        if lowered.endswith(ext):
            return media_type
    return "image/jpeg"


def _tool_result_content(block: dict[str, Any], path: str) -> list[ir.TextPart | ir.MediaPart]:
    content = block.get("content")
    if content is None:
        return []
    if isinstance(content, str):
        return [ir.TextPart(content)]
    if not isinstance(content, list):
        raise BadRequest(f"{path}.content", "expected a string or an array")
    parts: list[ir.TextPart | ir.MediaPart] = []
    for where, item in items(content, f"{path}.content"):
        kind = need(item, "type", str, where)
        if kind == "text":
            parts.append(ir.TextPart(need(item, "text", str, where)))
        elif kind in ("image", "document"):
            parts.append(_media(item, where, kind))
        elif kind == "tool_reference":
            parts.append(ir.TextPart(f"Tool loaded: {need(item, 'tool_name', str, where)}"))
        elif kind == "search_result":
            texts = [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
            parts.append(ir.TextPart("\n".join([str(item.get("title", "")), *texts]).strip()))
        else:
            raise BadRequest(f"{where}.type", f"unsupported tool result block type {kind!r}")
    return parts


def _block(block: dict[str, Any], path: str) -> ir.Part:
    kind = need(block, "type", str, path)
    if kind == "text":
        return ir.TextPart(need(block, "text", str, path))
    if kind in ("image", "document"):
        return _media(block, path, kind)
    if kind == "thinking":
        return ir.ThinkingPart(need(block, "thinking", str, path), signature=field(block, "signature", str, path), family="anthropic")
    if kind == "redacted_thinking":
        return ir.ThinkingPart("", signature=need(block, "data", str, path), family="anthropic", redacted=True)
    if kind == "tool_use":
        arguments = block.get("input")
        if not isinstance(arguments, dict):
            raise BadRequest(f"{path}.input", "expected an object")
        return ir.ToolCallPart(need(block, "id", str, path), need(block, "name", str, path), arguments)
    if kind == "tool_result":
        return ir.ToolResultPart(
            need(block, "tool_use_id", str, path),
            _tool_result_content(block, path),
            is_error=bool(field(block, "is_error", bool, path)),
        )
    raise BadRequest(f"{path}.type", f"unsupported content block type {kind!r}")


def _server_block(block: dict[str, Any]) -> bool:
    """A server tool's call or result (web search, code execution...): it ran on Anthropic's side and means nothing elsewhere."""
    kind = block.get("type")
    return isinstance(kind, str) and (
        kind in ("server_tool_use", "mcp_tool_use") or (kind.endswith("_tool_result") and kind != "tool_result")
    )


def _content(message: dict[str, Any], path: str) -> list[ir.Part]:
    content = message.get("content")
    if isinstance(content, str):
        return [ir.TextPart(content)] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{path}.content", "expected a string or an array of content blocks")
    return [_block(block, where) for where, block in items(content, f"{path}.content") if not _server_block(block)]


def _system(value: Any) -> list[ir.TextPart]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    if not isinstance(value, list):
        raise BadRequest("system", "expected a string or an array of text blocks")
    parts = []
    for where, block in items(value, "system"):
        text = need(block, "text", str, where)
        if not text.startswith(BILLING_HEADER):  # changes every call; would defeat prompt caching
            parts.append(ir.TextPart(text))
    return parts


def _referenced_tools(messages: list[dict[str, Any]]) -> set[str]:
    """Names loaded by `tool_reference` blocks: deferred tools become visible only then."""
    names: set[str] = set()
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                for inner in block["content"]:
                    if isinstance(inner, dict) and inner.get("type") == "tool_reference":
                        names.add(str(inner.get("tool_name")))
    return names


def _tools(body: dict[str, Any], messages: list[dict[str, Any]]) -> list[ir.Tool]:
    raw = field(body, "tools", list, "")
    if not raw:
        return []
    loaded = _referenced_tools(messages)
    tools = []
    for where, tool in items(raw, "tools"):
        if tool.get("type") not in (None, "custom"):
            continue  # Anthropic server tools (web_search, ...) only run on Anthropic's side
        name = need(tool, "name", str, where)
        if tool.get("defer_loading") and name not in loaded:
            continue
        schema = field(tool, "input_schema", dict, where) or {"type": "object", "properties": {}}
        tools.append(ir.Tool(name, field(tool, "description", str, where) or "", schema))
    return tools


def _tool_choice(body: dict[str, Any]) -> tuple[ir.ToolChoice | None, bool | None]:
    choice = field(body, "tool_choice", dict, "")
    if choice is None:
        return None, None
    mode = one_of(need(choice, "type", str, "tool_choice"), ("auto", "any", "tool", "none"), "tool_choice.type")
    name = need(choice, "name", str, "tool_choice") if mode == "tool" else None
    parallel = None if "disable_parallel_tool_use" not in choice else not choice["disable_parallel_tool_use"]
    return ir.ToolChoice(mode, name), parallel  # type: ignore[arg-type]


def _reasoning(body: dict[str, Any]) -> ir.Reasoning | None:
    thinking = field(body, "thinking", dict, "")
    output_config = field(body, "output_config", dict, "") or {}
    effort = field(output_config, "effort", str, "output_config")
    if effort is not None:
        one_of(effort, EFFORTS, "output_config.effort")
    if thinking is None:
        return ir.Reasoning(effort=effort) if effort else None  # type: ignore[arg-type]
    mode = one_of(need(thinking, "type", str, "thinking"), ("enabled", "adaptive", "disabled"), "thinking.type")
    if mode == "disabled":
        return ir.Reasoning(effort="none")
    budget = field(thinking, "budget_tokens", int, "thinking") if mode == "enabled" else None
    return ir.Reasoning(effort=effort or ("medium" if budget is None else None), budget=budget)  # type: ignore[arg-type]


def _schema_format(body: dict[str, Any]) -> dict[str, Any] | None:
    fmt = (body.get("output_config") or {}).get("format") or body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        schema: dict[str, Any] = fmt["schema"]
        return schema
    return None


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    raw_messages = need(body, "messages", list, "")
    messages: list[ir.Message] = []
    for where, message in items(raw_messages, "messages"):
        role = one_of(need(message, "role", str, where), ("user", "assistant", "system"), f"{where}.role")
        parts = _content(message, where)
        if role == "system" and not parts:
            continue
        messages.append(ir.Message(role, parts))  # type: ignore[arg-type]
    tool_choice, parallel = _tool_choice(body)
    metadata = field(body, "metadata", dict, "") or {}
    return ir.Request(
        model=model or need(body, "model", str, ""),
        messages=messages,
        system=_system(body.get("system")),
        tools=_tools(body, raw_messages),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        max_tokens=field(body, "max_tokens", int, ""),
        temperature=field(body, "temperature", float, ""),
        top_p=field(body, "top_p", float, ""),
        top_k=field(body, "top_k", int, ""),
        stop=list(field(body, "stop_sequences", list, "") or []),
        stream=bool(field(body, "stream", bool, "")) if stream is None else stream,
        reasoning=_reasoning(body),
        response_schema=_schema_format(body),
        user=field(metadata, "user_id", str, "metadata"),
    )


# ---- rendering to a client -------------------------------------------------------------


def _usage(usage: ir.Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
    }


def _media_block(part: ir.MediaPart) -> dict[str, Any]:
    if part.url is not None:
        source: dict[str, Any] = {"type": "url", "url": part.url}
    elif part.media_type == "text/plain":
        source = {"type": "text", "media_type": "text/plain", "data": part.data}
    else:
        source = {"type": "base64", "media_type": part.media_type, "data": part.data}
    return {"type": part.kind, "source": source}


def _render_part(part: ir.Part, family: str | None = "anthropic") -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ir.ThinkingPart):
        signature = part.signature if part.family == family else None
        if part.redacted:
            return {"type": "redacted_thinking", "data": signature} if signature else None
        return {"type": "thinking", "thinking": part.text, "signature": signature or ""}
    if isinstance(part, ir.ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ir.MediaPart):
        return _media_block(part)
    content = [_render_part(p) for p in part.content]
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id, "content": content}
    if part.is_error:
        block["is_error"] = True
    return block


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

    def __init__(self, model: str) -> None:
        self.model = model
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
                "usage": _usage(event.usage or ir.Usage()),
            }
            return _frame("message_start", {"type": "message_start", "message": message})
        if isinstance(event, ir.Finish):
            delta = {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence}
            return _frame("message_delta", {"type": "message_delta", "delta": delta, "usage": _usage(event.usage)}) + _frame(
                "message_stop", {"type": "message_stop"}
            )
        error = {"type": ERROR_TYPES.get(Kind(event.kind), "api_error"), "message": event.message}
        return _frame("error", {"type": "error", "error": error})


def stream_renderer(request: ir.Request) -> Renderer:
    return Renderer(request.model)


def render_error(error: GatewayError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": ERROR_TYPES[error.kind], "message": error.message}}
    if error.code:
        body["error"]["code"] = error.code
    body["error"].update(error.details)
    return body


# ---- speaking to an Anthropic upstream ---------------------------------------------------


def _signed_here(part: ir.Part) -> bool:
    """Anthropic rejects thinking it did not sign: other models' reasoning stays behind."""
    return not isinstance(part, ir.ThinkingPart) or (part.family == "anthropic" and bool(part.signature))


def _encode_message(message: ir.Message) -> dict[str, Any]:
    blocks = [b for b in (_render_part(p) for p in message.parts if _signed_here(p)) if b is not None]
    return {"role": message.role, "content": blocks}


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or 8192,
        "messages": [m for m in (_encode_message(m) for m in request.messages) if m["content"]],
    }
    if request.system:
        body["system"] = [{"type": "text", "text": p.text} for p in request.system]
    if request.tools:
        body["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools]
    if request.tool_choice:
        choice: dict[str, Any] = {"type": request.tool_choice.mode}
        if request.tool_choice.name:
            choice["name"] = request.tool_choice.name
        if request.parallel_tool_calls is False and request.tool_choice.mode != "none":
            choice["disable_parallel_tool_use"] = True
        body["tool_choice"] = choice
    elif request.parallel_tool_calls is False and request.tools:
        body["tool_choice"] = {"type": "auto", "disable_parallel_tool_use": True}
    for key, value in (("temperature", request.temperature), ("top_p", request.top_p), ("top_k", request.top_k)):
        if value is not None:
            body[key] = value
    if request.stop:
        body["stop_sequences"] = request.stop
    reasoning = request.reasoning
    forced = request.tool_choice is not None and request.tool_choice.mode in ("any", "tool")
    if reasoning and reasoning.effort != "none" and not forced:  # Anthropic refuses thinking with a forced tool
        budget = min(reasoning.budget or thinking_budget(reasoning.effort or "medium"), body["max_tokens"] - 1)
        if budget >= MIN_BUDGET:
            body["thinking"] = {"type": "enabled", "budget_tokens": budget}
            body.pop("top_k", None)  # thinking allows no top_k and only the default temperature
            body.pop("temperature", None)
    if request.response_schema is not None:
        body["output_format"] = {"type": "json_schema", "schema": request.response_schema}
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for an Anthropic upstream: new model, clamped max_tokens, no billing header."""
    body = dict(raw)
    body["model"] = model
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    system = body.get("system")
    if isinstance(system, list):
        body["system"] = [b for b in system if not (isinstance(b, dict) and str(b.get("text", "")).startswith(BILLING_HEADER))]
    wanted = request.reasoning
    if wanted is not None and wanted != _reasoning(raw):  # a routing variant such as `model(high)`
        if wanted.effort == "none":
            body.pop("thinking", None)
        else:
            body["thinking"] = {"type": "enabled", "budget_tokens": wanted.budget or thinking_budget(wanted.effort or "medium")}
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int) and isinstance(body.get("max_tokens"), int):
        budget = min(thinking["budget_tokens"], body["max_tokens"] - 1)  # the cap may have lowered max_tokens
        if budget < MIN_BUDGET:
            body.pop("thinking")
        else:
            body["thinking"] = {**thinking, "budget_tokens": budget}
    return body


MIN_BUDGET = 1024  # Anthropic's smallest thinking budget
BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576, "max": 32768}


def thinking_budget(effort: str) -> int:
    return BUDGETS.get(effort, 8192)


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
        id=str(body.get("id") or f"msg_{uuid.uuid4().hex}"),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=_stop_reason(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence"),
        usage=_usage_in(body.get("usage")),
    )


_KNOWN_BLOCKS = {"text", "thinking", "redacted_thinking", "tool_use"}


class Parser(FrameParser):
    """Anthropic SSE from an upstream into ir events (block indexes kept as they come)."""

    def __init__(self) -> None:
        super().__init__()
        self._usage = ir.Usage()
        self._finished = False
        self._skipped: set[int] = set()
        self._stop: tuple[ir.StopReason, str | None] = ("end_turn", None)

    def _eof(self, out: list[ir.Event]) -> None:
        if not self._finished:
            out.append(ir.StreamError(Kind.UPSTREAM.value, "upstream stream ended before message_stop"))

    def _frame(self, raw: str, out: list[ir.Event]) -> None:
        if not raw:
            return
        data = orjson.loads(raw)
        kind = data.get("type")
        if kind == "content_block_delta":
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
        elif kind == "content_block_start":
            index, block = data["index"], data["content_block"]
            btype = block.get("type")
            if btype in ("text", "thinking"):
                out.append(ir.BlockStart(index, btype))
                if block.get(btype):
                    out.append(ir.TextDelta(index, block["text"]) if btype == "text" else ir.ThinkingDelta(index, block["thinking"]))
            elif btype == "tool_use":
                out.append(ir.BlockStart(index, "tool_call", id=block["id"], name=block["name"]))
            else:
                self._skipped.add(index)
        elif kind == "content_block_stop":
            if data["index"] not in self._skipped:
                out.append(ir.BlockStop(data["index"]))
        elif kind == "message_start":
            message = data.get("message") or {}
            self._usage = _usage_in(message.get("usage"))
            start_usage = dataclasses.replace(self._usage)  # message_delta updates self._usage later, not this event
            out.append(ir.Start(str(message.get("id") or f"msg_{uuid.uuid4().hex}"), str(message.get("model") or ""), start_usage))
        elif kind == "message_delta":
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
        elif kind == "message_stop":
            self._finished = True
            out.append(ir.Finish(self._stop[0], self._usage, self._stop[1]))
        elif kind == "error":
            error = data.get("error") or {}
            self._finished = True
            out.append(ir.StreamError(KIND_OF_TYPE.get(str(error.get("type")), Kind.UPSTREAM).value, str(error.get("message"))))


def stream_parser() -> Parser:
    return Parser()


def error_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or body["error"])
    return str(body)[:500]
