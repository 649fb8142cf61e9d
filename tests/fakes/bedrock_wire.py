"""Bedrock's wire formats for the fake: AWS event-stream messages, InvokeModel (Anthropic) and Converse bodies and events.

The event-stream encoding, as AWS documents it: a prelude of total length and headers length
(4 bytes each, big-endian) and its CRC32, the headers (name length, name, value type 7 = string,
2-byte value length, value), the payload, and a CRC32 of everything before it. Bedrock's stream
messages carry `:event-type`, `:content-type: application/json` and `:message-type: event`
(`exception` with `:exception-type` for errors), and a `p` field of padding in their JSON.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import orjson

PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
Json = dict[str, Any]


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with both checksums."""
    head = b"".join(
        len(name.encode()).to_bytes(1, "big") + name.encode() + b"\x07" + len(value.encode()).to_bytes(2, "big") + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(name: str, payload: dict[str, Any]) -> bytes:
    """A stream event; a name ending in `Exception` is sent as an exception message."""
    data = orjson.dumps(payload)
    if name.endswith("Exception"):
        return message({":exception-type": name, ":content-type": "application/json", ":message-type": "exception"}, data)
    return message({":event-type": name, ":content-type": "application/json", ":message-type": "event"}, data)


def chunk(anthropic_event: dict[str, Any]) -> bytes:
    """An InvokeModelWithResponseStream `chunk`: one Anthropic stream event, base64 in `bytes`."""
    return event("chunk", {"bytes": base64.b64encode(orjson.dumps(anthropic_event)).decode(), "p": PADDING[:7]})


# ---- InvokeModel with an Anthropic model: the Messages API's own shapes ----------------------


def anthropic_message(
    content: list[dict[str, Any]], stop: str = "end_turn", input_tokens: int = 25, output_tokens: int = 9
) -> dict[str, Any]:
    return {
        "id": "msg_bdrk_01abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": 0,
        },
    }


def anthropic_events(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """A message as its stream: text in two deltas, tool input in two JSON pieces, thinking with its signature."""
    start = {**reply, "content": [], "stop_reason": None, "usage": {**reply["usage"], "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(reply["content"]):
        empty = {"text": {"text": ""}, "tool_use": {"input": {}}, "thinking": {"thinking": "", "signature": ""}}[block["type"]]
        events.append({"type": "content_block_start", "index": index, "content_block": {**block, **empty}})
        if block["type"] == "text":
            half = len(block["text"]) // 2
            pieces = [{"type": "text_delta", "text": block["text"][:half]}, {"type": "text_delta", "text": block["text"][half:]}]
        elif block["type"] == "tool_use":
            raw = orjson.dumps(block["input"]).decode()
            pieces = [{"type": "input_json_delta", "partial_json": part} for part in (raw[:5], raw[5:])]
        else:
            pieces = [
                {"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        events += [{"type": "content_block_delta", "index": index, "delta": piece} for piece in pieces]
        events.append({"type": "content_block_stop", "index": index})
    delta = {"stop_reason": reply["stop_reason"], "stop_sequence": None}
    events.append({"type": "message_delta", "delta": delta, "usage": {"output_tokens": reply["usage"]["output_tokens"]}})
    return [*events, {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": reply["usage"]["input_tokens"]}}]


# ---- Converse ---------------------------------------------------------------------------------


def converse_usage(input_tokens: int = 30, output_tokens: int = 8) -> dict[str, int]:
    return {"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens}


def converse_response(content: list[dict[str, Any]], stop: str = "end_turn", usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": usage or converse_usage(),
        "metrics": {"latencyMs": 321},
    }


def converse_events(
    content: list[dict[str, Any]], stop: str = "end_turn", usage: dict[str, int] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """A Converse response as ConverseStream events: text in two deltas, a toolUse with its input in two pieces."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant", "p": PADDING[:3]})]
    for index, block in enumerate(content):
        if "toolUse" in block:
            call = block["toolUse"]
            start = {"toolUse": {"toolUseId": call["toolUseId"], "name": call["name"]}}
            events.append(("contentBlockStart", {"start": start, "contentBlockIndex": index, "p": PADDING[:5]}))
            raw = orjson.dumps(call["input"]).decode()
            deltas = [{"toolUse": {"input": raw[:4]}}, {"toolUse": {"input": raw[4:]}}]
        else:
            half = len(block["text"]) // 2
            deltas = [{"text": block["text"][:half]}, {"text": block["text"][half:]}]
        events += [("contentBlockDelta", {"delta": delta, "contentBlockIndex": index, "p": PADDING[:9]}) for delta in deltas]
        events.append(("contentBlockStop", {"contentBlockIndex": index, "p": PADDING[:2]}))
    events.append(("messageStop", {"stopReason": stop, "p": PADDING[:4]}))
    return [*events, ("metadata", {"usage": usage or converse_usage(), "metrics": {"latencyMs": 250}, "p": PADDING[:6]})]
