"""AWS binary event-stream (`application/vnd.amazon.eventstream`), the framing of Bedrock's streams.

One message: a prelude (total length, headers length: big-endian uint32 each) and its CRC32, the
headers (name length as one byte, the name, value type 7 for a string, value length as a
big-endian uint16, the value), the payload, and a CRC32 of everything before it. botocore only
decodes this format, so the few lines that write it live here; tests read our output back with
botocore's decoder.

`BedrockFraming` turns the Anthropic SSE the relay writes (rendered, or an Anthropic upstream's
own bytes) into what InvokeModelWithResponseStream sends: each event's JSON as a `chunk` event
whose payload is `{"bytes": base64(event JSON)}`, and an `error` event as an exception message.
"""

from __future__ import annotations

import base64
import struct
import zlib

import orjson

from babelgate import sse

CONTENT_TYPE = "application/vnd.amazon.eventstream"
STRING = 7  # the header value type of a UTF-8 string
# The stream's exception members in Bedrock's ResponseStream, by Anthropic error type.
EXCEPTIONS = {
    "invalid_request_error": "validationException",
    "request_too_large": "validationException",
    "rate_limit_error": "throttlingException",
    "overloaded_error": "serviceUnavailableException",
    "timeout_error": "modelTimeoutException",
}
STREAM_ERROR = "modelStreamErrorException"


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("!B", len(raw_name)) + raw_name + struct.pack("!BH", STRING, len(raw_value)) + raw_value


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with its prelude and message checksums."""
    block = b"".join(_header(name, value) for name, value in headers.items())
    prelude = struct.pack("!II", 12 + len(block) + len(payload) + 4, len(block))
    head = prelude + struct.pack("!I", zlib.crc32(prelude)) + block + payload
    return head + struct.pack("!I", zlib.crc32(head))


def chunk(event_json: bytes) -> bytes:
    """One Anthropic stream event as Bedrock's `chunk` event."""
    payload = orjson.dumps({"bytes": base64.b64encode(event_json).decode()})
    return message({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload)


def exception(kind: str, text: str) -> bytes:
    """A failure after the stream began, as the exception message of `kind` (e.g. throttlingException)."""
    headers = {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"}
    return message(headers, orjson.dumps({"message": text}))


class BedrockFraming:
    """Anthropic SSE in, event-stream out; bytes may be split anywhere."""

    content_type = CONTENT_TYPE

    def __init__(self) -> None:
        self._decoder = sse.SSEDecoder()

    def feed(self, data: bytes) -> bytes:
        return b"".join(self._message(event.data) for event in self._decoder.decode(data))

    def flush(self) -> bytes:
        return b"".join(self._message(event.data) for event in self._decoder.flush())

    def _message(self, data: str) -> bytes:
        raw = data.encode()
        try:
            event = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return exception(STREAM_ERROR, "the upstream sent an unreadable stream event")
        if isinstance(event, dict) and event.get("type") == "error":
            error = event.get("error")
            error = error if isinstance(error, dict) else {}
            return exception(EXCEPTIONS.get(str(error.get("type")), STREAM_ERROR), str(error.get("message") or "stream failed"))
        return chunk(raw)
