"""The canonical request, response and stream events every dialect converts to and from.

Dialects parse wire JSON into these dataclasses and encode them back out. The shapes
follow the richest of the four wire formats (Anthropic Messages): content is a list of
typed parts, a stream is a sequence of block-indexed events. `accumulate` folds a stream
into the response it describes; `events_of` turns a response back into a stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

Role = Literal["user", "assistant", "system"]
StopReason = Literal["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn"]
EffortLevel = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
BlockKind = Literal["text", "thinking", "tool_call"]


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
    # Fields of the client's wire format the gateway adds to the finished message, for the dialects
    # that know them (Anthropic: `safeguard_results`, at the top level of a message body).
    extra: dict[str, Any] = field(default_factory=dict)


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
    kind: BlockKind
    id: str = ""
    name: str = ""
    signature: str | None = None  # a tool_call's opaque signature (Gemini thoughtSignature)


@dataclass(slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    """A piece of a thinking block; `redacted` marks the block as redacted (its signature is the hidden content)."""

    index: int
    text: str = ""
    signature: str = ""
    family: str | None = None
    redacted: bool = False


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
    extra: dict[str, Any] = field(default_factory=dict)  # as Response.extra (Anthropic: in the final message_delta)


@dataclass(slots=True)
class StreamError:
    """The upstream failed after the stream began; `kind` is an errors.Kind value."""

    kind: str
    message: str


Event = Start | BlockStart | TextDelta | ThinkingDelta | ToolArgsDelta | BlockStop | Finish | StreamError


# ---- streams and whole responses ------------------------------------------------------


@dataclass(slots=True)
class Snapshot:
    """A stream collected so far: the response it is becoming, and the error that ended it, if any."""

    response: Response
    error: StreamError | None = None
    _blocks: dict[int, Part] = field(default_factory=dict, init=False, repr=False, compare=False)  # block index -> its part
    _args: dict[int, list[str]] = field(default_factory=dict, init=False, repr=False, compare=False)  # tool-argument JSON pieces


def accumulate(event: Event, snapshot: Snapshot | None = None) -> Snapshot:
    """`snapshot` with `event` folded in, the way a non-streaming client would see the stream:
    updated in place and returned (no copies, no I/O); None starts one, named by a Start.

    Parts follow their block indexes; a delta for a block that never opened opens one of its
    kind, one for a block of another kind is dropped. Tool-call argument pieces are parsed at
    BlockStop (or at the end if it never came): empty, invalid or non-object JSON gives `{}`.
    Start and Finish usage replace the response's; a StreamError is kept in `error`.
    """
    snapshot = Snapshot(Response("", "", [])) if snapshot is None else snapshot
    response = snapshot.response
    if isinstance(event, (TextDelta, ThinkingDelta, ToolArgsDelta)):
        _add_delta(snapshot, event)
    elif isinstance(event, BlockStart):
        _open(snapshot, event)
    elif isinstance(event, BlockStop):
        _close(snapshot, event.index)
    elif isinstance(event, Start):
        response.id, response.model = event.id, event.model
        if event.usage is not None:
            response.usage = replace(event.usage)
    else:
        for index in list(snapshot._args):
            _close(snapshot, index)
        if isinstance(event, Finish):
            response.stop_reason, response.stop_sequence = event.stop_reason, event.stop_sequence
            response.usage = replace(event.usage)
            response.extra.update(event.extra)
        else:
            snapshot.error = event
    return snapshot


def _open(snapshot: Snapshot, event: BlockStart) -> Part:
    if event.kind == "tool_call":
        part: Part = ToolCallPart(event.id, event.name, {}, event.signature)
    else:
        part = TextPart("") if event.kind == "text" else ThinkingPart("")
    _close(snapshot, event.index)  # an index opened again keeps its old part and adds this one after it
    parts = snapshot.response.parts
    parts.insert(len(parts) - sum(i > event.index for i in snapshot._blocks), part)
    snapshot._blocks[event.index] = part
    return part


def _add_delta(snapshot: Snapshot, event: TextDelta | ThinkingDelta | ToolArgsDelta) -> None:
    kind: BlockKind = "text" if isinstance(event, TextDelta) else "thinking" if isinstance(event, ThinkingDelta) else "tool_call"
    part = snapshot._blocks.get(event.index) or _open(snapshot, BlockStart(event.index, kind))
    if isinstance(event, TextDelta) and isinstance(part, TextPart):
        _extend(part, event.text)
    elif isinstance(event, ThinkingDelta) and isinstance(part, ThinkingPart):
        _extend(part, event.text)
        if event.signature:
            part.signature = (part.signature or "") + event.signature
        part.family = part.family or event.family
        part.redacted = part.redacted or event.redacted
    elif isinstance(event, ToolArgsDelta) and isinstance(part, ToolCallPart):
        snapshot._args.setdefault(event.index, []).append(event.partial_json)


def _extend(part: TextPart | ThinkingPart, text: str) -> None:
    """`part.text += text` in amortised constant time. On an attribute, `+=` copies the whole text
    every time (20,000 deltas: 0.4 s); taken into a local with the attribute emptied, the string has
    one reference and CPython grows it in place."""
    whole, part.text = part.text, ""
    whole += text
    part.text = whole


def _close(snapshot: Snapshot, index: int) -> None:
    pieces, part = snapshot._args.pop(index, None), snapshot._blocks.get(index)
    if pieces is not None and isinstance(part, ToolCallPart):
        try:
            arguments = orjson.loads("".join(pieces))
        except orjson.JSONDecodeError:
            arguments = {}
        part.arguments = arguments if isinstance(arguments, dict) else {}


def events_of(response: Response) -> list[Event]:
    """`response` as an upstream parser would stream it: Start; per part BlockStart, one delta
    (tool arguments as JSON) and BlockStop; Finish. Accumulated, it gives `response` back,
    as long as its parts are text, thinking and tool calls (media and tool results have no stream
    form and are left out) and no signature is "" (a stream cannot tell it from None).
    """
    events: list[Event] = [Start(response.id, response.model)]
    streamed = [p for p in response.parts if isinstance(p, (TextPart, ThinkingPart, ToolCallPart))]
    for index, part in enumerate(streamed):
        if isinstance(part, TextPart):
            events += [BlockStart(index, "text"), TextDelta(index, part.text)]
        elif isinstance(part, ToolCallPart):
            events.append(BlockStart(index, "tool_call", id=part.id, name=part.name, signature=part.signature))
            events.append(ToolArgsDelta(index, orjson.dumps(part.arguments).decode()))
        else:
            events.append(BlockStart(index, "thinking"))
            events.append(ThinkingDelta(index, part.text, part.signature or "", part.family, part.redacted))
        events.append(BlockStop(index))
    return [*events, Finish(response.stop_reason, replace(response.usage), response.stop_sequence, dict(response.extra))]
