"""What the dialect tests share: captured client requests, SSE builders, ir stream splitting and checks,
SDK clients over canned bytes, and hypothesis strategies."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import httpx2
import openai
from hypothesis import strategies as st

from babelgate import ir
from babelgate.dialects.base import StreamParser, StreamRenderer
from babelgate.providers.framing import SSEFraming
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
    """Every event a parser yields for SSE chunks cut into frames one by one, then ended."""
    framing = SSEFraming()
    events: list[ir.Event] = []
    for chunk in chunks:
        for data in framing.feed(chunk):
            events.extend(parser.frame(data))
    for data in framing.flush():
        events.extend(parser.frame(data))
    return events + parser.end()


# ---- ir streams -----------------------------------------------------------------------------


def events_for(response: ir.Response) -> list[ir.Event]:
    """`ir.events_of(response)` split the way upstreams split a stream: text one character a
    delta, tool arguments three characters a delta, a thinking's signature after its text."""
    events: list[ir.Event] = []
    for event in ir.events_of(response):
        if isinstance(event, ir.TextDelta):
            events += [ir.TextDelta(event.index, c) for c in event.text]
        elif isinstance(event, ir.ToolArgsDelta):
            raw = event.partial_json
            events += [ir.ToolArgsDelta(event.index, raw[i : i + 3]) for i in range(0, len(raw), 3)]
        elif isinstance(event, ir.ThinkingDelta) and event.text and (event.signature or event.redacted):
            events.append(ir.ThinkingDelta(event.index, event.text, family=event.family))
            events.append(ir.ThinkingDelta(event.index, signature=event.signature, family=event.family, redacted=event.redacted))
        else:
            events.append(event)
    return events


def collect(events: Iterable[ir.Event]) -> ir.Snapshot:
    """The events folded one by one with `ir.accumulate`."""
    snapshot: ir.Snapshot | None = None
    for event in events:
        snapshot = ir.accumulate(event, snapshot)
    assert snapshot is not None, "no events"
    return snapshot


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
