"""AWS event-stream framing (`application/vnd.amazon.eventstream`), the stream of every Bedrock API.

A `Framing` (providers/framing.py) decoded by botocore's own parser (`botocore.eventstream`), which
checks each message's prelude and message CRC32. It lives apart from framing.py because botocore
comes with the `bedrock` extra only.

Each message becomes one JSON payload `{"<name>": <payload>}`, the shape of the API's stream union:
`name` is an event's `:event-type` (`chunk`, `contentBlockDelta`, ...) or an exception's
`:exception-type` (`throttlingException`, ...); an `error` message (`:error-code`,
`:error-message`) becomes `{"<code>": {"message": "<message>"}}`. A message whose checksum or
lengths do not add up, or a stream that ends inside a message, is a ValueError (an unreadable
stream, for the stream reader).
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from botocore.eventstream import EventStreamBuffer, MessagePrelude, ParserError


class EventStreamFraming:
    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._pending = 0  # bytes fed that no complete message has used yet

    def feed(self, chunk: bytes) -> list[str]:
        self._buffer.add_data(chunk)
        self._pending += len(chunk)
        payloads = []
        try:
            for message in self._buffer:  # (botocore-stubs type prelude and headers as int)
                self._pending -= cast(MessagePrelude, message.prelude).total_length
                payloads.append(payload(cast(dict[str, Any], message.headers), message.payload))
        except ParserError as error:
            raise ValueError(f"bad event-stream message: {error}") from None
        return payloads

    def flush(self) -> list[str]:
        if self._pending:
            raise ValueError(f"the stream ended inside an event-stream message ({self._pending} bytes left)")
        return []


def payload(headers: dict[str, Any], body: bytes) -> str:
    """One message as `{"<name>": <payload>}` (see the module docstring)."""
    kind = headers.get(":message-type", "event")
    if kind == "error":
        name = headers.get(":error-code", "error")
        return orjson.dumps({name: {"message": headers.get(":error-message", "")}}).decode()
    name = headers.get(":exception-type" if kind == "exception" else ":event-type", "unknown")
    return f"{{{orjson.dumps(str(name)).decode()}:{body.decode() or '{}'}}}"
