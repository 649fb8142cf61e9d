"""What the dialect tests share: captured client requests, SSE builders, ir stream checks,
SDK clients over canned bytes, and hypothesis strategies."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import orjson
from hypothesis import strategies as st

from babelgate import ir
from babelgate.dialects.base import StreamParser, StreamRenderer
from tests.support import captures

CAPTURE_NAMES = captures.NAMES  # every capture's file name; the CLIs run only when a test reads one


# ---- captures and wire bytes -------------------------------------------------------------


def capture(name: str) -> dict[str, Any]:
    """One client request captured from the real CLI (tests/support/captures.py): its `path`, `headers` and `body`."""
    return captures.load(name)


def fixture(name: str) -> dict[str, Any]:
    """The JSON body of a captured client request."""
    body: dict[str, Any] = capture(name)["body"]
    return body


def named_sse(events: list[dict[str, Any]]) -> bytes:
    """SSE frames named by their payload's `type` (Anthropic, Responses), non-ASCII left unescaped."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e, ensure_ascii=False)}\n\n".encode() for e in events)


def named_frames(raw: bytes) -> list[dict[str, Any]]:
    """The payloads of `named_sse`-shaped bytes, checking that each frame is named by its `type`."""
    frames = []
    for block in raw.decode().split("\n\n"):
        if block:
            event_line, data_line = block.split("\n")
            data = json.loads(data_line.removeprefix("data: "))
            assert event_line == f"event: {data['type']}"
            frames.append(data)
    return frames


def render_stream(renderer: StreamRenderer, events: list[ir.Event]) -> bytes:
    assert renderer.content_type == "text/event-stream"
    return b"".join(renderer.render(e) for e in events)


def parse_stream(parser: StreamParser, *chunks: bytes) -> list[ir.Event]:
    """Every event a parser yields for the chunks fed one by one, then closed."""
    events: list[ir.Event] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events + parser.close()


# ---- ir streams -----------------------------------------------------------------------------


def events_for(response: ir.Response) -> list[ir.Event]:
    """A response as the ir stream an upstream parser would give: text one character a delta,
    tool arguments three characters a delta."""
    events: list[ir.Event] = [ir.Start(response.id, response.model)]
    for index, part in enumerate(response.parts):
        if isinstance(part, ir.TextPart):
            events += [ir.BlockStart(index, "text"), *[ir.TextDelta(index, c) for c in part.text], ir.BlockStop(index)]
        elif isinstance(part, ir.ThinkingPart):
            events.append(ir.BlockStart(index, "thinking"))
            events += [ir.ThinkingDelta(index, part.text, family=part.family)] if part.text else []
            events += [ir.ThinkingDelta(index, signature=part.signature, family=part.family)] if part.signature else []
            events.append(ir.BlockStop(index))
        elif isinstance(part, ir.ToolCallPart):
            raw = orjson.dumps(part.arguments).decode()
            events.append(ir.BlockStart(index, "tool_call", id=part.id, name=part.name, signature=part.signature))
            events += [ir.ToolArgsDelta(index, raw[i : i + 3]) for i in range(0, len(raw), 3)]
            events.append(ir.BlockStop(index))
    return [*events, ir.Finish(response.stop_reason, response.usage, response.stop_sequence)]


def accumulate(events: list[ir.Event]) -> tuple[list[ir.Part], ir.Finish | ir.StreamError | None]:
    """ir events folded into parts, the way a non-streaming client would see them."""
    parts: dict[int, ir.Part] = {}
    args: dict[int, str] = {}
    end: ir.Finish | ir.StreamError | None = None
    for event in events:
        if isinstance(event, ir.BlockStart):
            kinds: dict[str, ir.Part] = {
                "text": ir.TextPart(""),
                "thinking": ir.ThinkingPart(""),
                "tool_call": ir.ToolCallPart(event.id, event.name, {}, event.signature),
            }
            parts[event.index] = kinds[event.kind]
        elif isinstance(event, ir.TextDelta):
            part = parts[event.index]
            assert isinstance(part, ir.TextPart)
            part.text += event.text
        elif isinstance(event, ir.ThinkingDelta):
            thinking = parts[event.index]
            assert isinstance(thinking, ir.ThinkingPart)
            thinking.text += event.text
            if event.signature:
                thinking.signature = (thinking.signature or "") + event.signature
            thinking.family = thinking.family or event.family
        elif isinstance(event, ir.ToolArgsDelta):
            args[event.index] = args.get(event.index, "") + event.partial_json
        elif isinstance(event, (ir.Finish, ir.StreamError)):
            end = event
    for index, raw in args.items():
        call = parts[index]
        assert isinstance(call, ir.ToolCallPart)
        call.arguments = json.loads(raw)
    return [parts[i] for i in sorted(parts)], end


def assert_well_formed(events: list[ir.Event]) -> None:
    """Start first, blocks one at a time with rising indexes, every block closed, one ending."""
    assert isinstance(events[0], ir.Start)
    open_index: int | None = None
    seen: list[int] = []
    for event in events[1:-1]:
        if isinstance(event, ir.BlockStart):
            assert open_index is None and (not seen or event.index > seen[-1])
            open_index = event.index
            seen.append(event.index)
        elif isinstance(event, ir.BlockStop):
            assert event.index == open_index
            open_index = None
        else:
            assert isinstance(event, (ir.TextDelta, ir.ThinkingDelta, ir.ToolArgsDelta)) and event.index == open_index
    assert open_index is None and isinstance(events[-1], (ir.Finish, ir.StreamError))


# ---- SDK clients over canned bytes ------------------------------------------------------------


def sse_transport(body: bytes, seen: list[str] | None = None) -> httpx2.MockTransport:
    """A transport that answers every request with `body` as an event stream (and notes its URL in `seen`)."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(str(request.url))
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return httpx2.MockTransport(handler)


def openai_client(body: bytes) -> openai.OpenAI:
    http_client = httpx2.Client(transport=sse_transport(body))
    return openai.OpenAI(api_key="k", base_url="http://gateway.test/v1", http_client=http_client, max_retries=0)


# ---- hypothesis strategies -----------------------------------------------------------------

texts = st.text(min_size=1, max_size=20)
idents = st.text(alphabet="abcdefghij_0123456789", min_size=1, max_size=10)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(idents, c, max_size=3),
    max_leaves=6,
)
tool_args = st.dictionaries(idents, json_values, max_size=3)
