"""How an upstream cuts its stream into frames: each frame's payload goes to the dialect's parser.

SSE is the framing here; Bedrock's AWS event-stream is `eventstream.EventStreamFraming`, with the
same two methods (in a module of its own: it needs botocore, which comes with the bedrock extra).
"""

from __future__ import annotations

from typing import Protocol

from babelgate import sse


class Framing(Protocol):
    def feed(self, chunk: bytes) -> list[str]:
        """The payloads of the frames completed by `chunk` (split anywhere)."""
        ...

    def flush(self) -> list[str]:
        """The payload of a last frame left without its terminator."""
        ...


class SSEFraming:
    """SSE; a line or event over `max_event` bytes is a ValueError (an unreadable stream)."""

    def __init__(self, max_event: int | None = None) -> None:
        self._decoder = sse.SSEDecoder(max_event)

    def feed(self, chunk: bytes) -> list[str]:
        try:
            return [event.data for event in self._decoder.decode(chunk)]
        except ValueError as error:
            raise ValueError(f"{error} (max_event_mb)") from None

    def flush(self) -> list[str]:
        return [event.data for event in self._decoder.flush()]
