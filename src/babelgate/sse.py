"""Incremental Server-Sent Events decoding and encoding.

`SSEDecoder.decode(chunk)` accepts bytes split anywhere (inside a line, inside a UTF-8
sequence, between `\\r` and `\\n`) and returns the events completed so far;
`flush()` returns a final event left without its blank line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event: its data lines joined. (Its `event:` name is not kept: every
    upstream we parse names its events inside the JSON too.)"""

    data: str


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []

    def decode(self, chunk: bytes) -> list[SSEEvent]:
        buffer = self._buffer + chunk
        # A lone \r ends a line too; hold a trailing \r until we see whether \n follows.
        keep_cr = buffer.endswith(b"\r")
        if keep_cr:
            buffer = buffer[:-1]
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._buffer = lines.pop() + (b"\r" if keep_cr else b"")
        events: list[SSEEvent] = []
        for raw in lines:
            event = self._line(raw.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SSEEvent]:
        events = self.decode(b"\n") if self._buffer.strip(b"\r") else []
        if self._data:
            events.append(SSEEvent("\n".join(self._data)))
            self._data = []
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:  # dispatch, unless no data came (as the SSE spec says)
            if not self._data:
                return None
            event = SSEEvent("\n".join(self._data))
            self._data = []
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        return None


def encode(event: str | None, data: bytes) -> bytes:
    """One SSE frame; `data` must be a single line (JSON from orjson always is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
