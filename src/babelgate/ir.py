"""The canonical request, response and stream events every dialect converts to and from.

Dialects parse wire JSON into these dataclasses and encode them back out. The shapes
follow the richest of the four wire formats (Anthropic Messages): content is a list of
typed parts, a stream is a sequence of block-indexed events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "system"]
StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn"]
EffortLevel = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


@dataclass(slots=True)
class TextPart:
    text: str


@dataclass(slots=True)
class MediaPart:
    """An image or a document (PDF), given inline as base64 or by URL."""

    media_type: str
    data: str | None = None
    url: str | None = None
    kind: Literal["image", "document"] = "image"


@dataclass(slots=True)
class ThinkingPart:
    """Model reasoning. `signature` is opaque and only valid for the `family` that made it."""

    text: str
    signature: str | None = None
    family: str | None = None
    redacted: bool = False


@dataclass(slots=True)
class ToolCallPart:
    id: str
    name: str
    arguments: dict[str, Any]
    signature: str | None = None  # opaque, tied to this call (Gemini thoughtSignature)


@dataclass(slots=True)
class ToolResultPart:
    call_id: str
    content: list[TextPart | MediaPart]
    is_error: bool = False
    name: str | None = None


Part = TextPart | MediaPart | ThinkingPart | ToolCallPart | ToolResultPart


@dataclass(slots=True)
class Message:
    role: Role
    parts: list[Part]


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "any", "tool"]
    name: str | None = None


@dataclass(slots=True)
class Reasoning:
    """What the caller asked for: an effort level, a token budget, or both."""

    effort: EffortLevel | None = None
    budget: int | None = None


@dataclass(slots=True)
class Request:
    model: str
    messages: list[Message]
    system: list[TextPart] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    stream_usage: bool = False
    reasoning: Reasoning | None = None
    response_schema: dict[str, Any] | None = None
    json_mode: bool = False
    user: str | None = None


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class Response:
    id: str
    model: str
    parts: list[Part]
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)


# ---- stream events -------------------------------------------------------------------


@dataclass(slots=True)
class Start:
    id: str
    model: str
    usage: Usage | None = None


@dataclass(slots=True)
class BlockStart:
    """A content block opens at `index`: kind text, thinking or tool_call (with id and name)."""

    index: int
    kind: Literal["text", "thinking", "tool_call"]
    id: str = ""
    name: str = ""
    signature: str | None = None  # a tool_call's opaque signature (Gemini thoughtSignature)


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    index: int
    text: str = ""
    signature: str = ""
    family: str | None = None


@dataclass(slots=True)
class ToolArgsDelta:
    index: int
    partial_json: str


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class Finish:
    stop_reason: StopReason
    usage: Usage
    stop_sequence: str | None = None


@dataclass(slots=True)
class StreamError:
    """The upstream failed after the stream began; `kind` is an errors.Kind value."""

    kind: str
    message: str


Event = Start | BlockStart | TextDelta | ThinkingDelta | ToolArgsDelta | BlockStop | Finish | StreamError
