"""The OpenAI Chat Completions dialect, both directions, checked against the official `openai` SDK."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.parsed_chat_completion import ParsedChatCompletion

from babelgate import ir
from babelgate.dialects import anthropic
from babelgate.dialects import openai_chat as dialect
from babelgate.dialects.base import EncodeOptions
from babelgate.errors import BadRequest, GatewayError, Kind
from tests.dialects.helpers import (
    assert_well_formed,
    collect,
    events_for,
    idents,
    openai_client,
    parse_stream,
    render_stream,
    texts,
    tool_args,
)

FAMILY = "openai"
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
ECHO = EncodeOptions(max_tokens_field="max_completion_tokens", reasoning_effort=True, echo_reasoning=True)


def _sdk_final(body: bytes) -> tuple[list[str], ParsedChatCompletion[None]]:
    """The SDK's own stream helper run over our bytes: the event types it saw and its accumulated completion."""
    client = openai_client(body)
    with client.chat.completions.stream(model="client-model", messages=[{"role": "user", "content": "hi"}]) as stream:
        types = [event.type for event in stream]
        return types, stream.get_final_completion()


# ---- client side: parsing ----------------------------------------------------------------


def test_parse_golden() -> None:
    body = {
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Also this."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/cat.jpg"}},
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
                ],
            },
            {
                "role": "assistant",
                "reasoning_content": "Plan",
                "content": "Calling.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "one"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "two"}]},
            {"role": "user", "content": "next"},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Partly."}, {"type": "refusal", "refusal": "Not that."}],
                "reasoning": "Via the reasoning field",
                "tool_calls": [{"id": "call_3", "type": "function", "function": {"name": "f", "arguments": "not json"}}],
            },
            {"role": "tool", "tool_call_id": "call_3", "content": ""},
            {"role": "developer", "content": "Late note."},
            {"role": "system", "content": ""},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "F.", "parameters": SCHEMA, "strict": True}},
            {"function": {"name": "g"}},
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "max_completion_tokens": 500,
        "max_tokens": 100,
        "temperature": 0.5,
        "top_p": 1,
        "stop": "END",
        "stream": True,
        "stream_options": {"include_usage": True},
        "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True}},
        "user": "u-1",
        "n": 1,
        "seed": 7,
        "logprobs": False,
        "store": False,
        "metadata": {"k": "v"},
    }
    assert dialect.parse_request(body) == ir.Request(
        model="gpt-x",
        system=[ir.TextPart("Be brief."), ir.TextPart("Also this.")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("Look"),
                    ir.MediaPart("image/png", data="AAAA"),
                    ir.MediaPart("image/jpeg", url="https://x.test/cat.jpg"),
                    ir.MediaPart("application/pdf", data="JVBE", kind="document"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("Plan", family=FAMILY),
                    ir.TextPart("Calling."),
                    ir.ToolCallPart("call_1", "f", {"a": 1}),
                    ir.ToolCallPart("call_2", "g", {}),
                ],
            ),
            ir.Message("user", [ir.ToolResultPart("call_1", [ir.TextPart("one")]), ir.ToolResultPart("call_2", [ir.TextPart("two")])]),
            ir.Message("user", [ir.TextPart("next")]),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("Via the reasoning field", family=FAMILY),
                    ir.TextPart("Partly."),
                    ir.TextPart("Not that."),
                    ir.ToolCallPart("call_3", "f", {"_raw_arguments": "not json"}),
                ],
            ),
            ir.Message("user", [ir.ToolResultPart("call_3", [])]),
            ir.Message("system", [ir.TextPart("Late note.")]),
        ],
        tools=[ir.Tool("f", "F.", SCHEMA), ir.Tool("g", "", {"type": "object", "properties": {}})],
        tool_choice=ir.ToolChoice("any"),
        parallel_tool_calls=False,
        max_tokens=500,
        temperature=0.5,
        top_p=1.0,
        stop=["END"],
        stream=True,
        stream_usage=True,
        reasoning=ir.Reasoning(effort="high"),
        response_schema={"type": "object"},
        json_mode=True,
        user="u-1",
    )


def test_minimal_request_and_overrides() -> None:
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64, "stop": ["a", "b"]}
    request = dialect.parse_request(body, model="routed", stream=True)
    assert request == ir.Request(
        model="routed", messages=[ir.Message("user", [ir.TextPart("hi")])], max_tokens=64, stop=["a", "b"], stream=True
    )
    assert dialect.parse_request({**body, "stream": True}).stream_usage is False  # no stream_options: the client asked for no usage


def test_legacy_function_role_and_empty_system_messages() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": ""},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": []},
            {"role": "function", "name": "lookup", "content": "result"},
            {"role": "system", "content": [{"type": "text", "text": "Kept."}]},
            {"role": "system", "content": None},
        ],
    }
    request = dialect.parse_request(body)
    assert request.system == []
    assert request.messages == [
        ir.Message("user", [ir.TextPart("hi")]),
        ir.Message("user", [ir.ToolResultPart("lookup", [ir.TextPart("result")])]),
        ir.Message("system", [ir.TextPart("Kept.")]),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("auto", ir.ToolChoice("auto")),
        ("none", ir.ToolChoice("none")),
        ("required", ir.ToolChoice("any")),
        ({"type": "function", "function": {"name": "f"}}, ir.ToolChoice("tool", "f")),
    ],
)
def test_tool_choice_table(value: Any, expected: ir.ToolChoice | None) -> None:
    assert dialect.parse_request({"model": "m", "messages": [], "tool_choice": value}).tool_choice == expected


@pytest.mark.parametrize(
    ("value", "schema", "json_mode"),
    [
        ({"type": "text"}, None, False),
        ({"type": "json_object"}, None, True),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}, {"type": "array"}, True),
        ({"type": "json_schema", "json_schema": {"name": "x"}}, {"type": "object"}, True),
    ],
)
def test_response_format_table(value: dict[str, Any], schema: dict[str, Any] | None, json_mode: bool) -> None:
    request = dialect.parse_request({"model": "m", "messages": [], "response_format": value})
    assert (request.response_schema, request.json_mode) == (schema, json_mode)


@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high", "xhigh"])
def test_reasoning_effort_is_read(effort: str) -> None:
    assert dialect.parse_request({"model": "m", "messages": [], "reasoning_effort": effort}).reasoning == ir.Reasoning(effort=effort)  # type: ignore[arg-type]


_M = "messages.0"
_BAD: list[tuple[dict[str, Any], str]] = [
    ({"model": "m"}, "messages"),
    ({"messages": []}, "model"),
    ({"model": "m", "messages": {}}, "messages"),
    ({"model": "m", "messages": [5]}, _M),
    ({"model": "m", "messages": [{"content": "x"}]}, f"{_M}.role"),
    ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, f"{_M}.role"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, f"{_M}.content"),
    ({"model": "m", "messages": [{"role": "system", "content": {"text": "x"}}]}, f"{_M}.content"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]}, f"{_M}.content.0.type"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}, f"{_M}.content.0.type"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]}, f"{_M}.content.0.text"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, f"{_M}.content.0.image_url.url"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "file"}]}]}, f"{_M}.content.0.file"),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
        f"{_M}.content.0.file.file_data",
    ),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "refusal"}]}]}, f"{_M}.content.0.refusal"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": {}}]}, f"{_M}.tool_calls"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}, f"{_M}.tool_calls.0.function"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]}, f"{_M}.tool_calls.0.id"),
    ({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}]}, f"{_M}.tool_calls.0.function.name"),
    (
        {"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]}]},
        f"{_M}.tool_calls.0.function.arguments",
    ),
    ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, f"{_M}.tool_call_id"),
    ({"model": "m", "messages": [{"role": "function", "content": "x"}]}, f"{_M}.name"),
    ({"model": "m", "messages": [], "n": 2}, "n"),
    ({"model": "m", "messages": [], "n": "1"}, "n"),
    ({"model": "m", "messages": [], "tools": {}}, "tools"),
    ({"model": "m", "messages": [], "tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools.0.type"),
    ({"model": "m", "messages": [], "tools": [{"type": "function"}]}, "tools.0.function"),
    ({"model": "m", "messages": [], "tools": [{"type": "function", "function": {}}]}, "tools.0.function.name"),
    (
        {"model": "m", "messages": [], "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
        "tools.0.function.parameters",
    ),
    (
        {"model": "m", "messages": [], "tools": [{"type": "function", "function": {"name": "f", "description": 1}}]},
        "tools.0.function.description",
    ),
    ({"model": "m", "messages": [], "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "messages": [], "tool_choice": 5}, "tool_choice"),
    ({"model": "m", "messages": [], "tool_choice": {"type": "function"}}, "tool_choice.function"),
    ({"model": "m", "messages": [], "tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
    ({"model": "m", "messages": [], "response_format": "json"}, "response_format"),
    ({"model": "m", "messages": [], "response_format": {"type": "yaml"}}, "response_format.type"),
    ({"model": "m", "messages": [], "response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    (
        {"model": "m", "messages": [], "response_format": {"type": "json_schema", "json_schema": {"schema": 1}}},
        "response_format.json_schema.schema",
    ),
    ({"model": "m", "messages": [], "stop": 5}, "stop"),
    ({"model": "m", "messages": [], "reasoning_effort": "max"}, "reasoning_effort"),
    ({"model": "m", "messages": [], "reasoning_effort": 1}, "reasoning_effort"),
    ({"model": "m", "messages": [], "temperature": "hot"}, "temperature"),
    ({"model": "m", "messages": [], "top_p": []}, "top_p"),
    ({"model": "m", "messages": [], "max_tokens": 1.5}, "max_tokens"),
    ({"model": "m", "messages": [], "max_completion_tokens": "10"}, "max_completion_tokens"),
    ({"model": "m", "messages": [], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
    ({"model": "m", "messages": [], "stream": 1}, "stream"),
    ({"model": "m", "messages": [], "stream_options": True}, "stream_options"),
    ({"model": "m", "messages": [], "user": 5}, "user"),
]


@pytest.mark.parametrize(("body", "path"), _BAD, ids=[f"{i}-{p}" for i, (_, p) in enumerate(_BAD)])
def test_bad_requests_name_the_field(body: dict[str, Any], path: str) -> None:
    with pytest.raises(BadRequest) as caught:
        dialect.parse_request(body)
    assert caught.value.path == path
    assert caught.value.message.startswith(f"{path}: ")
    assert dialect.render_error(caught.value)["error"]["param"] == path


def test_render_error_is_openai_shaped() -> None:
    assert dialect.render_error(BadRequest("messages.0.role", "bad")) == {
        "error": {"message": "messages.0.role: bad", "type": "invalid_request_error", "param": "messages.0.role", "code": "invalid_request"}
    }
    types = {
        Kind.AUTHENTICATION: "authentication_error",
        Kind.PERMISSION: "permission_error",
        Kind.NOT_FOUND: "not_found_error",
        Kind.TOO_LARGE: "invalid_request_error",
        Kind.RATE_LIMIT: "rate_limit_error",
        Kind.OVERLOADED: "server_error",
        Kind.UPSTREAM: "server_error",
        Kind.TIMEOUT: "timeout",
    }
    for kind, wire in types.items():
        assert dialect.render_error(GatewayError(500, kind, "m")) == {"error": {"message": "m", "type": wire, "param": None, "code": None}}
    cooling = GatewayError(429, Kind.RATE_LIMIT, "wait", code="model_cooldown", details={"model": "x", "reset_seconds": 7})
    assert dialect.render_error(cooling) == {
        "error": {"message": "wait", "type": "rate_limit_error", "param": None, "code": "model_cooldown", "model": "x", "reset_seconds": 7}
    }
    assert dialect.render_error(BadRequest("", "body is not JSON"))["error"]["param"] is None


# ---- client side: rendering --------------------------------------------------------------


def _response(stop: ir.StopReason = "tool_use") -> ir.Response:
    return ir.Response(
        id="msg_01",
        model="claude-x",
        parts=[
            ir.ThinkingPart("Hmm. ", "anthropic-sig", "anthropic"),
            ir.ThinkingPart("", "gemini-sig", "gemini"),
            ir.TextPart("Hello "),
            ir.ThinkingPart("More.", None, FAMILY),
            ir.TextPart("there."),
            ir.ToolCallPart("toolu_9", "lookup", {"q": "x"}, "gemini-call-sig"),
            ir.ToolCallPart("toolu_10", "noargs", {}),
        ],
        stop_reason=stop,
        usage=ir.Usage(input_tokens=10, output_tokens=20, cache_read_tokens=5, cache_write_tokens=1, reasoning_tokens=7),
    )


def test_render_response_golden_and_sdk_valid() -> None:
    body = dialect.render_response(_response())
    assert isinstance(body.pop("created"), int)
    assert body == {
        "id": "msg_01",
        "object": "chat.completion",
        "model": "claude-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello there.",
                    "reasoning_content": "Hmm. More.",
                    "tool_calls": [
                        {"id": "toolu_9", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"x"}'}},
                        {"id": "toolu_10", "type": "function", "function": {"name": "noargs", "arguments": "{}"}},
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 16,
            "completion_tokens": 20,
            "total_tokens": 36,
            "prompt_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 1},
            "completion_tokens_details": {"reasoning_tokens": 7},
        },
    }
    parsed = ChatCompletion.model_validate({**body, "created": 0})
    assert parsed.choices[0].message.content == "Hello there."
    assert parsed.usage is not None and parsed.usage.prompt_tokens_details is not None
    assert parsed.usage.prompt_tokens_details.cached_tokens == 5
    bare = dialect.render_response(ir.Response(id="r", model="m", parts=[], stop_reason="end_turn"))
    assert bare["choices"][0]["message"] == {"role": "assistant", "content": None}


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reason_to_finish_reason(stop: ir.StopReason, finish: str) -> None:
    assert dialect.render_response(_response(stop))["choices"][0]["finish_reason"] == finish
    raw = _render([ir.Start("x", "m"), ir.Finish(stop, ir.Usage())], include_usage=False)
    assert _chunks(raw)[-1]["choices"][0]["finish_reason"] == finish


_EVENTS: list[ir.Event] = [
    ir.Start("up_1", "upstream-model"),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, "Let me ", family="anthropic"),
    ir.ThinkingDelta(0, "think.", family="anthropic"),
    ir.ThinkingDelta(0, signature="anthropic-sig", family="anthropic"),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "Hé"),
    ir.TextDelta(1, "llo 👋"),
    ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", id="call_a", name="f"),
    ir.ToolArgsDelta(2, '{"a": '),
    ir.ToolArgsDelta(2, "1}"),
    ir.BlockStop(2),
    ir.BlockStart(3, "tool_call", id="call_b", name="g"),
    ir.ToolArgsDelta(3, "{}"),
    ir.BlockStop(3),
    ir.Finish("tool_use", ir.Usage(input_tokens=3, output_tokens=9, cache_read_tokens=2, cache_write_tokens=1, reasoning_tokens=4)),
]


def _render(events: list[ir.Event], include_usage: bool = True) -> bytes:
    request = ir.Request(model="client-model", messages=[], stream=True, stream_usage=include_usage)
    return render_stream(dialect.stream_renderer(request), events)


def _chunks(raw: bytes) -> list[dict[str, Any]]:
    blocks = [b for b in raw.decode().split("\n\n") if b]
    assert blocks[-1] == "data: [DONE]" and all(b.startswith("data: ") and "\n" not in b for b in blocks)
    return [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]


def test_renderer_chunks_golden() -> None:
    chunks = _chunks(_render(_EVENTS))
    assert len({(c["id"], c["created"], c["model"], c["object"]) for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-") and chunks[0]["model"] == "client-model"
    assert [c["choices"][0]["delta"] if c["choices"] else None for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Let me "},
        {"reasoning_content": "think."},
        {"content": "Hé"},
        {"content": "llo 👋"},
        {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
        {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
        {},
        None,
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * 10 + ["tool_calls"]
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 6,
        "completion_tokens": 9,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    without = _chunks(_render(_EVENTS, include_usage=False))
    assert len(without) == len(chunks) - 1 and all("usage" not in c for c in without)


def test_sdk_stream_helper_accepts_the_renderer_output() -> None:
    types, final = _sdk_final(_render(_EVENTS))
    assert "content.delta" in types and "tool_calls.function.arguments.done" in types
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Héllo 👋"
    assert (choice.message.model_extra or {}).get("reasoning_content") == "Let me think."
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [("call_a", "f", {"a": 1}), ("call_b", "g", {})]
    assert final.model == "client-model"
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (6, 9, 15)
    assert final.usage.completion_tokens_details is not None and final.usage.completion_tokens_details.reasoning_tokens == 4


def test_renderer_error_reaches_the_sdk() -> None:
    events: list[ir.Event] = [
        ir.Start("x", "m"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "par"),
        ir.StreamError(Kind.RATE_LIMIT.value, "slow down"),
    ]
    raw = _render(events)
    assert _chunks(raw)[-1] == {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit"}}
    with pytest.raises(openai.APIError) as caught:
        _sdk_final(raw)
    assert caught.value.message == "slow down"


def test_renderer_ignores_signatures_and_other_blocks() -> None:
    events: list[ir.Event] = [
        ir.Start("x", "m"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, signature="only-a-signature", family="gemini"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.BlockStop(1),
        ir.Finish("end_turn", ir.Usage()),
    ]
    raw = _render(events, include_usage=False)
    assert b"only-a-signature" not in raw
    assert [c["choices"][0]["delta"] for c in _chunks(raw)] == [{"role": "assistant", "content": ""}, {}]


# ---- upstream side -----------------------------------------------------------------------


def _request(**changes: Any) -> ir.Request:
    request = ir.Request(
        model="client-model",
        system=[ir.TextPart("Sys A"), ir.TextPart("Sys B")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("Hi"),
                    ir.MediaPart("image/png", data="AAAA"),
                    ir.MediaPart("image/jpeg", url="https://x.test/y.jpg"),
                    ir.MediaPart("application/pdf", data="JVBE", kind="document"),
                    ir.MediaPart("text/plain", data="notes", kind="document"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("Plan. ", "anthropic-sig", "anthropic"),
                    ir.ThinkingPart("More.", None, FAMILY),
                    ir.TextPart("Sure. "),
                    ir.TextPart("Calling."),
                    ir.ToolCallPart("c1", "f", {"a": 1}, "gemini-sig"),
                    ir.ToolCallPart("c2", "f", {}),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart("c1", [ir.TextPart("boom")], is_error=True),
                    ir.ToolResultPart("c2", [ir.TextPart("ok"), ir.MediaPart("image/png", data="BBBB")]),
                    ir.TextPart("and?"),
                ],
            ),
            ir.Message("system", [ir.TextPart("Late.")]),
            ir.Message("user", [ir.TextPart("a"), ir.TextPart("b")]),
        ],
        tools=[ir.Tool("f", "F.", SCHEMA)],
        tool_choice=ir.ToolChoice("any"),
        parallel_tool_calls=False,
        max_tokens=100,
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        stop=["a", "b", "c", "d", "e"],
        stream=True,
        reasoning=ir.Reasoning(effort="max"),
        response_schema={"type": "object"},
        json_mode=True,
        user="u-1",
    )
    return dataclasses.replace(request, **changes)


def test_encode_request_golden() -> None:
    assert dialect.encode_request(_request(), "gpt-up", ECHO) == {
        "model": "gpt-up",
        "messages": [
            {"role": "system", "content": "Sys A\n\nSys B"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x.test/y.jpg"}},
                    {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
                    {"type": "text", "text": "notes"},
                ],
            },
            {
                "role": "assistant",
                "content": "Sure. Calling.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
                    {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                ],
                "reasoning_content": "More.",  # only this family's reasoning: another model's is not this one's to continue
            },
            # Tool results first, straight after the calls; the rest of the user turn (and result images) after them.
            {"role": "tool", "tool_call_id": "c1", "content": "[tool error] boom"},
            {"role": "tool", "tool_call_id": "c2", "content": "ok"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "and?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,BBBB"}}],
            },
            {"role": "system", "content": "Late."},
            {"role": "user", "content": "a\n\nb"},
        ],
        "max_completion_tokens": 100,
        "tools": [{"type": "function", "function": {"name": "f", "description": "F.", "parameters": SCHEMA}}],
        "parallel_tool_calls": False,
        "tool_choice": "required",
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["a", "b", "c", "d"],
        "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_encode_request_default_options() -> None:
    body = dialect.encode_request(_request(stream=False, response_schema=None), "gpt-up", EncodeOptions())
    assert body["max_tokens"] == 100 and "max_completion_tokens" not in body
    assert "reasoning_effort" not in body  # only for providers that take it
    assert "reasoning_content" not in body["messages"][2]  # reasoning is echoed only where the provider wants it back
    assert body["response_format"] == {"type": "json_object"}
    assert "stream" not in body and "stream_options" not in body
    minimal = dialect.encode_request(ir.Request(model="m", messages=[ir.Message("user", [ir.TextPart("hi")])]), "x", EncodeOptions())
    assert minimal == {"model": "x", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("choice", "tools", "expected"),
    [
        (ir.ToolChoice("auto"), True, "auto"),
        (ir.ToolChoice("any"), True, "required"),
        (ir.ToolChoice("none"), True, "none"),
        (ir.ToolChoice("none"), False, "none"),
        (ir.ToolChoice("tool", "f"), True, {"type": "function", "function": {"name": "f"}}),
        (ir.ToolChoice("auto"), False, None),
        (ir.ToolChoice("any"), False, None),
        (None, True, None),
    ],
    ids=str,
)
def test_encode_tool_choice_table(choice: ir.ToolChoice | None, tools: bool, expected: Any) -> None:
    request = _request(tool_choice=choice, tools=_request().tools if tools else [])
    body = dialect.encode_request(request, "m", EncodeOptions())
    assert body.get("tool_choice") == expected
    assert body.get("parallel_tool_calls") == (False if tools else None)  # only said alongside tools


@pytest.mark.parametrize(
    ("reasoning", "effort"),
    [
        (None, None),
        (ir.Reasoning(), None),
        (ir.Reasoning(effort="none"), "none"),
        (ir.Reasoning(effort="minimal"), "minimal"),
        (ir.Reasoning(effort="low"), "low"),
        (ir.Reasoning(effort="medium"), "medium"),
        (ir.Reasoning(effort="high"), "high"),
        (ir.Reasoning(effort="xhigh"), "high"),
        (ir.Reasoning(effort="max"), "high"),
        (ir.Reasoning(effort="low", budget=30000), "low"),  # a named effort wins over a budget
        (ir.Reasoning(budget=1024), "low"),  # an Anthropic-style token budget maps to the nearest effort
        (ir.Reasoning(budget=2048), "low"),
        (ir.Reasoning(budget=2049), "medium"),
        (ir.Reasoning(budget=8192), "medium"),
        (ir.Reasoning(budget=31999), "high"),
    ],
    ids=str,
)
def test_encode_reasoning_effort_table(reasoning: ir.Reasoning | None, effort: str | None) -> None:
    body = dialect.encode_request(_request(reasoning=reasoning), "m", ECHO)
    assert body.get("reasoning_effort") == effort


def test_claude_code_thinking_budget_reaches_an_openai_upstream() -> None:
    claude = {
        "model": "m",
        "max_tokens": 40000,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "messages": [{"role": "user", "content": "hi"}],
    }
    body = dialect.encode_request(anthropic.parse_request(claude), "gpt-up", ECHO)
    assert body["reasoning_effort"] == "high"


def test_passthrough_edits_only_what_routing_changed() -> None:
    raw = {
        "model": "gpt-client",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 9000,
        "reasoning_effort": "xhigh",
        "logit_bias": {"50256": -100},
        "unknown_future_field": [1],
    }
    request = dialect.parse_request(raw)
    assert dialect.passthrough(raw, request, "gpt-real") == {**raw, "model": "gpt-real"}  # the client's own xhigh stays
    assert raw["model"] == "gpt-client"
    clamped = dialect.passthrough(raw, dataclasses.replace(request, max_tokens=4096), "gpt-real")
    assert clamped["max_completion_tokens"] == 4096 and "max_tokens" not in clamped
    legacy = {"model": "m", "messages": [], "max_tokens": 9000}
    assert dialect.passthrough(legacy, dataclasses.replace(dialect.parse_request(legacy), max_tokens=10), "x")["max_tokens"] == 10
    unset = {"model": "m", "messages": []}
    filled = dialect.passthrough(unset, dataclasses.replace(dialect.parse_request(unset), max_tokens=10), "x")
    assert filled == {**unset, "model": "x", "max_tokens": 10}  # the provider's max_tokens fills in what the client left out


@pytest.mark.parametrize("client_effort", [None, "xhigh"])
@pytest.mark.parametrize(
    ("variant", "effort"),
    [
        (ir.Reasoning(effort="low"), "low"),
        (ir.Reasoning(effort="none"), "none"),
        (ir.Reasoning(effort="max"), "high"),
        (ir.Reasoning(budget=8192), "medium"),
        (ir.Reasoning(effort="none", budget=None), "none"),
    ],
    ids=str,
)
def test_passthrough_applies_a_reasoning_variant(variant: ir.Reasoning, effort: str, client_effort: str | None) -> None:
    raw: dict[str, Any] = {"model": "gpt-client", "messages": [{"role": "user", "content": "hi"}]}
    if client_effort:
        raw["reasoning_effort"] = client_effort
    request = dataclasses.replace(dialect.parse_request(raw), reasoning=variant)
    assert dialect.passthrough(raw, request, "gpt-real") == {**raw, "model": "gpt-real", "reasoning_effort": effort}


_UPSTREAM_BODY: dict[str, Any] = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-up-2025",
    "system_fingerprint": "fp_1",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Answer",
                "reasoning_content": "Why",
                "refusal": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"k": [1, 2]}'}},
                    {"type": "function", "function": {"name": "g", "arguments": ""}},
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 50,
        "completion_tokens": 30,
        "total_tokens": 80,
        "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 10},
    },
}


def test_parse_response_golden() -> None:
    response = dialect.parse_response(_UPSTREAM_BODY)
    generated = response.parts[3]
    assert isinstance(generated, ir.ToolCallPart) and generated.id.startswith("call_")
    assert response == ir.Response(
        id="chatcmpl-abc",
        model="gpt-up-2025",
        parts=[
            ir.ThinkingPart("Why", family=FAMILY),
            ir.TextPart("Answer"),
            ir.ToolCallPart("call_1", "f", {"k": [1, 2]}),
            ir.ToolCallPart(generated.id, "g", {}),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=25, output_tokens=30, cache_read_tokens=20, cache_write_tokens=5, reasoning_tokens=10),
    )
    ollama = {"choices": [{"message": {"role": "assistant", "content": "", "reasoning": "Thinking..."}, "finish_reason": "stop"}]}
    assert dialect.parse_response(ollama).parts == [ir.ThinkingPart("Thinking...", family=FAMILY)]
    empty = dialect.parse_response({})
    assert empty.id.startswith("chatcmpl-") and (empty.parts, empty.stop_reason, empty.usage) == ([], "end_turn", ir.Usage())


@pytest.mark.parametrize(
    ("finish", "calls", "stop"),
    [
        ("stop", False, "end_turn"),
        ("length", False, "max_tokens"),
        ("tool_calls", False, "tool_use"),
        ("function_call", False, "tool_use"),
        ("content_filter", False, "refusal"),
        (None, False, "end_turn"),
        ("eos", False, "end_turn"),
        ("insufficient_system_resource", False, "end_turn"),
        ("tool_calls", True, "tool_use"),
        ("stop", True, "tool_use"),  # llama.cpp and Ollama say "stop" after tool calls
        (None, True, "tool_use"),
        ("length", True, "max_tokens"),
        ("content_filter", True, "refusal"),
    ],
)
def test_finish_reason_table(finish: str | None, calls: bool, stop: ir.StopReason) -> None:
    message: dict[str, Any] = {"role": "assistant", "content": "x"}
    if calls:
        message["tool_calls"] = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    assert dialect.parse_response({"choices": [{"message": message, "finish_reason": finish}]}).stop_reason == stop
    chunks = [_chunk({"tool_calls": [{"index": 0, **message["tool_calls"][0]}]} if calls else {"content": "x"}), _chunk({}, finish)]
    assert _parse(_sse(chunks))[-1] == ir.Finish(stop, ir.Usage())


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, ir.Usage()),
        ({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}, ir.Usage(100, 20)),
        ({"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 30}}, ir.Usage(70, 20, 30)),
        (
            {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 10}},
            ir.Usage(60, 20, 30, 10),
        ),
        (
            {"prompt_tokens": 100, "completion_tokens": 20, "completion_tokens_details": {"reasoning_tokens": 15}},
            ir.Usage(100, 20, reasoning_tokens=15),
        ),
        ({"prompt_tokens": 5, "prompt_tokens_details": None, "completion_tokens_details": None}, ir.Usage(5)),
        ({"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 9}}, ir.Usage(0, 0, 9)),  # a server that overcounts
    ],
)
def test_usage_in_table(usage: dict[str, Any] | None, expected: ir.Usage) -> None:
    assert dialect.parse_response({"choices": [{"message": {"content": "x"}}], "usage": usage}).usage == expected


def test_usage_between_openai_and_anthropic() -> None:
    """OpenAI's prompt_tokens includes cached tokens; Anthropic's input_tokens excludes them (reads and writes)."""
    upstream = dialect.parse_response(_UPSTREAM_BODY)
    assert anthropic.render_response(upstream)["usage"] == {
        "input_tokens": 25,
        "output_tokens": 30,
        "cache_read_input_tokens": 20,
        "cache_creation_input_tokens": 5,
    }
    claude = anthropic.parse_response(
        {
            "content": [{"type": "text", "text": "x"}],
            "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200},
        }
    )
    usage = dialect.render_response(claude)["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (1210, 4, 1214)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 1000, "cache_write_tokens": 200}


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("a_reason_from_the_future", "stop"),
    ],
)
def test_anthropic_stop_reasons_become_finish_reasons(stop_reason: str, finish: str) -> None:
    upstream = anthropic.parse_response({"content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason})
    assert dialect.render_response(upstream)["choices"][0]["finish_reason"] == finish


@pytest.mark.parametrize(
    ("finish", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("function_call", "tool_use"),
    ],
)
def test_finish_reasons_become_anthropic_stop_reasons(finish: str, stop_reason: str) -> None:
    upstream = dialect.parse_response({"choices": [{"message": {"content": "x"}, "finish_reason": finish}]})
    assert anthropic.render_response(upstream)["stop_reason"] == stop_reason


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "gpt-up", "choices": [choice], **extra}


def _usage_chunk(usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "gpt-up", "choices": [], "usage": usage}


def _sse(chunks: list[dict[str, Any]], done: bool = True) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + (b"data: [DONE]\n\n" if done else b"")


def _call(index: int, *, id: str | None = None, name: str | None = None, arguments: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index}
    if id is not None:
        call.update(id=id, type="function")
    function = {k: v for k, v in (("name", name), ("arguments", arguments)) if v is not None}
    if function:
        call["function"] = function
    return {"tool_calls": [call]}


UPSTREAM_CHUNKS: list[dict[str, Any]] = [
    _chunk({"role": "assistant", "content": "", "refusal": None}, usage=None),
    _chunk({"reasoning_content": "Plan"}),
    _chunk({"reasoning_content": " ✓"}),
    _chunk({"content": "Héllo"}),
    _chunk({"content": " 👋"}),
    _chunk(_call(0, id="call_a", name="get_weather", arguments="")),
    _chunk(_call(0, arguments='{"loc')),
    _chunk(_call(0, arguments='ation": "Pa')),
    _chunk(_call(0, arguments='ris\\u00e9"}')),
    _chunk(_call(1, id="call_b", name="get_time", arguments="")),
    _chunk(_call(1, arguments="{}")),
    _chunk({}, "tool_calls"),
    _usage_chunk(
        {
            "prompt_tokens": 120,
            "completion_tokens": 40,
            "total_tokens": 160,
            "prompt_tokens_details": {"cached_tokens": 100},
            "completion_tokens_details": {"reasoning_tokens": 12},
        }
    ),
]
UPSTREAM_STREAM = b": OPENROUTER PROCESSING\n\n" + _sse(UPSTREAM_CHUNKS)
PARSED: list[ir.Event] = [
    ir.Start("chatcmpl-up", "gpt-up"),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, "Plan", family=FAMILY),
    ir.ThinkingDelta(0, " ✓", family=FAMILY),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "Héllo"),
    ir.TextDelta(1, " 👋"),
    ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", id="call_a", name="get_weather"),
    ir.ToolArgsDelta(2, '{"loc'),
    ir.ToolArgsDelta(2, 'ation": "Pa'),
    ir.ToolArgsDelta(2, 'ris\\u00e9"}'),
    ir.BlockStop(2),
    ir.BlockStart(3, "tool_call", id="call_b", name="get_time"),
    ir.ToolArgsDelta(3, "{}"),
    ir.BlockStop(3),
    ir.Finish("tool_use", ir.Usage(input_tokens=20, output_tokens=40, cache_read_tokens=100, reasoning_tokens=12)),
]


def _parse(*chunks: bytes) -> list[ir.Event]:
    return parse_stream(dialect.stream_parser(), *chunks)


def test_parser_golden() -> None:
    assert _parse(UPSTREAM_STREAM) == PARSED
    assert_well_formed(PARSED)
    assert collect(PARSED).response.parts[2] == ir.ToolCallPart("call_a", "get_weather", {"location": "Parisé"})


def test_parser_gives_the_same_events_at_every_split() -> None:
    for cut in range(1, len(UPSTREAM_STREAM)):
        assert _parse(UPSTREAM_STREAM[:cut], UPSTREAM_STREAM[cut:]) == PARSED, cut


def test_parser_one_byte_at_a_time() -> None:
    assert _parse(*[UPSTREAM_STREAM[i : i + 1] for i in range(len(UPSTREAM_STREAM))]) == PARSED


def test_parser_crlf() -> None:
    assert _parse(UPSTREAM_STREAM.replace(b"\n", b"\r\n")) == PARSED


def test_parser_agrees_with_parse_response() -> None:
    merged = {
        "id": "chatcmpl-up",
        "model": "gpt-up",
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "reasoning_content": "Plan ✓",
                    "content": "Héllo 👋",
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"location": "Paris\\u00e9"}'},
                        },
                        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": UPSTREAM_CHUNKS[-1]["usage"],
    }
    assert collect(_parse(UPSTREAM_STREAM)) == ir.Snapshot(dialect.parse_response(merged))


def test_tool_call_id_after_the_name() -> None:
    stream = _sse(
        [
            _chunk({"role": "assistant"}),
            _chunk(_call(0, name="f", arguments="")),
            _chunk(_call(0, arguments='{"a"')),
            _chunk(_call(0, id="call_late", arguments=":1")),
            _chunk(_call(0, arguments="}")),
            _chunk({}, "tool_calls"),
        ]
    )
    assert _parse(stream) == [
        ir.Start("chatcmpl-up", "gpt-up"),
        ir.BlockStart(0, "tool_call", id="call_late", name="f"),
        ir.ToolArgsDelta(0, '{"a":1'),  # what waited for the id, flushed at once
        ir.ToolArgsDelta(0, "}"),
        ir.BlockStop(0),
        ir.Finish("tool_use", ir.Usage()),
    ]


def test_tool_call_id_that_never_arrives() -> None:
    alone = _parse(_sse([_chunk(_call(0, name="f", arguments='{"a":')), _chunk(_call(0, arguments="1}")), _chunk({}, "tool_calls")]))
    assert_well_formed(alone)
    opened = alone[1]
    assert isinstance(opened, ir.BlockStart) and opened.name == "f" and opened.id.startswith("call_") and len(opened.id) > 8
    assert alone[2:] == [ir.ToolArgsDelta(0, '{"a":1}'), ir.BlockStop(0), ir.Finish("tool_use", ir.Usage())]
    # Something else arriving ends the wait: the next call, or text.
    then_call = _parse(
        _sse(
            [_chunk(_call(0, name="f", arguments="{}")), _chunk(_call(1, id="call_b", name="g", arguments="{}")), _chunk({}, "tool_calls")]
        )
    )
    assert_well_formed(then_call)
    starts = [e for e in then_call if isinstance(e, ir.BlockStart)]
    assert [(s.index, s.name) for s in starts] == [(0, "f"), (1, "g")] and starts[0].id.startswith("call_") and starts[1].id == "call_b"
    then_text = _parse(_sse([_chunk(_call(0, name="f", arguments="{}")), _chunk({"content": "done"}), _chunk({}, "stop")]))
    assert_well_formed(then_text)
    assert [(e.index, e.kind) for e in then_text if isinstance(e, ir.BlockStart)] == [(0, "tool_call"), (1, "text")]
    assert then_text[-1] == ir.Finish("tool_use", ir.Usage())
    cut = _parse(_sse([_chunk(_call(0, name="f", arguments="{}")), _chunk({}, "tool_calls")], done=False))
    assert [type(e).__name__ for e in cut] == ["Start", "BlockStart", "ToolArgsDelta", "BlockStop", "Finish"]


def test_parallel_tool_calls_in_one_chunk_without_indexes() -> None:
    """Some servers send whole calls at once, several per delta, and leave out `index`."""
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
    ]
    events = _parse(_sse([_chunk({"role": "assistant", "content": None, "tool_calls": calls}), _chunk({}, "tool_calls")]))
    assert_well_formed(events)
    got = collect(events)
    assert got.response.parts == [ir.ToolCallPart("call_1", "a", {"x": 1}), ir.ToolCallPart("call_2", "b", {})]
    assert got.error is None and got.response.stop_reason == "tool_use" and got.response.usage == ir.Usage()


def test_reasoning_field_variants() -> None:
    ollama = _parse(_sse([_chunk({"role": "assistant", "content": "", "reasoning": "Hm"}), _chunk({"content": "Yes"}), _chunk({}, "stop")]))
    assert collect(ollama).response.parts == [ir.ThinkingPart("Hm", family=FAMILY), ir.TextPart("Yes")]
    both = _parse(_sse([_chunk({"reasoning_content": "once", "reasoning": "once"}), _chunk({}, "stop")]))
    assert collect(both).response.parts == [ir.ThinkingPart("once", family=FAMILY)]  # not doubled
    back_and_forth = _parse(
        _sse(
            [
                _chunk({"reasoning_content": "a"}),
                _chunk({"content": "b"}),
                _chunk({"reasoning_content": "c"}),
                _chunk({"content": "d"}),
                _chunk({}, "stop"),
            ]
        )
    )
    assert_well_formed(back_and_forth)
    assert collect(back_and_forth).response.parts == [
        ir.ThinkingPart("a", family=FAMILY),
        ir.TextPart("b"),
        ir.ThinkingPart("c", family=FAMILY),
        ir.TextPart("d"),
    ]


def test_stop_after_tool_calls_and_usage_in_the_last_choice_chunk() -> None:
    """llama.cpp: finish_reason "stop" after a tool call, usage on the finishing chunk itself, timings alongside."""
    stream = _sse(
        [
            _chunk(_call(0, id="call_0", name="f", arguments='{"a":1}')),
            _chunk({}, "stop", usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}, timings={"predicted_n": 3}),
        ]
    )
    assert _parse(stream)[-1] == ir.Finish("tool_use", ir.Usage(9, 3))


def test_error_object_inside_the_stream() -> None:
    stream = _sse(
        [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": "par"}),
            {"error": {"message": "Upstream overloaded", "type": "server_error", "code": 503}},
        ],
        done=False,
    )
    events = _parse(stream)
    assert events[-1] == ir.StreamError("overloaded", "Upstream overloaded")  # code 503 keeps its kind
    assert sum(isinstance(e, ir.StreamError) for e in events) == 1  # close() adds nothing after it
    assert _parse(_sse([{"error": "boom"}])) == [ir.StreamError("api_error", "boom")]
    assert _parse(_sse([{"error": {"code": "x"}}])) == [ir.StreamError("api_error", "{'code': 'x'}")]


def test_stream_cut_before_done() -> None:
    with_finish = _parse(_sse([*UPSTREAM_CHUNKS], done=False))
    assert with_finish == PARSED  # the finish_reason (and the usage after it) arrived: nothing is missing
    without = _parse(_sse(UPSTREAM_CHUNKS[:7], done=False))
    assert without[:-1] == PARSED[:11]
    assert without[-1] == ir.StreamError("api_error", "upstream stream ended before a finish_reason")
    assert _parse(b"") == [ir.StreamError("api_error", "upstream stream ended before a finish_reason")]
    assert _parse(b"data: [DONE]\n\n") == [ir.StreamError("api_error", "upstream stream ended without any data")]
    after_done = _parse(_sse(UPSTREAM_CHUNKS) + _sse([_chunk({"content": "late"})]))
    assert after_done == PARSED  # nothing after [DONE] counts


def test_error_message() -> None:
    assert dialect.error_message({"error": {"message": "No such model", "type": "invalid_request_error"}}) == "No such model"
    assert dialect.error_message({"error": {"type": "server_error"}}) == "{'type': 'server_error'}"
    assert dialect.error_message({"error": "model not loaded"}) == "model not loaded"  # llama.cpp, some proxies
    assert dialect.error_message({"message": "Bad request", "code": 400}) == "Bad request"
    assert dialect.error_message([{"error": {"message": "Quota exceeded"}}]) == "Quota exceeded"
    assert dialect.error_message("<html>502</html>") == "<html>502</html>"
    assert dialect.error_message("x" * 600) == "x" * 500


# ---- round trips ------------------------------------------------------------------------

_media = st.sampled_from(
    [
        ir.MediaPart("image/png", data="iVBORw0KGgo="),
        ir.MediaPart("image/jpeg", url="https://x.test/a.jpg"),
        ir.MediaPart("application/pdf", data="JVBERi0=", kind="document"),
    ]
)


@st.composite
def _requests(draw: st.DrawFn) -> ir.Request:
    """Requests in the shape Chat Completions can carry: one text per turn, tool results in a turn of their own."""
    messages: list[ir.Message] = []
    calls: list[str] = []
    for turn in range(draw(st.integers(1, 4))):
        if calls:
            results = [ir.ToolResultPart(c, draw(st.lists(st.builds(ir.TextPart, texts), max_size=1))) for c in calls]
            messages.append(ir.Message("user", list(results)))
        if not calls or draw(st.booleans()):
            messages.append(ir.Message("user", [ir.TextPart(draw(texts)), *draw(st.lists(_media, max_size=2))]))
        if draw(st.booleans()):
            messages.append(ir.Message("system", [ir.TextPart(draw(texts))]))
        parts: list[ir.Part] = []
        if draw(st.booleans()):
            parts.append(ir.ThinkingPart(draw(texts), None, FAMILY))
        if draw(st.booleans()):
            parts.append(ir.TextPart(draw(texts)))
        calls = [f"call_{turn}_{n}" for n in range(draw(st.integers(0 if parts else 1, 2)))]
        parts.extend(ir.ToolCallPart(c, draw(idents), draw(tool_args)) for c in calls)
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
    stream = draw(st.booleans())
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
        stop=draw(st.lists(texts, max_size=4)),
        stream=stream,
        stream_usage=stream,
        reasoning=draw(st.none() | st.builds(ir.Reasoning, st.sampled_from(["none", "minimal", "low", "medium", "high"]))),
        response_schema=schema,
        json_mode=schema is not None or draw(st.booleans()),
    )


def _echoed(request: ir.Request) -> ir.Request:
    """The request as it comes back: reasoning survives only on the assistant messages of the turns
    (one user prompt to the next) that called tools, which is where DeepSeek wants it echoed."""
    messages, turn, called = list(request.messages), [], False
    for index, message in enumerate([*request.messages, ir.Message("user", [ir.TextPart("end")])]):
        if message.role == "user" and not all(isinstance(p, ir.ToolResultPart) for p in message.parts):
            for i in turn if not called else []:
                messages[i] = ir.Message("assistant", [p for p in messages[i].parts if not isinstance(p, ir.ThinkingPart)])
            turn, called = [], False
        elif message.role == "assistant":
            turn.append(index)
            called = called or any(isinstance(p, ir.ToolCallPart) for p in message.parts)
    return dataclasses.replace(request, messages=messages)


@settings(max_examples=150, deadline=None)
@given(request=_requests())
def test_request_round_trip(request: ir.Request) -> None:
    body = orjson.loads(orjson.dumps(dialect.encode_request(request, request.model, ECHO)))
    assert dialect.parse_request(body) == _echoed(request)


@st.composite
def _responses(draw: st.DrawFn) -> ir.Response:
    parts: list[ir.Part] = []
    if draw(st.booleans()):
        parts.append(ir.ThinkingPart(draw(texts), None, FAMILY))
    if draw(st.booleans()):
        parts.append(ir.TextPart(draw(texts)))
    parts.extend(ir.ToolCallPart(f"call_{i}", draw(idents), draw(tool_args)) for i in range(draw(st.integers(0, 2))))
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    stop: ir.StopReason = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "refusal"]))
    usage = ir.Usage(*(draw(st.integers(0, 10**6)) for _ in range(5)))
    return ir.Response(id=f"chatcmpl-{draw(idents)}", model=draw(idents), parts=parts, stop_reason=stop, usage=usage)


@settings(max_examples=150, deadline=None)
@given(response=_responses())
def test_response_round_trip(response: ir.Response) -> None:
    body = dialect.render_response(response)
    ChatCompletion.model_validate(body)
    assert dialect.parse_response(orjson.loads(orjson.dumps(body))) == response


@st.composite
def _stream_parts(draw: st.DrawFn) -> list[ir.Part]:
    """What an upstream of any family may stream, in any order."""
    parts: list[ir.Part] = []
    for n in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["text", "thinking", "bare", "call"]))
        family = draw(st.sampled_from([FAMILY, "anthropic", "gemini", "openai-responses"]))
        if kind == "text":
            parts.append(ir.TextPart(draw(texts)))
        elif kind == "thinking":
            parts.append(ir.ThinkingPart(draw(texts), draw(st.none() | idents), family))
        elif kind == "bare":
            parts.append(ir.ThinkingPart("", draw(idents), family))
        else:
            parts.append(ir.ToolCallPart(f"call_{n}", draw(idents), draw(tool_args)))
    return parts


def _as_chat_sees_it(parts: list[ir.Part]) -> list[ir.Part]:
    """Chat chunks carry no block boundaries and no signatures: neighbouring texts (and thoughts) run together."""
    out: list[ir.Part] = []
    for part in parts:
        previous = out[-1] if out else None
        if isinstance(part, ir.ThinkingPart):
            if not part.text:
                continue
            if isinstance(previous, ir.ThinkingPart):
                out[-1] = ir.ThinkingPart(previous.text + part.text, None, FAMILY)
            else:
                out.append(ir.ThinkingPart(part.text, None, FAMILY))
        elif isinstance(part, ir.TextPart) and isinstance(previous, ir.TextPart):
            out[-1] = ir.TextPart(previous.text + part.text)
        else:
            out.append(dataclasses.replace(part))
    return out


@st.composite
def _streamed(draw: st.DrawFn) -> ir.Response:
    parts = draw(_stream_parts())
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    stop: ir.StopReason = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "refusal"]))
    usage = ir.Usage(*(draw(st.integers(0, 10**6)) for _ in range(5)))
    return ir.Response(id=f"msg_{draw(idents)}", model="upstream", parts=parts, stop_reason=stop, usage=usage)


@settings(max_examples=100, deadline=None)
@given(response=_streamed())
def test_stream_round_trip_through_renderer_and_parser(response: ir.Response) -> None:
    raw = _render(events_for(response))
    parsed = _parse(raw)
    assert_well_formed(parsed)
    start = parsed[0]
    assert isinstance(start, ir.Start) and start.model == "client-model" and start.id.startswith("chatcmpl-")
    expected = dataclasses.replace(response, id=start.id, model=start.model, parts=_as_chat_sees_it(response.parts))
    assert collect(parsed) == ir.Snapshot(expected)
    # Without stream_options.include_usage the client gets no usage chunk, and the stream is still whole.
    bare = _parse(_render(events_for(response), include_usage=False))
    assert isinstance(bare[0], ir.Start)
    assert collect(bare) == ir.Snapshot(dataclasses.replace(expected, id=bare[0].id, usage=ir.Usage()))


@settings(max_examples=30, deadline=None)
@given(response=_streamed())
def test_sdk_accumulates_any_rendered_stream(response: ir.Response) -> None:
    raw = _render(events_for(response))
    # The SDK's helper refuses a cut-off or filtered completion outright: that it raises is the check.
    refused = {"max_tokens": openai.LengthFinishReasonError, "refusal": openai.ContentFilterFinishReasonError}.get(response.stop_reason)
    if refused is not None:
        with pytest.raises(refused):
            _sdk_final(raw)
        return
    _, final = _sdk_final(raw)
    expected = _as_chat_sees_it(response.parts)
    message = final.choices[0].message
    assert (message.content or "") == "".join(p.text for p in expected if isinstance(p, ir.TextPart))
    assert (message.model_extra or {}).get("reasoning_content", "") == "".join(p.text for p in expected if isinstance(p, ir.ThinkingPart))
    calls = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    assert calls == [(p.id, p.name, p.arguments) for p in expected if isinstance(p, ir.ToolCallPart)]
    assert final.choices[0].finish_reason == dialect.STOP_TO_FINISH[response.stop_reason]
    assert final.usage is not None and final.usage.completion_tokens == response.usage.output_tokens


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "slow down", "code": 429}, "rate_limit"),
        ({"message": "slow down", "type": "rate_limit_exceeded"}, "rate_limit"),
        ({"message": "busy", "code": 503}, "overloaded"),
        ({"message": "broken", "type": "server_error"}, "api_error"),
    ],
)
def test_errors_inside_a_stream_keep_their_kind(error: dict[str, Any], kind: str) -> None:
    parser = dialect.stream_parser()
    events = parser.frame(orjson.dumps({"error": error}).decode())
    assert events == [ir.StreamError(kind, error["message"])]
