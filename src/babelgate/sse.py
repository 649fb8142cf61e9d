"""Incremental Server-Sent Events decoding and encoding.

`SSEDecoder.decode(chunk)` accepts bytes split anywhere (inside a line, inside a UTF-8
sequence, between `\\r` and `\\n`) and returns the events completed so far;
`flush()` returns a final event left without its blank line.
"""

from __future__ import annotations

from dataclasses import dataclass

COLON = ord(":")


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event: its data lines joined. (Its `event:` name is not kept: every
    upstream we parse names its events inside the JSON too.)"""

    data: str


class SSEDecoder:
    """`max_event`, when given, bounds an event's data and any one line (in characters and bytes
    alike): past it, `decode` raises ValueError. A line split over many chunks is kept in pieces and
    joined once, so a long line costs its own length, not its length squared."""

    def __init__(self, max_event: int | None = None) -> None:
        self._tail: list[bytes] = []  # the pieces of a line not ended yet
        self._tail_size = 0
        self._data: list[str] = []
        self._data_size = 0
        self._max = max_event

    def decode(self, chunk: bytes) -> list[SSEEvent]:
        if b"\n" not in chunk and b"\r" not in chunk:
            self._hold(chunk)
            return []
        buffer = b"".join((*self._tail, chunk)) if self._tail else chunk
        self._tail, self._tail_size = [], 0
        # A lone \r ends a line too; hold a trailing \r until we see whether \n follows.
        keep_cr = buffer.endswith(b"\r")
        if keep_cr:
            buffer = buffer[:-1]
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        rest = lines.pop() + (b"\r" if keep_cr else b"")
        events: list[SSEEvent] = []
        data, size, limit = self._data, self._data_size, self._max
        for raw in lines:  # the bytes of each line; only a data line's value is decoded
            if not raw:  # dispatch, unless no data came (as the SSE spec says)
                if data:
                    events.append(SSEEvent("\n".join(data)))
                    data, size = [], 0
                continue
            if raw.startswith(b"data: "):
                value = raw[6:]
            elif raw[0] == COLON:  # a comment
                continue
            else:
                name, _, value = raw.partition(b":")
                if name != b"data":
                    continue
                if value[:1] == b" ":
                    value = value[1:]
            text = value.decode("utf-8", "replace")
            data.append(text)
            size += len(text)
            if limit is not None and size > limit:
                raise ValueError(f"an SSE event larger than {limit} bytes")
        self._data, self._data_size = data, size
        if rest:
            self._hold(rest)
        return events

    def flush(self) -> list[SSEEvent]:
        events = self.decode(b"\n") if any(part.strip(b"\r") for part in self._tail) else []
        if self._data:
            events.append(SSEEvent("\n".join(self._data)))
            self._data, self._data_size = [], 0
        return events

    def _hold(self, piece: bytes) -> None:
        self._tail.append(piece)
        self._tail_size += len(piece)
        if self._max is not None and self._tail_size > self._max:
            raise ValueError(f"an SSE line longer than {self._max} bytes")


def encode(event: str | None, data: bytes) -> bytes:
    """One SSE frame; `data` must be a single line (JSON from orjson always is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
