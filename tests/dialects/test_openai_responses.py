"""The OpenAI Responses dialect, both directions, checked against the official `openai` SDK."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response

from babelgate import ir
from babelgate.dialects import openai_responses as dialect
from babelgate.dialects.base import EncodeOptions
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.reasoning import Sealed, unseal
from tests.dialects.helpers import (
    assert_well_formed,
    collect,
    events_for,
    fixture,
    idents,
    named_frames,
    named_sse,
    openai_client,
    parse_stream,
    render_stream,
    texts,
    tool_args,
)

FAMILY = "openai-responses"


# ---- client side: parsing ----------------------------------------------------------------


def test_codex_first_turn() -> None:
    raw = fixture("codex-0.169.0-tool-loop.1.json")
    request = dialect.parse_request(raw)
    assert request.model == "gpt-fake"
    assert request.stream is True
    developer = [c["text"] for m in raw["input"] if m.get("role") == "developer" for c in m["content"]]
    assert len(developer) == 3 and [p.text for p in request.system] == developer  # the developer messages, in order
    assert request.system[0].text.startswith("You are a coding agent running in the Codex CLI")
    assert [m.role for m in request.messages] == ["user", "user"]
    assert request.messages[-1].parts == [ir.TextPart("create out.txt containing hello")]
    names = [t.name for t in request.tools]
    assert names == ["exec_command", "write_stdin", "request_user_input", "view_image", "get_goal", "create_goal", "update_goal"]
    assert request.tools[0].parameters["required"] == ["cmd"]
    assert request.tool_choice == ir.ToolChoice("auto")
    assert request.parallel_tool_calls is True
    assert request.reasoning == ir.Reasoning()
    assert request.user == raw["client_metadata"]["session_id"]  # the CLI's session id, sent as prompt_cache_key


def test_codex_tool_loop_turn() -> None:
    request = dialect.parse_request(fixture("codex-0.169.0-tool-loop.2.json"))
    assert [m.role for m in request.messages] == ["user", "user", "assistant", "user"]
    assert request.messages[2].parts == [ir.ToolCallPart("call_fake_0371ef29", "exec_command", {"cmd": "echo hello > out.txt"})]
    result = request.messages[3].parts[0]
    assert isinstance(result, ir.ToolResultPart) and result.call_id == "call_fake_0371ef29"
    assert isinstance(result.content[0], ir.TextPart) and re.match(r"Chunk ID: [0-9a-f]{6}\n", result.content[0].text)


@pytest.mark.parametrize("name", ["codex-0.169.0-tool-loop.1.json", "codex-0.169.0-tool-loop.2.json"])
def test_codex_requests_survive_a_round_trip(name: str) -> None:
    first = dialect.parse_request(fixture(name))
    again = dialect.parse_request(dialect.encode_request(first, first.model, EncodeOptions(reasoning_effort=True)))
    assert again == dataclasses.replace(first, system=[ir.TextPart("\n\n".join(p.text for p in first.system))])


def test_parse_golden() -> None:
    body = {
        "model": "gpt-x",
        "instructions": "Be brief.",
        "input": [
            {"role": "system", "content": "Also this."},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                ],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Plan"}, {"type": "summary_text", "text": "More"}],
                "encrypted_content": "ENC",
            },
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Calling.", "annotations": []}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [
                    {"type": "input_text", "text": "ok"},
                    {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
                ],
            },
            {"role": "developer", "content": [{"type": "input_text", "text": "Late note."}]},
        ],
        "tools": [
            {
                "type": "function",
                "name": "f",
                "description": "F.",
                "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
                "strict": True,
            },
            {"type": "web_search", "external_web_access": True},
            {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g", "parameters": {}}]},
        ],
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": False,
        "max_output_tokens": 500,
        "temperature": 0.5,
        "top_p": 1,
        "reasoning": {"effort": "high", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}, "verbosity": "low"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "metadata": {"k": "v"},
        "user": "u-1",
    }
    assert dialect.parse_request(body) == ir.Request(
        model="gpt-x",
        system=[ir.TextPart("Be brief."), ir.TextPart("Also this.")],
        messages=[
            ir.Message("user", [ir.TextPart("Look"), ir.MediaPart("image/png", data="AAAA")]),
            ir.Message(
                "assistant",
                [ir.ThinkingPart("Plan\n\nMore", "ENC", FAMILY), ir.TextPart("Calling."), ir.ToolCallPart("c1", "f", {"a": 1})],
            ),
            ir.Message(
                "user", [ir.ToolResultPart("c1", [ir.TextPart("ok"), ir.MediaPart("application/pdf", data="JVBE", kind="document")])]
            ),
            ir.Message("system", [ir.TextPart("Late note.")]),
        ],
        tools=[ir.Tool("f", "F.", {"type": "object", "properties": {"a": {"type": "integer"}}})],
        tool_choice=ir.ToolChoice("tool", "f"),
        parallel_tool_calls=False,
        max_tokens=500,
        temperature=0.5,
        top_p=1.0,
        stream=False,
        stream_usage=True,
        reasoning=ir.Reasoning(effort="high"),
        response_schema={"type": "object"},
        json_mode=True,
        user="u-1",
    )


def test_string_input_and_allowed_tools() -> None:
    tools = [{"type": "function", "name": n, "parameters": {"type": "object", "properties": {}}} for n in ("a", "b")]
    choice = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "b"}]}
    request = dialect.parse_request({"model": "m", "input": "hi", "tools": tools, "tool_choice": choice}, stream=True)
    assert request.messages == [ir.Message("user", [ir.TextPart("hi")])]
    assert [t.name for t in request.tools] == ["b"]
    assert request.tool_choice == ir.ToolChoice("any")
    assert request.stream is True


_BAD: list[tuple[dict[str, Any], str]] = [
    ({"model": "m"}, "input"),
    ({"input": "hi"}, "model"),
    ({"model": "m", "input": 5}, "input"),
    ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input.0.role"),
    ({"model": "m", "input": ["x"]}, "input.0"),
    ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input.0.type"),
    ({"model": "m", "input": [{"type": "compaction", "encrypted_content": "x"}]}, "input.0.type"),
    ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input.0.call_id"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input.0.content.0.type"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]}, "input.0.content.0.file_id"),
    ({"model": "m", "input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
    ({"model": "m", "input": "x", "background": True}, "background"),
    ({"model": "m", "input": "x", "tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
    ({"model": "m", "input": "x", "tools": [{"type": "web_search"}], "tool_choice": "required"}, "tool_choice"),
    (
        {
            "model": "m",
            "input": "x",
            "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "g"}]}],
            "tool_choice": {"type": "function", "name": "g"},
        },
        "tool_choice.name",
    ),
    ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools.0.name"),
    ({"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"model": "m", "input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"model": "m", "input": "x", "temperature": "hot"}, "temperature"),
    ({"model": "m", "input": "x", "max_output_tokens": 1.5}, "max_output_tokens"),
]


@pytest.mark.parametrize(("body", "path"), _BAD, ids=[p for _, p in _BAD])
def test_bad_requests_name_the_field(body: dict[str, Any], path: str) -> None:
    with pytest.raises(BadRequest) as caught:
        dialect.parse_request(body)
    assert caught.value.path == path
    assert caught.value.message.startswith(f"{path}: ")


def test_dropped_tools_rule_is_documented() -> None:
    assert dialect.__doc__ is not None
    assert "tools the upstream cannot serve are dropped" in dialect.__doc__.lower()
    assert "forces a dropped tool → 400" in dialect.__doc__


def test_render_error_is_openai_shaped() -> None:
    assert dialect.render_error(BadRequest("input.0.role", "bad")) == {
        "error": {"message": "input.0.role: bad", "type": "invalid_request_error", "param": "input.0.role", "code": "invalid_request"}
    }
    assert dialect.render_error(GatewayError(429, Kind.RATE_LIMIT, "slow down"))["error"]["type"] == "rate_limit_error"


# ---- client side: rendering --------------------------------------------------------------


def _response(stop: ir.StopReason = "tool_use") -> ir.Response:
    return ir.Response(
        id="msg_01",
        model="claude-x",
        parts=[
            ir.ThinkingPart("Hmm.", "ENC", FAMILY),
            ir.ThinkingPart("Other family", "sig", "anthropic"),
            ir.TextPart("Hello "),
            ir.TextPart("there."),
            ir.ToolCallPart("call_9", "lookup", {"q": "x"}),
        ],
        stop_reason=stop,
        usage=ir.Usage(input_tokens=10, output_tokens=20, cache_read_tokens=5, cache_write_tokens=1, reasoning_tokens=7),
    )


def test_render_response_golden_and_sdk_valid() -> None:
    body = dialect.render_response(_response())
    items = body["output"]
    assert body["id"] == "resp_msg_01" and body["object"] == "response" and body["status"] == "completed"
    assert [i["type"] for i in items] == ["reasoning", "reasoning", "message", "function_call"]
    assert items[0]["summary"] == [{"type": "summary_text", "text": "Hmm."}] and items[0]["encrypted_content"] == "ENC"
    assert unseal(items[1]["encrypted_content"]) == Sealed("anthropic", "claude-x", "sig", "Other family")  # sealed, with its text
    # Sent back as input items, every family's state is whole again (item ids are not kept: nothing is stored).
    history = dialect.parse_request({"model": "m", "input": [{k: v for k, v in i.items() if k != "id"} for i in items]})
    assert history.messages[0].parts == [*_response().parts[:2], ir.TextPart("Hello there."), _response().parts[-1]]
    assert items[2]["content"] == [{"type": "output_text", "text": "Hello there.", "annotations": [], "logprobs": []}]
    assert {k: items[3][k] for k in ("call_id", "name", "arguments")} == {"call_id": "call_9", "name": "lookup", "arguments": '{"q":"x"}'}
    assert body["usage"] == {
        "input_tokens": 16,
        "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 1},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 7},
        "total_tokens": 36,
    }
    parsed = Response.model_validate(body)
    assert parsed.output_text == "Hello there."


def test_render_response_incomplete() -> None:
    body = dialect.render_response(_response("max_tokens"))
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert Response.model_validate(body).incomplete_details is not None


_EVENTS: list[ir.Event] = [
    ir.Start("up_1", "upstream-model"),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, "Let me "),
    ir.ThinkingDelta(0, "think.", family=FAMILY),
    ir.ThinkingDelta(0, signature="ENC==", family=FAMILY),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "Hi"),
    ir.TextDelta(1, " there"),
    ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", id="call_a", name="f"),
    ir.ToolArgsDelta(2, '{"x": '),
    ir.ToolArgsDelta(2, "1}"),
    ir.BlockStop(2),
    ir.Finish("tool_use", ir.Usage(input_tokens=3, output_tokens=9, cache_read_tokens=2, reasoning_tokens=4)),
]


def _render(events: list[ir.Event], request: ir.Request | None = None) -> bytes:
    return render_stream(dialect.stream_renderer(request or ir.Request(model="client-model", messages=[], stream=True)), events)


def test_renderer_event_sequence() -> None:
    frames = named_frames(_render(_EVENTS))
    assert [f["sequence_number"] for f in frames] == list(range(len(frames)))
    assert [f["type"] for f in frames] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    completed = frames[-1]["response"]
    assert completed["id"] == frames[0]["response"]["id"] == "resp_up_1"
    assert completed["model"] == "client-model"
    assert [i["type"] for i in completed["output"]] == ["reasoning", "message", "function_call"]
    assert completed["output"][0]["encrypted_content"] == "ENC=="
    assert completed["usage"]["input_tokens"] == 5 and completed["usage"]["output_tokens_details"] == {"reasoning_tokens": 4}


def test_sdk_stream_helper_accepts_the_renderer_output() -> None:
    client = openai_client(_render(_EVENTS))
    with client.responses.stream(model="client-model", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == ["Hi", " there"]
    assert final.output_text == "Hi there"
    call = final.output[2]
    assert call.type == "function_call" and call.call_id == "call_a" and json.loads(call.arguments) == {"x": 1}
    assert final.usage is not None and final.usage.total_tokens == 14
    raw_types = [type(e).__name__ for e in openai_client(_render(_EVENTS)).responses.create(model="m", input="hi", stream=True)]
    assert raw_types[0] == "ResponseCreatedEvent" and raw_types[-1] == "ResponseCompletedEvent"
    assert "ResponseReasoningSummaryTextDeltaEvent" in raw_types


def test_sdk_sees_failed_and_incomplete_streams() -> None:
    failed: list[ir.Event] = [
        ir.Start("x", "m"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "par"),
        ir.StreamError(Kind.RATE_LIMIT.value, "slow down"),
    ]
    frames = named_frames(_render(failed))
    assert [f["type"] for f in frames][-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.failed",
    ]
    assert frames[-1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "slow down"}
    events = list(openai_client(_render(failed)).responses.create(model="m", input="hi", stream=True))
    assert events[-1].type == "response.failed"
    truncated: list[ir.Event] = [
        ir.Start("x", "m"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "cut"),
        ir.BlockStop(0),
        ir.Finish("max_tokens", ir.Usage()),
    ]
    last = list(openai_client(_render(truncated)).responses.create(model="m", input="hi", stream=True))[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None and last.response.incomplete_details.reason == "max_output_tokens"


def test_renderer_seals_foreign_signatures_and_ignores_late_events() -> None:
    events: list[ir.Event] = [
        ir.Start("x", "m"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "t"),
        ir.ThinkingDelta(0, signature="anthropic-sig", family="anthropic"),
        ir.BlockStop(0),
        ir.Finish("end_turn", ir.Usage()),
        ir.TextDelta(0, "late"),
    ]
    frames = named_frames(_render(events))
    sealed = unseal(frames[-1]["response"]["output"][0]["encrypted_content"])
    assert sealed == Sealed("anthropic", "m", "anthropic-sig", "t")  # another family's state travels sealed
    assert frames[-1]["type"] == "response.completed"


# ---- upstream side -----------------------------------------------------------------------


def _request() -> ir.Request:
    return ir.Request(
        model="client-model",
        system=[ir.TextPart("Sys A"), ir.TextPart("Sys B")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("Hi"),
                    ir.MediaPart("image/png", data="AAAA"),
                    ir.MediaPart("application/pdf", url="https://x/y.pdf", kind="document"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("mine", "ENC", FAMILY),
                    ir.ThinkingPart("theirs", "SIG", "anthropic"),
                    ir.TextPart("Sure."),
                    ir.ToolCallPart("c1", "f", {"a": 1}),
                ],
            ),
            ir.Message("user", [ir.ToolResultPart("c1", [ir.TextPart("boom")], is_error=True), ir.TextPart("and?")]),
            ir.Message("system", [ir.TextPart("Late.")]),
        ],
        tools=[ir.Tool("f", "F.", {"type": "object", "properties": {"a": {"type": "integer"}}})],
        tool_choice=ir.ToolChoice("tool", "f"),
        parallel_tool_calls=False,
        max_tokens=100,
        temperature=0.2,
        top_k=5,
        stop=["END"],
        stream=True,
        reasoning=ir.Reasoning(effort="max"),
        response_schema={"type": "object"},
        user="x" * 80,
    )


def test_encode_request_golden() -> None:
    body = dialect.encode_request(_request(), "gpt-up", EncodeOptions(reasoning_effort=True))
    assert body == {
        "model": "gpt-up",
        "store": False,
        "instructions": "Sys A\n\nSys B",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Hi"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                    {"type": "input_file", "file_url": "https://x/y.pdf"},
                ],
            },
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "mine"}], "encrypted_content": "ENC"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Sure."}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "[tool error] boom"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "and?"}]},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Late."}]},
        ],
        "tools": [
            {
                "type": "function",
                "name": "f",
                "description": "F.",
                "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
                "strict": False,
            }
        ],
        "parallel_tool_calls": False,
        "tool_choice": {"type": "function", "name": "f"},
        "max_output_tokens": 100,
        "temperature": 0.2,
        "reasoning": {"effort": "xhigh", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "text": {"format": {"type": "json_schema", "name": "response", "schema": {"type": "object"}, "strict": False}},
        "prompt_cache_key": "bg-" + __import__("hashlib").sha256(b"x" * 80).hexdigest()[:40],
        "stream": True,
    }


def test_encode_request_without_reasoning_support() -> None:
    body = dialect.encode_request(_request(), "gpt-up", EncodeOptions())
    assert "reasoning" not in body and "include" not in body
    none = dialect.encode_request(
        dataclasses.replace(_request(), reasoning=ir.Reasoning(effort="none")), "m", EncodeOptions(reasoning_effort=True)
    )
    assert none["reasoning"] == {"effort": "none"} and "include" not in none
    budget = dialect.encode_request(
        dataclasses.replace(_request(), reasoning=ir.Reasoning(budget=2000)), "m", EncodeOptions(reasoning_effort=True)
    )
    assert budget["reasoning"]["effort"] == "low"


def test_passthrough_edits_only_what_routing_changed() -> None:
    raw = fixture("codex-0.169.0-tool-loop.2.json")
    request = dataclasses.replace(dialect.parse_request(raw), reasoning=ir.Reasoning(effort="low"))
    body = dialect.passthrough(raw, request, "gpt-real")
    assert body["model"] == "gpt-real" and body["reasoning"] == {"summary": "auto", "effort": "low"}
    assert {k: v for k, v in body.items() if k not in ("model", "reasoning")} == {
        k: v for k, v in raw.items() if k not in ("model", "reasoning")
    }
    assert raw["model"] == "gpt-fake"


_UPSTREAM_BODY: dict[str, Any] = {
    "id": "resp_abc",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-up-2025",
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "S1"}, {"type": "summary_text", "text": "S2"}],
            "encrypted_content": "E",
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Answer", "annotations": []}],
        },
        {"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "f", "arguments": '{"k": [1, 2]}'},
        {"id": "ws_1", "type": "web_search_call", "status": "completed"},
    ],
    "usage": {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 10},
        "total_tokens": 80,
    },
}


def test_parse_response_golden() -> None:
    assert dialect.parse_response(_UPSTREAM_BODY) == ir.Response(
        id="resp_abc",
        model="gpt-up-2025",
        parts=[ir.ThinkingPart("S1\n\nS2", "E", FAMILY), ir.TextPart("Answer"), ir.ToolCallPart("call_1", "f", {"k": [1, 2]})],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=30, output_tokens=30, cache_read_tokens=20, reasoning_tokens=10),
    )
    incomplete = {
        **_UPSTREAM_BODY,
        "output": _UPSTREAM_BODY["output"][1:2],
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    assert dialect.parse_response(incomplete).stop_reason == "max_tokens"


_RESPONSE = {"id": "resp_up", "object": "response", "status": "in_progress", "model": "gpt-up", "output": []}
UPSTREAM_STREAM = named_sse(
    [
        {"type": "response.created", "sequence_number": 0, "response": _RESPONSE},
        {"type": "response.in_progress", "sequence_number": 1, "response": _RESPONSE},
        {"type": "response.output_item.added", "output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "summary": []}},
        {
            "type": "response.reasoning_summary_part.added",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "Think"},
        {"type": "response.reasoning_summary_text.delta", "item_id": "rs_1", "output_index": 0, "summary_index": 1, "delta": "More ✓"},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "ENC"},
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "part": {"type": "output_text", "text": ""},
        },
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "Hé"},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "llo"},
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 1, "content_index": 0, "text": "Héllo"},
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {"id": "msg_1", "type": "message", "content": [{"type": "output_text", "text": "Héllo"}]},
        },
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": ""},
        },
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": '{"a":'},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": "1}"},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1", "output_index": 2, "arguments": '{"a":1}'},
        {
            "type": "response.output_item.done",
            "output_index": 2,
            "item": {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": '{"a":1}'},
        },
        {
            "type": "response.output_item.added",
            "output_index": 3,
            "item": {"id": "fc_2", "type": "function_call", "call_id": "call_2", "name": "g", "arguments": ""},
        },
        {
            "type": "response.output_item.done",
            "output_index": 3,
            "item": {"id": "fc_2", "type": "function_call", "call_id": "call_2", "name": "g", "arguments": "{}"},
        },
        {
            "type": "response.completed",
            "response": {
                **_RESPONSE,
                "status": "completed",
                "usage": {
                    "input_tokens": 9,
                    "input_tokens_details": {"cached_tokens": 4},
                    "output_tokens": 7,
                    "output_tokens_details": {"reasoning_tokens": 3},
                    "total_tokens": 16,
                },
            },
        },
    ]
)
PARSED: list[ir.Event] = [
    ir.Start("resp_up", "gpt-up"),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, text="Think", family=FAMILY),
    ir.ThinkingDelta(0, text="\n\nMore ✓", family=FAMILY),
    ir.ThinkingDelta(0, signature="ENC", family=FAMILY),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "Hé"),
    ir.TextDelta(1, "llo"),
    ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", id="call_1", name="f"),
    ir.ToolArgsDelta(2, '{"a":'),
    ir.ToolArgsDelta(2, "1}"),
    ir.BlockStop(2),
    ir.BlockStart(3, "tool_call", id="call_2", name="g"),
    ir.ToolArgsDelta(3, "{}"),
    ir.BlockStop(3),
    ir.Finish("tool_use", ir.Usage(input_tokens=5, output_tokens=7, cache_read_tokens=4, reasoning_tokens=3)),
]


def _parse(*chunks: bytes) -> list[ir.Event]:
    return parse_stream(dialect.stream_parser(), *chunks)


def test_parser_golden() -> None:
    assert _parse(UPSTREAM_STREAM) == PARSED
    assert_well_formed(PARSED)


def test_parser_gives_the_same_events_at_every_split() -> None:
    whole = _parse(UPSTREAM_STREAM)
    for cut in range(1, len(UPSTREAM_STREAM)):
        assert _parse(UPSTREAM_STREAM[:cut], UPSTREAM_STREAM[cut:]) == whole, cut


def test_parser_one_byte_at_a_time() -> None:
    assert _parse(*[UPSTREAM_STREAM[i : i + 1] for i in range(len(UPSTREAM_STREAM))]) == PARSED


def test_parser_errors() -> None:
    failed = named_sse(
        [
            {"type": "response.created", "response": _RESPONSE},
            {"type": "response.failed", "response": {**_RESPONSE, "error": {"code": "rate_limit_exceeded", "message": "Too fast"}}},
        ]
    )
    assert _parse(failed)[-1] == ir.StreamError("rate_limit", "Too fast")
    assert _parse(named_sse([{"type": "error", "code": "server_error", "message": "boom"}])) == [ir.StreamError("api_error", "boom")]
    cut = _parse(UPSTREAM_STREAM[: UPSTREAM_STREAM.index(b"event: response.completed")])
    assert cut[-1] == ir.StreamError("api_error", "upstream stream ended before response.completed")
    incomplete = named_sse(
        [
            {"type": "response.created", "response": _RESPONSE},
            {"type": "response.incomplete", "response": {**_RESPONSE, "incomplete_details": {"reason": "max_output_tokens"}}},
        ]
    )
    finish = _parse(incomplete)[-1]
    assert isinstance(finish, ir.Finish) and finish.stop_reason == "max_tokens"


def test_error_message() -> None:
    assert dialect.error_message({"error": {"message": "No such model", "type": "invalid_request_error"}}) == "No such model"


# ---- round trips ------------------------------------------------------------------------


@st.composite
def _requests(draw: st.DrawFn) -> ir.Request:
    messages: list[ir.Message] = []
    calls: list[str] = []
    for turn in range(draw(st.integers(1, 4))):
        if calls:
            messages.append(
                ir.Message("user", [ir.ToolResultPart(c, draw(st.lists(st.builds(ir.TextPart, texts), max_size=1))) for c in calls])
            )
            calls = []
        else:
            messages.append(ir.Message("user", draw(st.lists(st.builds(ir.TextPart, texts), min_size=1, max_size=2))))
        parts: list[ir.Part] = []
        if draw(st.booleans()):
            parts.append(ir.ThinkingPart(draw(st.text(max_size=10)), draw(texts), FAMILY))
        if draw(st.booleans()):
            parts.append(ir.TextPart(draw(texts)))
        for n in range(draw(st.integers(0, 2))):
            calls.append(f"call_{turn}_{n}")
            parts.append(ir.ToolCallPart(calls[-1], draw(idents), draw(tool_args)))
        if parts:
            messages.append(ir.Message("assistant", parts))
    tools = draw(
        st.lists(
            st.builds(ir.Tool, idents, st.text(max_size=10), st.just({"type": "object", "properties": {"a": {"type": "string"}}})),
            max_size=2,
            unique_by=lambda t: t.name,
        )
    )
    choices = [None, ir.ToolChoice("none")] + (
        [ir.ToolChoice("auto"), ir.ToolChoice("any"), ir.ToolChoice("tool", tools[0].name)] if tools else []
    )
    schema = draw(st.none() | st.just({"type": "object", "properties": {"x": {"type": "integer"}}}))
    return ir.Request(
        model=draw(idents),
        messages=messages,
        system=draw(st.lists(st.builds(ir.TextPart, texts), max_size=1)),
        tools=tools,
        tool_choice=draw(st.sampled_from(choices)),
        parallel_tool_calls=draw(st.none() | st.booleans()) if tools else None,
        max_tokens=draw(st.none() | st.integers(1, 10**6)),
        temperature=draw(st.none() | st.floats(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1)),
        stream=draw(st.booleans()),
        stream_usage=True,
        reasoning=draw(st.none() | st.builds(ir.Reasoning, st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh"]))),
        response_schema=schema,
        json_mode=schema is not None or draw(st.booleans()),
        user=draw(st.none() | idents),
    )


@settings(max_examples=150, deadline=None)
@given(request=_requests())
def test_request_round_trip(request: ir.Request) -> None:
    body = orjson.loads(orjson.dumps(dialect.encode_request(request, request.model, EncodeOptions(reasoning_effort=True))))
    assert dialect.parse_request(body) == request


@st.composite
def _responses(draw: st.DrawFn) -> ir.Response:
    parts: list[ir.Part] = []
    if draw(st.booleans()):
        parts.append(ir.ThinkingPart(draw(texts), draw(st.none() | texts), FAMILY))
    if draw(st.booleans()):
        parts.append(ir.TextPart(draw(texts)))
    parts.extend(ir.ToolCallPart(f"call_{i}", draw(idents), draw(tool_args)) for i in range(draw(st.integers(0, 2))))
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    stop: ir.StopReason = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "refusal"]))
    usage = ir.Usage(*(draw(st.integers(0, 10**6)) for _ in range(5)))
    return ir.Response(id=f"resp_{draw(idents)}", model=draw(idents), parts=parts, stop_reason=stop, usage=usage)


@settings(max_examples=150, deadline=None)
@given(response=_responses())
def test_response_round_trip(response: ir.Response) -> None:
    body = dialect.render_response(response)
    Response.model_validate(body)
    assert dialect.parse_response(orjson.loads(orjson.dumps(body))) == response


@settings(max_examples=100, deadline=None)
@given(response=_responses())
def test_stream_round_trip_through_renderer_and_parser(response: ir.Response) -> None:
    raw = _render(events_for(response))
    parsed = _parse(raw)
    assert_well_formed(parsed)
    start = ir.Start(f"resp_{response.id.removeprefix('resp_')}", "client-model")
    assert parsed[0] == start
    assert collect(parsed) == ir.Snapshot(dataclasses.replace(response, id=start.id, model=start.model))
