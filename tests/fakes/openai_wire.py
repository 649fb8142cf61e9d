"""OpenAI Chat Completions response bodies and stream chunks, as the API reference documents them."""

from __future__ import annotations

from typing import Any

import orjson

from tests.fakes.upstream import Reply

CREATED = 1_760_000_000


def completion(
    content: str | None = "Hello!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    reasoning: str | None = None,
    prompt: int = 12,
    completion_tokens: int = 5,
    cached: int = 0,
    model: str = "gpt-5",
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def chunk(delta: dict[str, Any], finish: str | None = None, *, model: str = "gpt-5") -> dict[str, Any]:
    return {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage_chunk(prompt: int = 20, completion_tokens: int = 7, cached: int = 4) -> dict[str, Any]:
    return {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-5",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def sse(chunks: list[dict[str, Any]], done: bool = True) -> bytes:
    body = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def text_stream(*pieces: str, reasoning: tuple[str, ...] = (), usage: bool = True) -> list[dict[str, Any]]:
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": r}) for r in reasoning]
    chunks += [chunk({"content": p}) for p in pieces]
    chunks.append(chunk({}, "stop"))
    if usage:
        chunks.append(usage_chunk())
    return chunks


def tool_stream(name: str, arguments: str, call_id: str = "call_1", text: str = "", id_after_name: bool = True) -> list[dict[str, Any]]:
    """A tool call whose id arrives after the name and whose arguments come in odd fragments."""
    chunks = [chunk({"role": "assistant", "content": None})]
    if text:
        chunks.append(chunk({"content": text}))
    if id_after_name:
        chunks.append(chunk({"tool_calls": [{"index": 0, "type": "function", "function": {"name": name, "arguments": ""}}]}))
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": call_id, "function": {"arguments": arguments[:3]}}]}))
    else:
        chunks.append(
            chunk({"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments[:3]}}]})
        )
    rest = arguments[3:]
    for i in range(0, len(rest), 5):
        chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": rest[i : i + 5]}}]}))
    chunks.append(chunk({}, "tool_calls"))
    chunks.append(usage_chunk())
    return chunks


def stream_reply(chunks: list[dict[str, Any]], *, split: int | None = None, done: bool = True) -> Reply:
    """The SSE body, optionally cut into pieces of `split` bytes to exercise reassembly."""
    body = sse(chunks, done)
    if split is None:
        return Reply(chunks=[body])
    return Reply(chunks=[body[i : i + split] for i in range(0, len(body), split)])


def error(
    status: int, message: str, kind: str = "invalid_request_error", code: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers=headers or {})
