"""One scripted model turn, written out in each provider's documented wire format.

A `Turn` says what the fake model answers (thinking, text, one or more tool calls, usage);
`reply(kind, turn, stream)` renders it as the body a real provider of that kind would send:
Anthropic Messages, OpenAI Chat Completions, OpenAI Responses or Gemini generateContent,
streaming (SSE) or not. These builders follow the providers' API references and share no
code with babelgate's own dialects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.fakes import openai_wire
from tests.fakes.upstream import Reply

UPSTREAM_KINDS = ("openai", "anthropic", "openai-responses", "gemini")


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = "call_1"


@dataclass
class Turn:
    text: str = ""
    thinking: str = ""
    signature: str = "sig-abc"
    calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int = 21
    output_tokens: int = 9
    cached_tokens: int = 5


def _sse(frames: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    out = b""
    for event, data in frames:
        if event is not None:
            out += b"event: " + event.encode() + b"\n"
        out += b"data: " + orjson.dumps(data) + b"\n\n"
    return out


# ---- Anthropic Messages -----------------------------------------------------------------


def anthropic_body(turn: Turn) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if turn.thinking:
        content.append({"type": "thinking", "thinking": turn.thinking, "signature": turn.signature})
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    content += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in turn.calls]
    return {
        "id": "msg_01fake",
        "type": "message",
        "role": "assistant",
        "model": "claude-upstream",
        "content": content,
        "stop_reason": "tool_use" if turn.calls else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": turn.input_tokens - turn.cached_tokens,
            "output_tokens": turn.output_tokens,
            "cache_read_input_tokens": turn.cached_tokens,
            "cache_creation_input_tokens": 0,
        },
    }


def anthropic_stream(turn: Turn) -> bytes:
    body = anthropic_body(turn)
    start = {**body, "content": [], "stop_reason": None, "usage": {**body["usage"], "output_tokens": 1}}
    frames: list[tuple[str | None, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    frames.append(("ping", {"type": "ping"}))
    for index, block in enumerate(body["content"]):
        if block["type"] == "thinking":
            frames.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {**block, "thinking": "", "signature": ""}},
                )
            )
            for piece in _pieces(block["thinking"]):
                frames.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": piece}},
                    )
                )
            frames.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": block["signature"]}},
                )
            )
        elif block["type"] == "text":
            frames.append(
                ("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
            )
            for piece in _pieces(block["text"]):
                frames.append(
                    ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}})
                )
        else:
            frames.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}}))
            for piece in _pieces(json.dumps(block["input"]), 6):
                frames.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}},
                    )
                )
        frames.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
        "usage": {"output_tokens": turn.output_tokens},
    }
    frames.append(("message_delta", delta))
    frames.append(("message_stop", {"type": "message_stop"}))
    return _sse(frames)


# ---- OpenAI Chat Completions ------------------------------------------------------------


def openai_body(turn: Turn) -> dict[str, Any]:
    calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}} for c in turn.calls]
    return openai_wire.completion(
        turn.text or None,
        tool_calls=calls or None,
        finish="tool_calls" if calls else "stop",
        reasoning=turn.thinking or None,
        prompt=turn.input_tokens,
        completion_tokens=turn.output_tokens,
        cached=turn.cached_tokens,
    )


def openai_stream(turn: Turn) -> bytes:
    chunk = openai_wire.chunk
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": p}) for p in _pieces(turn.thinking)]
    chunks += [chunk({"content": p}) for p in _pieces(turn.text)]
    for index, call in enumerate(turn.calls):
        head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        chunks.append(chunk({"tool_calls": [head]}))
        chunks += [chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}) for p in _pieces(json.dumps(call.arguments), 4)]
    chunks.append(chunk({}, "tool_calls" if turn.calls else "stop"))
    chunks.append(openai_wire.usage_chunk(turn.input_tokens, turn.output_tokens, turn.cached_tokens))
    return openai_wire.sse(chunks)


# ---- OpenAI Responses -------------------------------------------------------------------


def responses_body(turn: Turn, status: str = "completed") -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if turn.thinking:
        output.append(
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": turn.thinking}],
                "encrypted_content": turn.signature,
            }
        )
    if turn.text:
        content = [{"type": "output_text", "text": turn.text, "annotations": [], "logprobs": []}]
        output.append({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": content})
    output += [
        {
            "type": "function_call",
            "id": f"fc_{i}",
            "call_id": c.id,
            "name": c.name,
            "arguments": json.dumps(c.arguments),
            "status": "completed",
        }
        for i, c in enumerate(turn.calls)
    ]
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": 1_760_000_000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": "gpt-upstream",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": turn.input_tokens,
            "input_tokens_details": {"cached_tokens": turn.cached_tokens},
            "output_tokens": turn.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 2 if turn.thinking else 0},
            "total_tokens": turn.input_tokens + turn.output_tokens,
        },
    }


def responses_stream(turn: Turn) -> bytes:
    final = responses_body(turn)
    frames: list[dict[str, Any]] = []
    shell = {**final, "status": "in_progress", "output": [], "usage": None}
    frames.append({"type": "response.created", "response": shell})
    frames.append({"type": "response.in_progress", "response": shell})
    for index, item in enumerate(final["output"]):
        if item["type"] == "reasoning":
            frames.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "summary": []}})
            frames.append(
                {
                    "type": "response.reasoning_summary_part.added",
                    "item_id": item["id"],
                    "output_index": index,
                    "summary_index": 0,
                    "part": {"type": "summary_text", "text": ""},
                }
            )
            for piece in _pieces(turn.thinking):
                frames.append(
                    {
                        "type": "response.reasoning_summary_text.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "summary_index": 0,
                        "delta": piece,
                    }
                )
            frames.append(
                {
                    "type": "response.reasoning_summary_text.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "summary_index": 0,
                    "text": turn.thinking,
                }
            )
        elif item["type"] == "message":
            frames.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "status": "in_progress", "content": []}}
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            frames.append(
                {"type": "response.content_part.added", "item_id": item["id"], "output_index": index, "content_index": 0, "part": part}
            )
            for piece in _pieces(turn.text):
                frames.append(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": piece,
                        "logprobs": [],
                    }
                )
            frames.append(
                {
                    "type": "response.output_text.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "text": turn.text,
                    "logprobs": [],
                }
            )
            frames.append(
                {
                    "type": "response.content_part.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "part": item["content"][0],
                }
            )
        else:
            frames.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": "", "status": "in_progress"}}
            )
            for piece in _pieces(item["arguments"], 5):
                frames.append(
                    {"type": "response.function_call_arguments.delta", "item_id": item["id"], "output_index": index, "delta": piece}
                )
            frames.append(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "arguments": item["arguments"],
                }
            )
        frames.append({"type": "response.output_item.done", "output_index": index, "item": item})
    frames.append({"type": "response.completed", "response": final})
    return _sse([(f["type"], {**f, "sequence_number": n}) for n, f in enumerate(frames)])


# ---- Gemini generateContent -------------------------------------------------------------


def gemini_body(turn: Turn, parts: list[dict[str, Any]] | None = None, finish: bool = True) -> dict[str, Any]:
    if parts is None:
        parts = []
        if turn.thinking:
            parts.append({"text": turn.thinking, "thought": True})
        if turn.text:
            parts.append({"text": turn.text})
        parts += [{"functionCall": {"name": c.name, "args": c.arguments}, "thoughtSignature": turn.signature} for c in turn.calls]
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-upstream", "responseId": "resp-gem-1"}
    if finish:
        candidate["finishReason"] = "STOP"
        body["usageMetadata"] = {
            "promptTokenCount": turn.input_tokens,
            "candidatesTokenCount": turn.output_tokens,
            "totalTokenCount": turn.input_tokens + turn.output_tokens,
            "cachedContentTokenCount": turn.cached_tokens,
            "thoughtsTokenCount": 2 if turn.thinking else 0,
        }
    return body


def gemini_stream(turn: Turn) -> bytes:
    chunks = [gemini_body(turn, [{"text": p, "thought": True}], finish=False) for p in _pieces(turn.thinking)]
    chunks += [gemini_body(turn, [{"text": p}], finish=False) for p in _pieces(turn.text)]
    calls = [{"functionCall": {"name": c.name, "args": c.arguments}, "thoughtSignature": turn.signature} for c in turn.calls]
    chunks.append(gemini_body(turn, calls))
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)


# ---- dispatch -----------------------------------------------------------------------------

_BODIES = {"openai": openai_body, "anthropic": anthropic_body, "openai-responses": responses_body, "gemini": gemini_body}
_STREAMS = {"openai": openai_stream, "anthropic": anthropic_stream, "openai-responses": responses_stream, "gemini": gemini_stream}


def reply(kind: str, turn: Turn, stream: bool, split: int | None = 11) -> Reply:
    if not stream:
        return Reply(json=_BODIES[kind](turn))
    body = _STREAMS[kind](turn)
    if split is None:
        return Reply(chunks=[body])
    return Reply(chunks=[body[i : i + split] for i in range(0, len(body), split)])


def _pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]
