"""An ir.Request as a Bedrock Converse body (`POST /model/{modelId}/converse`; the model is in the URL).

- Messages alternate user / assistant: consecutive messages of one role are merged, system-role
  messages join `system`, empty ones are left out.
- Content blocks: `text`, `image` (png, jpeg, gif, webp; inline bytes as base64, or an `s3://`
  URL), `document` (pdf, txt and the other Converse formats, inline), `toolUse`, `toolResult`
  (its content as text, image and document blocks; `status: error` for errors). Thinking from
  earlier turns stays behind: its signatures belong to the model family that made them.
- `inferenceConfig`: maxTokens, temperature (Converse allows 0 to 1: clamped), topP, stopSequences.
- `toolConfig`: each tool as a `toolSpec` with its JSON Schema in `inputSchema.json`; the tool
  choice as `auto`, `any` or `tool` (Converse has no "none": the tools are still described).
- A response schema becomes `outputConfig.textFormat` (json_schema).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects.base import EncodeOptions
from babelgate.errors import BadRequest

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/csv": "csv",
    "text/html": "html",
    "text/markdown": "md",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


def _source(part: ir.MediaPart, where: str) -> dict[str, Any]:
    if part.url is not None:
        if part.url.startswith("s3://"):
            return {"s3Location": {"uri": part.url}}
        raise BadRequest(where, "Bedrock Converse takes images and documents inline (base64) or from s3://, not from a URL")
    data = part.data or ""
    if part.kind == "document" and part.media_type == "text/plain":
        data = base64.b64encode(data.encode()).decode()  # a plain-text document holds its text, not base64
    return {"bytes": data}


def _media(part: ir.MediaPart, where: str, documents: Iterator[int]) -> dict[str, Any]:
    if part.kind == "image":
        image_format = IMAGE_FORMATS.get(part.media_type)
        if image_format is None:
            raise BadRequest(where, f"Bedrock Converse images are png, jpeg, gif or webp, not {part.media_type}")
        return {"image": {"format": image_format, "source": _source(part, where)}}
    document_format = DOCUMENT_FORMATS.get(part.media_type)
    if document_format is None:
        raise BadRequest(where, f"Bedrock Converse does not take {part.media_type} documents")
    name = f"document-{next(documents)}"  # required, and unique in the request
    return {"document": {"format": document_format, "name": name, "source": _source(part, where)}}


def _result(part: ir.ToolResultPart, where: str, documents: Iterator[int]) -> dict[str, Any]:
    content = [{"text": p.text} if isinstance(p, ir.TextPart) else _media(p, where, documents) for p in part.content]
    content = [block for block in content if block.get("text") != ""] or [{"text": "(no output)"}]
    result: dict[str, Any] = {"toolUseId": part.call_id, "content": content}
    if part.is_error:
        result["status"] = "error"
    return {"toolResult": result}


def _block(part: ir.Part, where: str, documents: Iterator[int]) -> dict[str, Any] | None:
    if isinstance(part, ir.TextPart):
        return {"text": part.text} if part.text else None  # Converse rejects blank text blocks
    if isinstance(part, ir.MediaPart):
        return _media(part, where, documents)
    if isinstance(part, ir.ToolCallPart):
        return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": part.arguments}}
    if isinstance(part, ir.ToolResultPart):
        return _result(part, where, documents)
    return None  # thinking: signed by (and meaningful to) the family that made it


def _messages(request: ir.Request) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system = [{"text": p.text} for p in request.system if p.text]
    messages: list[dict[str, Any]] = []
    documents = itertools.count(1)
    for i, message in enumerate(request.messages):
        where = f"messages.{i}"
        if message.role == "system":
            system += [{"text": p.text} for p in message.parts if isinstance(p, ir.TextPart) and p.text]
            continue
        blocks = [b for j, p in enumerate(message.parts) if (b := _block(p, f"{where}.content.{j}", documents)) is not None]
        if not blocks:
            continue
        if messages and messages[-1]["role"] == message.role:
            messages[-1]["content"] += blocks
        else:
            messages.append({"role": message.role, "content": blocks})
    return messages, system


def _tool_config(request: ir.Request) -> dict[str, Any] | None:
    if not request.tools:
        return None
    tools = []
    for tool in request.tools:
        spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
        if tool.description:
            spec["description"] = tool.description
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    choice = request.tool_choice
    if choice is not None and choice.mode == "tool":
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice is not None and choice.mode in ("auto", "any"):
        config["toolChoice"] = {choice.mode: {}}
    return config


def _inference(request: ir.Request) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = min(max(request.temperature, 0.0), 1.0)
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = [s for s in request.stop if s]
    return config


def encode_request(request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]:
    messages, system = _messages(request)
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference = _inference(request)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(request)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    if request.response_schema is not None:
        schema = {"schema": orjson.dumps(request.response_schema).decode(), "name": "response"}
        body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": schema}}}
    return body
