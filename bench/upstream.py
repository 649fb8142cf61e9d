"""A fast fake LLM upstream: `python -m bench.upstream --port P`.

Raw asyncio (uvloop when installed), HTTP/1.1 keep-alive, TCP_NODELAY, every response
encoded once and reused. It speaks two formats, chosen by the path:

- `.../chat/completions`: OpenAI Chat Completions (JSON, or SSE with `data: [DONE]`);
- `.../v1/messages`: Anthropic Messages (JSON, or SSE ending with `message_stop`).

The model name picks the stream shape: `bench-<chunks>x<gap_ms>` (for example
`bench-200x5`) streams that many content chunks, the first one at once and each next
one after `gap_ms` milliseconds. Any other name streams `DEFAULT_CHUNKS` chunks with
no gap. Non-streaming requests get one short message whatever the model.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple, cast

import orjson

DEFAULT_CHUNKS = 20
CREATED = 1_760_000_000
TEXT = "Hello! How can I help you today?"
TOKENS = tuple(f"tok{i} " for i in range(16))  # distinct, in turn: LiteLLM ends streams that repeat one chunk
MAX_BODY = 64 * 1024 * 1024
_SHAPE = re.compile(r"^bench-(\d+)x(\d+)$")


@dataclass(frozen=True, slots=True)
class Shape:
    chunks: int = DEFAULT_CHUNKS
    gap: float = 0.0


def shape_of(model: str) -> Shape:
    match = _SHAPE.match(model)
    if match is None:
        return Shape()
    return Shape(min(int(match.group(1)), 100_000), min(int(match.group(2)), 60_000) / 1000)


# ---- pre-encoded bodies ----------------------------------------------------------------


def _http(status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    return head.encode() + body


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
)
CHUNKED_END = b"0\r\n\r\n"


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _usage_openai() -> dict[str, Any]:
    return {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21, "prompt_tokens_details": {"cached_tokens": 0}}


def openai_message() -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": "bench",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": TEXT, "refusal": None}, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": _usage_openai(),
    }
    return _http("200 OK", "application/json", orjson.dumps(body))


def anthropic_message() -> bytes:
    body = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 9, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
    }
    return _http("200 OK", "application/json", orjson.dumps(body))


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return _chunked(b"data: " + orjson.dumps(chunk) + b"\n\n")


@dataclass(frozen=True, slots=True)
class Stream:
    """A pre-encoded stream: `head` carries the first content chunk, `middles[i % 16]` the next ones."""

    head: bytes
    middles: tuple[bytes, ...]
    tail: bytes

    def burst(self, chunks: int) -> bytes:
        return self.head + b"".join(self.middles[i % len(self.middles)] for i in range(chunks - 1)) + self.tail


@lru_cache(maxsize=64)
def openai_stream(chunks: int) -> Stream:
    head = STREAM_HEAD + _openai_chunk({"role": "assistant", "content": ""}) + _openai_chunk({"content": TOKENS[-1]})
    usage = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "bench",
        "choices": [],
        "usage": _usage_openai(),
    }
    tail = _openai_chunk({}, "stop") + _chunked(b"data: " + orjson.dumps(usage) + b"\n\n") + _chunked(b"data: [DONE]\n\n") + CHUNKED_END
    return Stream(head, tuple(_openai_chunk({"content": t}) for t in TOKENS), tail)


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return _chunked(b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")


def _text_delta(text: str) -> bytes:
    return _event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})


@lru_cache(maxsize=64)
def anthropic_stream(chunks: int) -> Stream:
    usage = {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    message: dict[str, Any] = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    head = (
        STREAM_HEAD
        + _event("message_start", {"type": "message_start", "message": message})
        + _event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        + _text_delta(TOKENS[-1])
    )
    tail = (
        _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + _event(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": chunks}},
        )
        + _event("message_stop", {"type": "message_stop"})
        + CHUNKED_END
    )
    return Stream(head, tuple(_text_delta(t) for t in TOKENS), tail)


@lru_cache(maxsize=64)
def burst(stream: Stream, chunks: int) -> bytes:
    return stream.burst(chunks)


OPENAI_MESSAGE = openai_message()
ANTHROPIC_MESSAGE = anthropic_message()
MODELS = _http(
    "200 OK", "application/json", orjson.dumps({"object": "list", "data": [{"id": "bench", "object": "model", "owned_by": "bench"}]})
)
HEALTH = _http("200 OK", "application/json", b'{"status":"ok"}')
NOT_FOUND = _http("404 Not Found", "application/json", b'{"error":{"message":"not found","type":"not_found_error"}}')
BAD_REQUEST = _http(
    "400 Bad Request", "application/json", b'{"error":{"message":"body is not a JSON object","type":"invalid_request_error"}}'
)


# ---- the server ------------------------------------------------------------------------


class Upstream(asyncio.Protocol):
    """One connection: parse requests one after the other, answer each from pre-encoded bytes."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        """Serve every complete request in the buffer (one stream at a time)."""
        while self.transport is not None and not self.busy:
            request = _take_request(self.buffer)
            if request is None:
                if len(self.buffer) > MAX_BODY:
                    self.transport.close()
                return
            if request is CONTINUE:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            self._answer(request.method, request.path, request.body)

    def _answer(self, method: str, path: str, body: bytes) -> None:
        assert self.transport is not None
        route = path.split("?", 1)[0]
        if method == "GET":
            self.transport.write(MODELS if route.endswith("/models") else HEALTH)
            return
        is_openai = route.endswith("/chat/completions")
        if not is_openai and not route.endswith("/v1/messages"):
            self.transport.write(NOT_FOUND)
            return
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            self.transport.write(BAD_REQUEST)
            return
        if not data.get("stream"):
            self.transport.write(OPENAI_MESSAGE if is_openai else ANTHROPIC_MESSAGE)
            return
        shape = shape_of(str(data.get("model") or ""))
        stream = openai_stream(shape.chunks) if is_openai else anthropic_stream(shape.chunks)
        if shape.gap <= 0:
            self.transport.write(burst(stream, shape.chunks))
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._stream(stream, shape))

    async def _stream(self, stream: Stream, shape: Shape) -> None:
        try:
            if self.transport is None:
                return
            self.transport.write(stream.head)
            for i in range(shape.chunks - 1):
                await asyncio.sleep(shape.gap)
                if self.transport is None:
                    return
                self.transport.write(stream.middles[i % len(stream.middles)])
            self.transport.write(stream.tail)
        finally:
            self.busy = False
        self._next()


class Request(NamedTuple):
    method: str
    path: str
    body: bytes


CONTINUE = Request("", "", b"")  # the client waits for `100 Continue` before sending the body


def _take_request(buffer: bytearray) -> Request | None:
    """Remove one complete request from `buffer`; None when more bytes are needed."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    method, path = [*head[0].split(" "), "", ""][:2]
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    start = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        decoded = _dechunk(buffer, start)
        if decoded is None:
            return None
        body, consumed = decoded
        del buffer[:consumed]
        return Request(method, path, body)
    length = int(headers.get("content-length") or 0)
    if len(buffer) < start + length:
        if headers.get("expect", "").lower() == "100-continue" and len(buffer) == start:
            return CONTINUE
        return None
    body = bytes(buffer[start : start + length])
    del buffer[: start + length]
    return Request(method, path, body)


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    parts: list[bytes] = []
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0] or b"0", 16)
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            return (b"".join(parts), trailer_end + 4) if trailer_end >= 0 else None
        data_start = line_end + 2
        if len(buffer) < data_start + size + 2:
            return None
        parts.append(bytes(buffer[data_start : data_start + size]))
        position = data_start + size + 2


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"bench upstream listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port))
    else:
        uvloop.run(serve(args.port))


if __name__ == "__main__":
    main()
