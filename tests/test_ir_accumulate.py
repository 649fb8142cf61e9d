"""ir.accumulate folds a stream into the response it describes; ir.events_of streams a response."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from babelgate import ir
from tests.dialects.helpers import collect, events_for, idents, texts, tool_args

USAGE = ir.Usage(input_tokens=12, output_tokens=5, cache_read_tokens=3, cache_write_tokens=1, reasoning_tokens=2)
RESPONSE = ir.Response(
    id="msg_1",
    model="m",
    parts=[
        ir.ThinkingPart("Let me see", "sig", "anthropic"),
        ir.ThinkingPart("", "hidden", "anthropic", redacted=True),
        ir.TextPart("Héllo 👋"),
        ir.ToolCallPart("call_1", "get_weather", {"city": "Paris", "days": [1, 2]}, signature="c2ln"),
        ir.ToolCallPart("call_2", "now", {}),
    ],
    stop_reason="tool_use",
    usage=USAGE,
)


def test_a_whole_stream() -> None:
    events: list[ir.Event] = [
        ir.Start("msg_1", "m", ir.Usage(input_tokens=12)),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "Let me", family="anthropic"),
        ir.ThinkingDelta(0, " see", family="anthropic"),
        ir.ThinkingDelta(0, signature="si", family="anthropic"),
        ir.ThinkingDelta(0, signature="g", family="anthropic"),
        ir.BlockStop(0),
        ir.BlockStart(1, "thinking"),
        ir.ThinkingDelta(1, signature="hidden", family="anthropic", redacted=True),
        ir.BlockStop(1),
        ir.BlockStart(2, "text"),
        *[ir.TextDelta(2, c) for c in "Héllo 👋"],
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="call_1", name="get_weather", signature="c2ln"),
        ir.ToolArgsDelta(3, '{"city": "Pa'),
        ir.ToolArgsDelta(3, 'ris", "days": [1, '),
        ir.ToolArgsDelta(3, "2]}"),
        ir.BlockStop(3),
        ir.BlockStart(4, "tool_call", id="call_2", name="now"),
        ir.BlockStop(4),
        ir.Finish("tool_use", USAGE),
    ]
    assert collect(events) == ir.Snapshot(RESPONSE)


def test_updates_in_place_and_starts_from_the_first_event() -> None:
    first = ir.accumulate(ir.Start("msg_1", "m", ir.Usage(input_tokens=7)))
    assert first.response == ir.Response("msg_1", "m", [], usage=ir.Usage(input_tokens=7))
    assert ir.accumulate(ir.BlockStart(0, "text"), first) is first
    headless = ir.accumulate(ir.TextDelta(0, "hi"))
    assert headless == ir.Snapshot(ir.Response("", "", [ir.TextPart("hi")]))
    late = ir.accumulate(ir.Start("msg_2", "m2"), headless)  # a late Start names it, without usage keeps the old
    assert (late.response.id, late.response.model, late.response.usage) == ("msg_2", "m2", ir.Usage())


def test_the_snapshot_shares_nothing_with_the_events() -> None:
    usage = ir.Usage(output_tokens=1)
    start, finish = ir.Start("r", "m", usage), ir.Finish("end_turn", usage)
    snapshot = ir.accumulate(start)
    usage.output_tokens = 99
    assert snapshot.response.usage == ir.Usage(output_tokens=1)
    ir.accumulate(finish, snapshot).response.usage.input_tokens = 5
    assert finish.usage == ir.Usage(output_tokens=99)


def test_tool_arguments_that_are_not_an_object() -> None:
    for raw in ["", "   ", '{"a": ', "[1, 2]", "3", "null", "{'a': 1}"]:
        events: list[ir.Event] = [ir.BlockStart(0, "tool_call", id="c", name="f"), ir.ToolArgsDelta(0, raw), ir.BlockStop(0)]
        assert collect(events).response.parts == [ir.ToolCallPart("c", "f", {})], raw


def test_tool_arguments_wait_for_block_stop_or_the_end() -> None:
    snapshot = collect([ir.BlockStart(0, "tool_call", id="c", name="f"), ir.ToolArgsDelta(0, '{"a": 1}')])
    assert snapshot.response.parts == [ir.ToolCallPart("c", "f", {})]  # not parsed before the block closes
    assert ir.accumulate(ir.Finish("tool_use", ir.Usage()), snapshot).response.parts == [ir.ToolCallPart("c", "f", {"a": 1})]
    cut = collect([ir.BlockStart(0, "tool_call", id="c", name="f"), ir.ToolArgsDelta(0, '{"a": 1'), ir.StreamError("api_error", "cut")])
    assert cut.response.parts == [ir.ToolCallPart("c", "f", {})]


def test_a_stream_error_is_kept_with_what_came_before_it() -> None:
    events: list[ir.Event] = [ir.Start("r", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "par"), ir.StreamError("overloaded", "busy")]
    snapshot = collect(events)
    assert snapshot.error == ir.StreamError("overloaded", "busy")
    assert snapshot.response == ir.Response("r", "m", [ir.TextPart("par")])


def test_finish_sets_the_stop_and_replaces_the_start_usage() -> None:
    events: list[ir.Event] = [ir.Start("r", "m", ir.Usage(input_tokens=9, output_tokens=1)), ir.Finish("stop_sequence", USAGE, "END")]
    response = collect(events).response
    assert (response.stop_reason, response.stop_sequence, response.usage) == ("stop_sequence", "END", USAGE)


def test_thinking_keeps_the_first_family_and_joins_signatures() -> None:
    events: list[ir.Event] = [
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "a"),
        ir.ThinkingDelta(0, "b", family="gemini"),
        ir.ThinkingDelta(0, signature="s1", family="openai"),
        ir.ThinkingDelta(0, signature=""),
        ir.ThinkingDelta(0, signature="s2"),
        ir.BlockStop(0),
    ]
    assert collect(events).response.parts == [ir.ThinkingPart("ab", "s1s2", "gemini")]


def test_parts_follow_block_indexes() -> None:
    events: list[ir.Event] = [
        ir.BlockStart(5, "text"),
        ir.TextDelta(5, "last"),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "first"),
        ir.BlockStart(3, "thinking"),
        ir.ThinkingDelta(3, "middle"),
    ]
    assert collect(events).response.parts == [ir.TextPart("first"), ir.ThinkingPart("middle"), ir.TextPart("last")]


def test_deltas_without_their_block() -> None:
    events: list[ir.Event] = [
        ir.TextDelta(0, "opened by its delta"),
        ir.ToolArgsDelta(1, '{"a": 1}'),
        ir.BlockStop(1),
        ir.BlockStart(2, "text"),
        ir.ThinkingDelta(2, "a thought in a text block"),
        ir.ToolArgsDelta(2, "{}"),
        ir.TextDelta(2, "kept"),
    ]
    parts = collect(events).response.parts
    assert parts == [ir.TextPart("opened by its delta"), ir.ToolCallPart("", "", {"a": 1}), ir.TextPart("kept")]


def test_a_block_opened_again_keeps_both_parts() -> None:
    events: list[ir.Event] = [
        ir.BlockStart(0, "tool_call", id="c", name="f"),
        ir.ToolArgsDelta(0, '{"a": 1}'),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "x"),
        ir.BlockStart(1, "text"),
    ]
    assert collect(events).response.parts == [ir.ToolCallPart("c", "f", {"a": 1}), ir.TextPart("x"), ir.TextPart("")]


def test_events_of() -> None:
    assert ir.events_of(RESPONSE) == [
        ir.Start("msg_1", "m"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "Let me see", "sig", "anthropic"),
        ir.BlockStop(0),
        ir.BlockStart(1, "thinking"),
        ir.ThinkingDelta(1, "", "hidden", "anthropic", redacted=True),
        ir.BlockStop(1),
        ir.BlockStart(2, "text"),
        ir.TextDelta(2, "Héllo 👋"),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="call_1", name="get_weather", signature="c2ln"),
        ir.ToolArgsDelta(3, '{"city":"Paris","days":[1,2]}'),
        ir.BlockStop(3),
        ir.BlockStart(4, "tool_call", id="call_2", name="now"),
        ir.ToolArgsDelta(4, "{}"),
        ir.BlockStop(4),
        ir.Finish("tool_use", USAGE),
    ]


def test_events_of_leaves_out_parts_a_stream_cannot_carry() -> None:
    media = ir.MediaPart("image/png", data="iVBORw0KGgo=")
    result = ir.ToolResultPart("call_1", [ir.TextPart("sunny")])
    response = ir.Response("r", "m", [media, ir.TextPart("a"), result, ir.TextPart("b")])
    events = ir.events_of(response)
    assert [e.index for e in events if isinstance(e, ir.BlockStart)] == [0, 1]  # no gaps where the others were
    assert collect(events) == ir.Snapshot(dataclasses.replace(response, parts=[ir.TextPart("a"), ir.TextPart("b")]))


def test_events_of_shares_nothing_with_the_response() -> None:
    snapshot = collect(ir.events_of(RESPONSE))
    snapshot.response.usage.output_tokens = 0
    call = snapshot.response.parts[3]
    assert isinstance(call, ir.ToolCallPart)
    call.arguments["days"].append(3)
    assert RESPONSE.usage == USAGE
    assert RESPONSE.parts[3] == ir.ToolCallPart("call_1", "get_weather", {"city": "Paris", "days": [1, 2]}, "c2ln")


# ---- round trips ------------------------------------------------------------------------------

_sig = st.none() | st.text(min_size=1, max_size=12)
_family = st.none() | st.sampled_from(["anthropic", "gemini", "openai", "openai-responses"])
_part = st.one_of(
    st.builds(ir.TextPart, st.text(max_size=20)),
    st.builds(ir.ThinkingPart, st.text(max_size=20), _sig, _family, st.booleans()),
    st.builds(ir.ToolCallPart, idents, idents, tool_args, _sig),
)
_responses = st.builds(
    ir.Response,
    id=idents,
    model=idents,
    parts=st.lists(_part, max_size=6),
    stop_reason=st.sampled_from(["end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn"]),
    stop_sequence=st.none() | texts,
    usage=st.builds(ir.Usage, *[st.integers(0, 10**6)] * 5),
)


@settings(max_examples=200, deadline=None)
@given(response=_responses)
def test_accumulating_events_of_gives_the_response_back(response: ir.Response) -> None:
    assert collect(ir.events_of(response)) == ir.Snapshot(response)


@settings(max_examples=200, deadline=None)
@given(response=_responses)
def test_however_the_deltas_are_split(response: ir.Response) -> None:
    """Text one character a delta, tool arguments three characters a delta, a signature after its text."""
    assert collect(events_for(response)) == ir.Snapshot(response)
