"""What the Gemini parts share: the status table, camelCase keys, reading a part (a
client's request, an upstream's response) with the tool-call ids of a history, reading
`thinkingConfig` (`parse_request`, `passthrough`), and writing parts (a client's
response, an upstream's request).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson

from babelgate import ir
from babelgate.dialects._check import base64, field, items, need, one_of
from babelgate.errors import BadRequest, Kind
from babelgate.reasoning import is_envelope, seal_part, signed_by

FAMILY = "gemini"
SKIP_SIGNATURE = "skip_thought_signature_validator"
STATUS: dict[str, tuple[int, str]] = {
    Kind.INVALID_REQUEST.value: (400, "INVALID_ARGUMENT"),
    Kind.AUTHENTICATION.value: (401, "UNAUTHENTICATED"),
    Kind.PERMISSION.value: (403, "PERMISSION_DENIED"),
    Kind.NOT_FOUND.value: (404, "NOT_FOUND"),
    Kind.TOO_LARGE.value: (413, "INVALID_ARGUMENT"),
    Kind.RATE_LIMIT.value: (429, "RESOURCE_EXHAUSTED"),
    Kind.BILLING.value: (429, "RESOURCE_EXHAUSTED"),
    Kind.OVERLOADED.value: (503, "UNAVAILABLE"),
    Kind.UPSTREAM.value: (500, "INTERNAL"),
    Kind.TIMEOUT.value: (504, "DEADLINE_EXCEEDED"),
}
STATUS_KINDS = {status: Kind(kind) for kind, (_, status) in reversed(STATUS.items())}
PART_KEYS = ("text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult")


def _camel(obj: dict[str, Any]) -> dict[str, Any]:
    """One level of keys in camelCase (`inline_data` → `inlineData`)."""
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k) if "_" in k else k: v for k, v in obj.items()}


def _media_kind(mime: str) -> Literal["image", "document"]:
    return "image" if mime.startswith("image/") else "document"


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
        content.append(
            ir.MediaPart(
                mime, data=base64(need(blob, "data", str, f"{where}.inlineData"), f"{where}.inlineData.data"), kind=_media_kind(mime)
            )
        )
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
            out = [ir.MediaPart(mime, data=base64(need(blob, "data", str, f"{path}.{key}"), f"{path}.{key}.data"), kind=_media_kind(mime))]
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


def _media(part: ir.MediaPart) -> dict[str, Any]:
    if part.url is not None:
        return {"fileData": {"mimeType": part.media_type, "fileUri": part.url}}
    return {"inlineData": {"mimeType": part.media_type, "data": part.data or ""}}


def _model_parts(parts: list[ir.Part], upstream: bool = False, placeholder: bool = False, model: str = "") -> list[dict[str, Any]]:
    """Assistant parts as Gemini parts. Going `upstream`, unsigned thoughts and other families'
    stay home (Gemini does not read them back) and `placeholder` signs an unsigned first
    functionCall; going to a client, another family's state is sealed into a thought's signature."""
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ir.TextPart) and part.text:
            out.append({"text": part.text})
        elif isinstance(part, ir.ThinkingPart) and part.family != FAMILY and not upstream:
            if part.text or part.signature:
                out.append({"text": part.text, "thought": True, "thoughtSignature": seal_part(part, model)})
        elif isinstance(part, ir.ThinkingPart) and part.family == FAMILY and not (upstream and not signed_by(part, FAMILY)):
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
            own = part.signature if part.signature and not is_envelope(part.signature) else None
            signature = own or (SKIP_SIGNATURE if placeholder and first else None)
            out.append({**call, "thoughtSignature": signature} if signature else call)
        elif isinstance(part, ir.MediaPart):
            out.append(_media(part))
    return out
