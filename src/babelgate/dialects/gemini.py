"""Gemini generateContent (v1beta): `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, as a client dialect and an upstream.

The model and the stream flag live in the URL: the server passes them to `parse_request`.
Field names are read in camelCase or snake_case (the REST API accepts both).

- Tool-call ids: `functionCall.id` / `functionResponse.id` are used when given. Otherwise
  ids are made from position and name (`call_<content>_<part>_<name>`), so the same history
  gives the same ids, and a `functionResponse` answers the oldest open call of its name.
  Going out, a tool result takes its function name from `ToolResultPart.name` or from the
  matching `ToolCallPart` in the history.
- thoughtSignature: on a thought part it is that `ThinkingPart`'s signature (family "gemini");
  on a functionCall it is `ToolCallPart.signature`; on any other part it becomes a text-less
  `ThinkingPart` right after that part, and goes back onto the preceding part on the way out.
  Gemini 3 upstreams need a signature on each step's first functionCall: history from other
  models gets Google's documented placeholder.
- Tools the upstream cannot serve are dropped (googleSearch, codeExecution, urlContext...);
  if `functionCallingConfig` forces only dropped tools → 400. Function parameters go out
  through `gemini_schema.clean_schema`.
- Streams carry whole parts: text and thoughts as they come, function calls whole (argument
  deltas are buffered until the block stops).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any, Literal

import orjson

from babelgate import ir, sse
from babelgate.dialects._check import field, items, need, one_of
from babelgate.dialects.anthropic import thinking_budget
from babelgate.dialects.base import EncodeOptions, FrameParser
from babelgate.dialects.gemini_schema import clean_schema, to_json_schema
from babelgate.dialects.parts import load_arguments
from babelgate.errors import BadRequest, GatewayError, Kind

name = "gemini"
FAMILY = "gemini"
SKIP_SIGNATURE = "skip_thought_signature_validator"
STATUS: dict[str, tuple[int, str]] = {
    Kind.INVALID_REQUEST.value: (400, "INVALID_ARGUMENT"),
    Kind.AUTHENTICATION.value: (401, "UNAUTHENTICATED"),
    Kind.PERMISSION.value: (403, "PERMISSION_DENIED"),
    Kind.NOT_FOUND.value: (404, "NOT_FOUND"),
    Kind.TOO_LARGE.value: (413, "INVALID_ARGUMENT"),
    Kind.RATE_LIMIT.value: (429, "RESOURCE_EXHAUSTED"),
    Kind.OVERLOADED.value: (503, "UNAVAILABLE"),
    Kind.UPSTREAM.value: (500, "INTERNAL"),
    Kind.TIMEOUT.value: (504, "DEADLINE_EXCEEDED"),
}
STATUS_KINDS = {status: Kind(kind) for kind, (_, status) in reversed(STATUS.items())}
FINISH: dict[str, str] = {"max_tokens": "MAX_TOKENS", "refusal": "SAFETY"}
REFUSALS = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"} | {
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
}
LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH", "max": "HIGH"}
PART_KEYS = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult")


def _camel(obj: dict[str, Any]) -> dict[str, Any]:
    """One level of keys in camelCase (`inline_data` → `inlineData`)."""
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k) if "_" in k else k: v for k, v in obj.items()}


def _media_kind(mime: str) -> Literal["image", "document"]:
    return "image" if mime.startswith("image/") else "document"


def _model_generation(model: str) -> int | None:
    found = re.search(r"gemini-(\d+)", model)
    return int(found.group(1)) if found else None


# ---- parsing a client request ----------------------------------------------------------


class _Ids:
    """Tool-call ids for a history: the given ones, else made from position and name."""

    def __init__(self) -> None:
        self.open: list[tuple[str, str]] = []

    def call(self, given: str | None, fname: str, where: tuple[int, int]) -> str:
        call_id = given or _made_id(fname, where)
        self.open.append((call_id, fname))
        return call_id

    def result(self, given: str | None, fname: str, where: tuple[int, int]) -> str:
        for position, (call_id, call_name) in enumerate(self.open):
            if call_id == given or (given is None and call_name == fname):
                del self.open[position]
                return call_id
        return given or _made_id(fname, where)


def _made_id(fname: str, where: tuple[int, int]) -> str:
    return f"call_{where[0]}_{where[1]}_{re.sub(r'[^A-Za-z0-9_-]', '_', fname)}"[:64]


def _result_content(response: dict[str, Any], extra: list[Any], path: str) -> tuple[list[ir.TextPart | ir.MediaPart], bool]:
    is_error = "error" in response and "output" not in response
    value: Any = response.get("error") if is_error else response["output"] if set(response) == {"output"} else response
    text = value if isinstance(value, str) else orjson.dumps(value).decode() if value not in (None, {}) else ""
    content: list[ir.TextPart | ir.MediaPart] = [ir.TextPart(text)] if text else []
    for where, part in items(extra, f"{path}.parts"):
        blob = _camel(need(_camel(part), "inlineData", dict, where))
        mime = need(blob, "mimeType", str, f"{where}.inlineData")
        content.append(ir.MediaPart(mime, data=need(blob, "data", str, f"{where}.inlineData"), kind=_media_kind(mime)))
    return content, is_error


def _part(part: dict[str, Any], path: str, ids: _Ids, where: tuple[int, int]) -> list[ir.Part]:
    part = _camel(part)
    signature = field(part, "thoughtSignature", str, path)
    if "text" in part:
        text = field(part, "text", str, path) or ""
        if part.get("thought") is True:
            return [ir.ThinkingPart(text, signature=signature, family=FAMILY)]
        out: list[ir.Part] = [ir.TextPart(text)] if text else []
    elif "functionCall" in part:
        call = _camel(need(part, "functionCall", dict, path))
        fname = need(call, "name", str, f"{path}.functionCall")
        arguments = field(call, "args", dict, f"{path}.functionCall") or {}
        return [ir.ToolCallPart(ids.call(field(call, "id", str, f"{path}.functionCall"), fname, where), fname, arguments, signature)]
    elif "functionResponse" in part:
        result = _camel(need(part, "functionResponse", dict, path))
        fname = need(result, "name", str, f"{path}.functionResponse")
        response = field(result, "response", dict, f"{path}.functionResponse") or {}
        content, is_error = _result_content(
            response, field(result, "parts", list, f"{path}.functionResponse") or [], f"{path}.functionResponse"
        )
        call_id = ids.result(field(result, "id", str, f"{path}.functionResponse"), fname, where)
        out = [ir.ToolResultPart(call_id, content, is_error=is_error, name=fname)]
    elif "inlineData" in part or "fileData" in part:
        key = "inlineData" if "inlineData" in part else "fileData"
        blob = _camel(need(part, key, dict, path))
        mime = field(blob, "mimeType", str, f"{path}.{key}") or "application/octet-stream"
        if key == "inlineData":
            out = [ir.MediaPart(mime, data=need(blob, "data", str, f"{path}.{key}"), kind=_media_kind(mime))]
        else:
            out = [ir.MediaPart(mime, url=need(blob, "fileUri", str, f"{path}.{key}"), kind=_media_kind(mime))]
    elif "executableCode" in part:
        code = _camel(need(part, "executableCode", dict, path))
        out = [ir.TextPart(f"```{str(code.get('language') or '').lower()}\n{code.get('code') or ''}\n```")]
    elif "codeExecutionResult" in part:
        out = [ir.TextPart(f"Output:\n{_camel(need(part, 'codeExecutionResult', dict, path)).get('output') or ''}")]
    else:
        raise BadRequest(path, f"unsupported part: expected one of {', '.join(PART_KEYS)}")
    return [*out, ir.ThinkingPart("", signature=signature, family=FAMILY)] if signature else out


def _contents(body: dict[str, Any]) -> list[ir.Message]:
    ids = _Ids()
    messages: list[ir.Message] = []
    for ci, (where, content) in enumerate(items(need(body, "contents", list, ""), "contents")):
        role = one_of(field(content, "role", str, where) or "user", ("user", "model", "function"), f"{where}.role")
        parts: list[ir.Part] = []
        for pi, (path, part) in enumerate(items(field(content, "parts", list, where) or [], f"{where}.parts")):
            parts.extend(_part(part, path, ids, (ci, pi)))
        messages.append(ir.Message("assistant" if role == "model" else "user", parts))
    return messages


def _system(body: dict[str, Any]) -> list[ir.TextPart]:
    value = body.get("systemInstruction")
    if isinstance(value, str):
        return [ir.TextPart(value)] if value else []
    if value is None:
        return []
    if not isinstance(value, dict):
        raise BadRequest("systemInstruction", "expected an object with parts")
    parts = items(field(value, "parts", list, "systemInstruction") or [], "systemInstruction.parts")
    return [ir.TextPart(need(p, "text", str, where)) for where, p in parts if p.get("text")]


def _tools(body: dict[str, Any]) -> tuple[list[ir.Tool], set[str]]:
    tools: list[ir.Tool] = []
    dropped: set[str] = set()
    for where, tool in items(field(body, "tools", list, "") or [], "tools"):
        tool = _camel(tool)
        dropped.update(k for k in tool if k != "functionDeclarations")
        for path, decl in items(field(tool, "functionDeclarations", list, where) or [], f"{where}.functionDeclarations"):
            decl = _camel(decl)
            raw = decl.get("parametersJsonSchema", decl.get("parameters"))
            if raw is not None and not isinstance(raw, dict):
                raise BadRequest(f"{path}.parameters", "expected an object")
            schema = to_json_schema(raw) if raw else {"type": "object", "properties": {}}
            tools.append(ir.Tool(need(decl, "name", str, path), field(decl, "description", str, path) or "", schema))
    return tools, dropped


def _tool_choice(body: dict[str, Any], tools: list[ir.Tool], dropped: set[str]) -> tuple[ir.ToolChoice | None, list[ir.Tool]]:
    config = _camel(field(body, "toolConfig", dict, "") or {})
    calling = field(config, "functionCallingConfig", dict, "toolConfig")
    if calling is None:
        return None, tools
    path = "toolConfig.functionCallingConfig"
    calling = _camel(calling)
    mode = one_of(
        (field(calling, "mode", str, path) or "AUTO").upper(), ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"), f"{path}.mode"
    )
    if mode == "NONE":
        return ir.ToolChoice("none"), tools
    if mode != "ANY":
        return ir.ToolChoice("auto"), tools
    allowed = field(calling, "allowedFunctionNames", list, path)
    kept = [t for t in tools if allowed is None or t.name in allowed]
    if not kept:
        why = "tools the upstream cannot serve are dropped" if dropped else "no function declaration matches"
        raise BadRequest(f"{path}.allowedFunctionNames" if allowed else f"{path}.mode", f"forces a function call, but {why}")
    if len(kept) == 1 and allowed is not None:
        return ir.ToolChoice("tool", kept[0].name), tools
    return ir.ToolChoice("any"), kept


def _reasoning(config: dict[str, Any]) -> ir.Reasoning | None:
    thinking = field(config, "thinkingConfig", dict, "generationConfig")
    if thinking is None:
        return None
    path = "generationConfig.thinkingConfig"
    thinking = _camel(thinking)
    budget = field(thinking, "thinkingBudget", int, path)
    level = field(thinking, "thinkingLevel", str, path)
    effort = one_of(level.lower(), ("minimal", "low", "medium", "high", "xhigh"), f"{path}.thinkingLevel") if level else None
    if budget == 0:
        return ir.Reasoning(effort="none")
    if effort or (budget is not None and budget > 0):
        return ir.Reasoning(effort=effort, budget=budget if budget and budget > 0 else None)  # type: ignore[arg-type]
    return ir.Reasoning() if budget == -1 or thinking.get("includeThoughts") else None


def parse_request(body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request:
    body = _camel(body)
    config = _camel(field(body, "generationConfig", dict, "") or {})
    count = field(config, "candidateCount", int, "generationConfig")
    if count is not None and count > 1:
        raise BadRequest("generationConfig.candidateCount", "only one candidate is served; send one request per candidate")
    top_k = field(config, "topK", float, "generationConfig")
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    tools, dropped = _tools(body)
    tool_choice, tools = _tool_choice(body, tools, dropped)
    return ir.Request(
        model=(model or need(body, "model", str, "")).removeprefix("models/"),
        messages=_contents(body),
        system=_system(body),
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=field(config, "maxOutputTokens", int, "generationConfig"),
        temperature=field(config, "temperature", float, "generationConfig"),
        top_p=field(config, "topP", float, "generationConfig"),
        top_k=int(top_k) if top_k is not None else None,
        stop=[str(s) for s in field(config, "stopSequences", list, "generationConfig") or []],
        stream=bool(stream),
        stream_usage=True,
        reasoning=_reasoning(config),
        response_schema=to_json_schema(schema) if isinstance(schema, dict) else None,
        json_mode=field(config, "responseMimeType", str, "generationConfig") == "application/json",
    )


# ---- rendering to a client -------------------------------------------------------------


def _usage(usage: ir.Usage) -> dict[str, int]:
    prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    candidates = max(usage.output_tokens - usage.reasoning_tokens, 0)
    out = {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates + usage.reasoning_tokens}
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def _media(part: ir.MediaPart) -> dict[str, Any]:
    if part.url is not None:
        return {"fileData": {"mimeType": part.media_type, "fileUri": part.url}}
    return {"inlineData": {"mimeType": part.media_type, "data": part.data or ""}}


def _model_parts(parts: list[ir.Part], upstream: bool = False, placeholder: bool = False) -> list[dict[str, Any]]:
    """Assistant parts as Gemini parts. Going `upstream`, unsigned thoughts stay home (Gemini does
    not read them back) and `placeholder` signs an unsigned first functionCall."""
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart) and part.text:
            out.append({"text": part.text})
        elif isinstance(part, ir.ThinkingPart) and part.family == FAMILY and not (upstream and not part.signature):
            signed = {"thoughtSignature": part.signature} if part.signature else {}
            previous = out[-1] if out else {}
            if part.text:
                out.append({"text": part.text, "thought": True, **signed})
            elif signed and "text" in previous and not previous.get("thought") and "thoughtSignature" not in previous:
                previous.update(signed)
            elif signed:
                out.append({"text": "", **signed})
        elif isinstance(part, ir.ToolCallPart):
            call = {"functionCall": {"id": part.id, "name": part.name, "args": part.arguments}}
            first = not any("functionCall" in p for p in out)
            signature = part.signature or (SKIP_SIGNATURE if placeholder and first else None)
            out.append({**call, "thoughtSignature": signature} if signature else call)
        elif isinstance(part, ir.MediaPart):
            out.append(_media(part))
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
    return _response(response.id, response.model, _model_parts(response.parts), finish, response.usage)


class Renderer:
    """ir events into `data: {GenerateContentResponse}` frames, one part per frame."""

    content_type = "text/event-stream"

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._id = uuid.uuid4().hex
        self._calls: dict[int, tuple[ir.BlockStart, list[str]]] = {}
        self._thought_text: set[int] = set()
        self._finished = False

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
            return self._call(event.index) if event.index in self._calls else b""
        if isinstance(event, ir.Start):
            self._id = event.id or self._id
            return b""
        self._finished = True
        if isinstance(event, ir.Finish):
            pending = b"".join(self._call(index) for index in list(self._calls))
            return pending + self._frame(None, FINISH.get(event.stop_reason, "STOP"), event.usage)
        code, status = STATUS.get(event.kind, (500, "INTERNAL"))
        return sse.encode(None, orjson.dumps({"error": {"code": code, "message": event.message, "status": status}}))

    def _thinking(self, event: ir.ThinkingDelta) -> bytes:
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


# ---- speaking to a Gemini upstream ---------------------------------------------------------


def _user_parts(message: ir.Message, names: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ir.ToolResultPart):
            text = "\n".join(p.text for p in part.content if isinstance(p, ir.TextPart))
            response = {"error" if part.is_error else "output": text}
            fname = part.name or names.get(part.call_id) or part.call_id
            out.append({"functionResponse": {"id": part.call_id, "name": fname, "response": response}})
            media.extend(_media(p) for p in part.content if isinstance(p, ir.MediaPart))
        elif isinstance(part, ir.TextPart) and part.text:
            media.append({"text": part.text})
        elif isinstance(part, ir.MediaPart):
            media.append(_media(part))
    return out + media


def _thinking_config(reasoning: ir.Reasoning, model: str) -> dict[str, Any]:
    generation = _model_generation(model)
    legacy = generation is not None and generation < 3
    if reasoning.effort == "none":  # 2.5 Pro cannot switch thinking off: its floor is 128 tokens
        return {"thinkingBudget": 128 if "-pro" in model else 0} if legacy else {"thinkingLevel": _level("minimal", model)}
    config: dict[str, Any] = {"includeThoughts": True}
    if reasoning.budget is not None:
        config["thinkingBudget"] = reasoning.budget
    elif reasoning.effort is not None and legacy:
        config["thinkingBudget"] = thinking_budget(reasoning.effort)
    elif reasoning.effort is not None:
        config["thinkingLevel"] = _level(reasoning.effort, model)
    return config


def _level(effort: str, model: str) -> str:
    """Gemini 3 Pro models take only LOW and HIGH; Flash models take all four levels."""
    level = LEVELS[effort]
    if "-pro" in model and level in ("MINIMAL", "MEDIUM"):
        return "LOW" if level == "MINIMAL" else "HIGH"
    return level


def _declaration(tool: ir.Tool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
    parameters = clean_schema(tool.parameters)
    if parameters:
        declaration["parameters"] = parameters
    return declaration


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    names = {p.id: p.name for m in request.messages for p in m.parts if isinstance(p, ir.ToolCallPart)}
    placeholder = (_model_generation(model) or 0) >= 3
    contents = []
    for message in request.messages:
        if message.role == "assistant":
            parts, role = _model_parts(message.parts, True, placeholder), "model"
        else:
            parts, role = _user_parts(message, names), "user"
        if parts:
            contents.append({"role": role, "parts": parts})
    body: dict[str, Any] = {"contents": contents}
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": p.text} for p in request.system]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    choice = request.tool_choice
    if choice is not None and (request.tools or choice.mode == "none"):
        calling: dict[str, Any] = {"mode": {"auto": "AUTO", "none": "NONE"}.get(choice.mode, "ANY")}
        if choice.mode == "tool":
            calling["allowedFunctionNames"] = [choice.name]
        body["toolConfig"] = {"functionCallingConfig": calling}
    config: dict[str, Any] = {}
    for key, value in (
        ("maxOutputTokens", request.max_tokens),
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("topK", request.top_k),
    ):
        if value is not None:
            config[key] = value
    if request.stop:
        config["stopSequences"] = request.stop[:5]
    if request.response_schema is not None or request.json_mode:
        config["responseMimeType"] = "application/json"
        if request.response_schema is not None:
            config["responseJsonSchema"] = request.response_schema
    if request.reasoning is not None and not re.search(r"gemini-(1\.|2\.0)", model):  # 1.x and 2.0 do not think
        config["thinkingConfig"] = _thinking_config(request.reasoning, model)
    if config:
        body["generationConfig"] = config
    return body


def passthrough(raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]:
    """The client's own body for a Gemini upstream (the model is in the URL): only a clamped token
    limit and a changed reasoning level (a routing variant) are written in."""
    body = _camel(raw)
    config = _camel(body.get("generationConfig") or {})
    if request.max_tokens is not None and "maxOutputTokens" in config:
        config["maxOutputTokens"] = min(int(config["maxOutputTokens"]), request.max_tokens)
    if request.reasoning is not None and request.reasoning != _reasoning(config):
        include = _camel(config.get("thinkingConfig") or {}).get("includeThoughts")
        thinking = _thinking_config(request.reasoning, model)
        config["thinkingConfig"] = thinking if include is None else {**thinking, "includeThoughts": include}
    if config:
        body["generationConfig"] = config
    return body


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
    rid = str(body.get("responseId") or uuid.uuid4().hex)
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
        if not self._started:
            self._started = True
            self._id = str(chunk.get("responseId") or uuid.uuid4().hex)
            out.append(ir.Start(self._id, str(chunk.get("modelVersion") or "")))
        if chunk.get("usageMetadata"):
            self._usage = _usage_in(chunk["usageMetadata"])
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
