"""What a dialect provides. Each dialect is a package here whose module object is a `Dialect`.

Inbound (a client speaks it): `parse_request`, `render_response`, `stream_renderer`,
`render_error`. Outbound (an upstream speaks it): `encode_request`, `parse_response`,
`stream_parser`, `error_message`, and `passthrough`, which edits a client body of the
same dialect in place of re-encoding it (unknown fields survive). All of them are pure: no I/O, no globals.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

from babelgate import ir
from babelgate.errors import GatewayError


@dataclass(slots=True)
class EncodeOptions:
    """Per-provider knobs an encoder needs besides the request itself."""

    max_tokens_field: str = "max_tokens"
    reasoning_effort: bool = False
    echo_reasoning: bool = False


class StreamRenderer(Protocol):
    content_type: str

    def render(self, event: ir.Event) -> bytes: ...


class StreamParser(Protocol):
    """Turns an upstream's stream, one frame's payload at a time, into ir events.

    The provider cuts the bytes into frames (SSE today, AWS event-stream for Bedrock) and
    hands each frame's data here; `end` is called once when the upstream stream ends."""

    def frame(self, data: str) -> list[ir.Event]: ...

    def end(self) -> list[ir.Event]: ...


class FrameParser(ABC):
    """The shared shape of the dialects' stream parsers: a subclass says what one frame's data
    means (`_frame`) and what the end of the stream means (`_eof`), appending ir events to `out`."""

    def frame(self, data: str) -> list[ir.Event]:
        out: list[ir.Event] = []
        self._frame(data, out)
        return out

    def end(self) -> list[ir.Event]:
        out: list[ir.Event] = []
        self._eof(out)
        return out

    @abstractmethod
    def _frame(self, data: str, out: list[ir.Event]) -> None: ...

    @abstractmethod
    def _eof(self, out: list[ir.Event]) -> None: ...


class Dialect(Protocol):
    name: str

    def parse_request(self, body: dict[str, Any], model: str | None = None, stream: bool | None = None) -> ir.Request: ...

    def render_response(self, response: ir.Response) -> dict[str, Any]: ...

    def stream_renderer(self, request: ir.Request) -> StreamRenderer: ...

    def render_error(self, error: GatewayError) -> dict[str, Any]: ...

    def encode_request(self, request: ir.Request, model: str, options: EncodeOptions) -> dict[str, Any]: ...

    def passthrough(self, raw: dict[str, Any], request: ir.Request, model: str) -> dict[str, Any]: ...

    def parse_response(self, body: dict[str, Any]) -> ir.Response: ...

    def stream_parser(self) -> StreamParser: ...

    def error_message(self, body: Any) -> str: ...
