"""Anthropic models on Bedrock: InvokeModel takes the Messages body and streams it back in AWS event-stream.

The body (`POST /model/{modelId}/invoke`, `/invoke-with-response-stream`) is the Anthropic
Messages body without `model` and `stream`, which the URL says, with `anthropic_version:
bedrock-2023-05-31` and the client's `anthropic-beta` header values as `anthropic_beta: [...]`
(Bedrock rejects some betas in the header). Bedrock also rejects the Messages API's top-level
`tags` and its beta `request-tags-2026-08-21`, which only label usage: both are left out.

The stream: each `chunk` event's `bytes` (base64) holds one Anthropic stream event. `AnthropicSSE`
re-frames them as the Anthropic SSE they are, so the Anthropic parser reads them unchanged and an
Anthropic client gets Bedrock's events byte for byte. An exception in the stream
(`throttlingException`, ...) becomes Anthropic's `error` event, its message led by the exception's
name; an unreadable frame becomes an `api_error` event, and the stream ends there.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import orjson

from babelgate import sse
from babelgate.dialects.anthropic import ERROR_TYPES
from babelgate.dialects.bedrock_converse.stream import EXCEPTION_KINDS
from babelgate.errors import Kind
from babelgate.providers.eventstream import EventStreamFraming

ANTHROPIC_VERSION = "bedrock-2023-05-31"
TAGS_BETA = "request-tags-2026-08-21"
_ANTHROPIC_MODEL = re.compile(r"(?:^|[.:/])anthropic\.")


def is_anthropic(model: str) -> bool:
    """Anthropic's models, by foundation-model id (`anthropic.claude-...`), inference profile
    (`us.anthropic.claude-...`, `global.anthropic...`) or an ARN that holds either."""
    return bool(_ANTHROPIC_MODEL.search(model))


def invoke_body(body: dict[str, Any], client_headers: Mapping[str, str]) -> dict[str, Any]:
    """A Messages body (the client's own, or encoded from ir) made into Bedrock's, in place."""
    for key in ("model", "stream", "tags"):
        body.pop(key, None)
    body["anthropic_version"] = ANTHROPIC_VERSION
    given = body.get("anthropic_beta")
    betas = [str(b) for b in given] if isinstance(given, list) else []
    betas += [b.strip() for b in client_headers.get("anthropic-beta", "").split(",")]
    betas = list(dict.fromkeys(b for b in betas if b and b != TAGS_BETA))
    if betas:
        body["anthropic_beta"] = betas
    else:
        body.pop("anthropic_beta", None)
    return body


class AnthropicSSE:
    """An InvokeModelWithResponseStream body recoded, chunk by chunk, as the Anthropic SSE it carries
    (a `stream.Recode`). After an unreadable message it gives the error event once, then nothing."""

    def __init__(self) -> None:
        self._framing = EventStreamFraming()
        self._done = False

    def feed(self, chunk: bytes) -> bytes:
        if self._done:
            return b""
        try:
            return b"".join(_event(payload) for payload in self._framing.feed(chunk))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            return self._unreadable(error)

    def flush(self) -> bytes:
        if self._done:
            return b""
        try:
            self._framing.flush()
        except ValueError as error:
            return self._unreadable(error)
        return b""

    def _unreadable(self, error: Exception) -> bytes:
        self._done = True
        return _error(Kind.UPSTREAM, f"the upstream sent an unreadable event-stream message ({error})")


def _event(payload: str) -> bytes:
    (name, value), *_ = orjson.loads(payload).items()
    if name == "chunk":
        data = base64.b64decode(value["bytes"])
        event = orjson.loads(data)
        return sse.encode(str(event["type"]), data if b"\n" not in data else orjson.dumps(event))
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return _error(EXCEPTION_KINDS.get(name.lower(), Kind.UPSTREAM), f"{name}: {value['message']}")
    return b""  # an event this gateway does not know yet


def _error(kind: Kind, message: str) -> bytes:
    return sse.encode("error", orjson.dumps({"type": "error", "error": {"type": ERROR_TYPES[kind], "message": message}}))
