"""The work every alternative relay does, the same whatever its server and client (bench/alternatives.py).

It stands for the gateway's hot path on OpenAI chat in → OpenAI chat out: parse the client's JSON
body, build the upstream body from it, and on the way back parse the JSON answer and encode it again;
a stream is cut into SSE events, each event's JSON parsed and encoded again, and what one upstream
read brought is written to the client at once (as `server/relay.py` writes once per upstream chunk).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

UPSTREAM_KEY = "sk-bench-upstream"
MAX_BODY = 32 * 1024 * 1024  # the client's body
MAX_ANSWER = 64 * 1024 * 1024  # a whole upstream answer (the gateway's max_response_mb)
MAX_EVENT = 1024 * 1024  # one SSE event (max_event_mb)
CONNECT_TIMEOUT = 10.0
CHAT_PATH = "/v1/chat/completions"
STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
JSON_HEADERS = {"Content-Type": "application/json"}
UPSTREAM_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_KEY}"}
COPIED = ("max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "tools", "tool_choice", "user")


class TooLarge(Exception):
    """A body, an answer or an event over its limit."""


def codec(name: str) -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    """(loads, dumps) of `orjson` or `msgspec`."""
    if name == "msgspec":
        import msgspec

        return msgspec.json.decode, msgspec.json.Encoder().encode
    import orjson

    return orjson.loads, orjson.dumps


loads, dumps = codec(os.environ.get("ALT_JSON", "orjson"))


def use(name: str) -> None:
    """Switch every function below to that codec."""
    global loads, dumps
    loads, dumps = codec(name)


def upstream_body(body: bytes) -> tuple[bytes, bool, str]:
    """The client's chat request → (the upstream's body, whether it streams, the model the client asked for)."""
    request = loads(body)
    model = str(request.get("model", ""))
    stream = bool(request.get("stream"))
    out: dict[str, Any] = {"model": model, "messages": request.get("messages", []), "stream": stream}
    for name in COPIED:
        if name in request:
            out[name] = request[name]
    if stream:
        out["stream_options"] = {"include_usage": True}
    return dumps(out), stream, model


def answer(raw: bytes, model: str) -> bytes:
    data = loads(raw)
    data["model"] = model
    return dumps(data)


class Events:
    """Upstream SSE bytes in, the client's SSE bytes out: every complete event parsed and encoded again."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.buffer = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.buffer + chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            if len(data) > MAX_EVENT:
                raise TooLarge("an SSE event over max_event_mb")
            self.buffer = data
            return b""
        self.buffer = data[end + 2 :]
        out = []
        for event in data[:end].split(b"\n\n"):
            if event.startswith(b"data: {"):
                payload = loads(event[6:])
                payload["model"] = self.model
                out.append(b"data: " + dumps(payload) + b"\n\n")
            elif event:
                out.append(event + b"\n\n")
        return b"".join(out)
