"""The Anthropic Messages dialect, both directions, checked against the official `anthropic` SDK."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import anthropic
import httpx2
import orjson
import pytest
from anthropic.types import Message as SDKMessage
from hypothesis import given, settings
from hypothesis import strategies as st

from babelgate import ir
from babelgate.dialects import anthropic as dialect
from babelgate.dialects.anthropic import client_response
from babelgate.dialects.base import EncodeOptions
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.reasoning import Sealed, seal, unseal
from tests.dialects.helpers import (
    CAPTURE_NAMES,
    assert_well_formed,
    capture,
    collect,
    events_for,
    fixture,
    idents,
    named_frames,
    named_sse,
    parse_stream,
    render_stream,
    sse_transport,
    texts,
    tool_args,
)

CLAUDE_CODE = [name for name in CAPTURE_NAMES if name.startswith("claude-code-")]
FAMILY = "anthropic"
SIG = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"


def _sdk_client(body: bytes) -> anthropic.Anthropic:
    http_client = httpx2.Client(transport=sse_transport(body))
    return anthropic.Anthropic(api_key="k", base_url="http://gateway.test", http_client=http_client, max_retries=0)


def _sdk_final(body: bytes) -> tuple[list[str], SDKMessage]:
    """The SDK's own stream helper run over our bytes: the raw event types and its accumulated message."""
    client = _sdk_client(body)
    with client.messages.stream(model="client-model", max_tokens=100, messages=[{"role": "user", "content": "hi"}]) as stream:
        types = [event.type for event in stream]
        return types, stream.get_final_message()


# ---- client side: Claude Code ------------------------------------------------------------


def test_the_claude_code_captures_are_there() -> None:
    assert len(CLAUDE_CODE) >= 6
    for name in CLAUDE_CODE:
        captured = capture(name)
        assert (captured["method"], captured["path"]) == ("POST", "/v1/messages?beta=true")
        assert dict(captured["headers"])["Authorization"] == "<redacted>"


def test_claude_code_first_turn() -> None:
    raw = fixture("claude-code-2.1.328-tool-loop.1.json")
    request = dialect.parse_request(raw)
    assert (request.model, request.stream, request.max_tokens) == ("claude-opus-5-5", True, 128000)
    assert len(request.system) == 3  # the billing header (the claude_code addon's business), then the two prompt blocks in order
    assert request.system[0].text.startswith("x-anthropic-billing-header:")
    assert request.system[1].text.startswith("You are a Claude agent") and request.system[2].text.startswith("\nYou are an agent")
    # The environment arrives as an inline system message, and here it is the last message.
    assert [m.role for m in request.messages] == ["user", "system"]
    assert request.messages[0].parts[1] == ir.TextPart("create out.txt containing hello")
    environment = request.messages[1].parts
    assert len(environment) == 1 and isinstance(environment[0], ir.TextPart) and environment[0].text.startswith("# Environment")
    names = [t.name for t in request.tools]
    assert names == [
        "Agent",
        "Bash",
        "Edit",
        "ListAgents",
        "Read",
        "ReportFindings",
        "ScheduleWakeup",
        "Skill",
        "ToolSearch",
        "Workflow",
        "Write",
    ]
    assert "DeferredToolPlaceholder" not in names  # defer_loading, and nothing loaded it
    bash = request.tools[1]
    assert bash.parameters == raw["tools"][1]["input_schema"] and bash.description == raw["tools"][1]["description"]
    assert request.reasoning == ir.Reasoning(effort="medium")  # thinking adaptive + output_config.effort
    assert request.tool_choice is None and request.parallel_tool_calls is None
    assert request.user == raw["metadata"]["user_id"]


def test_claude_code_tool_loop_turn() -> None:
    request = dialect.parse_request(fixture("claude-code-2.1.328-tool-loop.2.json"))
    assert [m.role for m in request.messages] == ["user", "system", "assistant", "user"]
    system = request.messages[1].parts[0]
    assert isinstance(system, ir.TextPart) and system.text.startswith("# Environment")  # a string content this time
    assert request.messages[2].parts == [
        ir.TextPart("Running it."),
        ir.ToolCallPart("toolu_fake_bce8b1817a0e", "Bash", {"command": "echo hello > out.txt", "description": "write file"}),
    ]
    assert request.messages[3].parts == [ir.ToolResultPart("toolu_fake_bce8b1817a0e", [ir.TextPart("(Bash completed with no output)")])]


def test_claude_code_tool_search_loads_a_deferred_tool() -> None:
    before = dialect.parse_request(fixture("claude-code-2.1.328-toolsearch.1.json"))
    raw = fixture("claude-code-2.1.328-toolsearch.2.json")
    after = dialect.parse_request(raw)
    deferred = [t["name"] for t in raw["tools"] if t.get("defer_loading")]
    assert deferred == ["WebFetch", "DeferredToolPlaceholder"]
    assert "WebFetch" not in [t.name for t in before.tools]
    names = [t.name for t in after.tools]
    assert "WebFetch" in names and "DeferredToolPlaceholder" not in names
    assert names == [t["name"] for t in raw["tools"] if t["name"] != "DeferredToolPlaceholder"]  # order kept
    assert after.messages[3].parts == [
        ir.ToolResultPart("toolu_fake_9a7da7e65d1a", [ir.TextPart("Tool loaded: WebFetch")]),
        ir.TextPart("Tool loaded."),
    ]


def test_claude_code_tui_turn() -> None:
    raw = fixture("claude-code-2.1.328-tui-tool-loop.1.json")
    assert "safeguards" in raw  # an unknown top-level field: ignored, not an error
    request = dialect.parse_request(raw)
    assert request.system[0].text.startswith("x-anthropic-billing-header:") and request.system[1].text.startswith("You are Claude Code")
    assert "AskUserQuestion" in [t.name for t in request.tools]
    assert [m.role for m in request.messages] == ["user", "system"]


@pytest.mark.parametrize("name", CLAUDE_CODE)
def test_claude_code_requests_survive_a_round_trip(name: str) -> None:
    first = dialect.parse_request(fixture(name))
    encoded = dialect.encode_request(first, first.model, EncodeOptions())
    wire = orjson.dumps(encoded).decode()
    assert "defer_loading" not in wire and "DeferredToolPlaceholder" not in wire
    again = dialect.parse_request(orjson.loads(wire))
    # Adaptive thinking at an effort becomes that effort's token budget; everything else comes back as it was.
    # A tool loop whose turn has no thinking block (another model wrote it) goes without thinking: Anthropic
    # refuses enabled thinking there ("Expected `thinking` or `redacted_thinking`...").
    continues_unthought_turn = name.endswith("tool-loop.2.json")
    budget = dialect.thinking_budget("medium")
    assert encoded.get("thinking") == (None if continues_unthought_turn else {"type": "enabled", "budget_tokens": budget})
    expected = None if continues_unthought_turn else ir.Reasoning(budget=budget)
    assert again == dataclasses.replace(first, reasoning=expected)


@pytest.mark.parametrize("name", CLAUDE_CODE)
def test_claude_code_passthrough_keeps_the_clients_body(name: str) -> None:
    raw = fixture(name)
    original = json.loads(json.dumps(raw))
    request = dialect.parse_request(raw)
    body = dialect.passthrough(raw, request, "claude-real")
    assert raw == original  # the client's body is not edited in place
    assert body["model"] == "claude-real"
    assert {k: v for k, v in body.items() if k != "model"} == {k: v for k, v in raw.items() if k != "model"}  # system, thinking, tools...


# ---- client side: parsing ----------------------------------------------------------------

_SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_parse_golden() -> None:
    body = {
        "model": "claude-x",
        "system": [
            {"type": "text", "text": "You are helpful.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "UklG"}},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.PNG?size=2"}},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/photo"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
                    {"type": "document", "source": {"type": "url", "url": "https://x.test/d"}},
                ],
            },
            {"role": "system", "content": ""},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Plan", "signature": SIG},
                    {"type": "redacted_thinking", "data": "REDACTED"},
                    {"type": "text", "text": "Calling."},
                    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
                    {"type": "tool_use", "id": "toolu_2", "name": "ToolSearch", "input": {"query": "select:g"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done", "is_error": True},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [
                            {"type": "tool_reference", "tool_name": "g"},
                            {"type": "text", "text": "ok"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                            {"type": "search_result", "title": "T", "source": "https://s", "content": [{"type": "text", "text": "body"}]},
                        ],
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_3"},
                ],
            },
            {"role": "system", "content": []},
            {"role": "system", "content": [{"type": "text", "text": "Late note."}]},
        ],
        "tools": [
            {"name": "f", "description": "F.", "input_schema": _SCHEMA, "cache_control": {"type": "ephemeral"}},
            {"type": "custom", "name": "h", "description": "H.", "input_schema": _SCHEMA},
            {"name": "g", "description": "G.", "input_schema": _SCHEMA, "defer_loading": True},
            {"name": "unloaded", "description": "U.", "input_schema": _SCHEMA, "defer_loading": True},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"type": "web_fetch_20250910", "name": "web_fetch"},
            {"type": "code_execution_20250825", "name": "code_execution"},
            {"name": "noschema"},
        ],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "max_tokens": 2048,
        "temperature": 1,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1500},
        "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {"type": "object"}}},
        "metadata": {"user_id": "u-1"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "service_tier": "auto",
    }
    assert dialect.parse_request(body) == ir.Request(
        model="claude-x",
        system=[ir.TextPart("You are helpful.")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("Look"),
                    ir.MediaPart("image/webp", data="UklG"),
                    ir.MediaPart("image/png", url="https://x.test/a.PNG?size=2"),
                    ir.MediaPart("image/jpeg", url="https://x.test/photo"),
                    ir.MediaPart("application/pdf", data="JVBE", kind="document"),
                    ir.MediaPart("text/plain", data="plain", kind="document"),
                    ir.MediaPart("application/pdf", url="https://x.test/d", kind="document"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("Plan", SIG, FAMILY),
                    ir.ThinkingPart("", "REDACTED", FAMILY, redacted=True),
                    ir.TextPart("Calling."),
                    ir.ToolCallPart("toolu_1", "f", {"a": 1}),
                    ir.ToolCallPart("toolu_2", "ToolSearch", {"query": "select:g"}),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart("toolu_1", [ir.TextPart("done")], is_error=True),
                    ir.ToolResultPart(
                        "toolu_2",
                        [ir.TextPart("Tool loaded: g"), ir.TextPart("ok"), ir.MediaPart("image/png", data="iVBO"), ir.TextPart("T\nbody")],
                    ),
                    ir.ToolResultPart("toolu_3", []),
                ],
            ),
            ir.Message("system", [ir.TextPart("Late note.")]),
        ],
        tools=[
            ir.Tool("f", "F.", _SCHEMA),
            ir.Tool("h", "H.", _SCHEMA),
            ir.Tool("g", "G.", _SCHEMA),
            ir.Tool("noschema", "", {"type": "object", "properties": {}}),
        ],
        tool_choice=ir.ToolChoice("tool", "f"),
        parallel_tool_calls=False,
        max_tokens=2048,
        temperature=1.0,
        top_p=0.9,
        top_k=40,
        stop=["END"],
        stream=True,
        reasoning=ir.Reasoning(effort="high", budget=1500),
        response_schema={"type": "object"},
        user="u-1",
    )


def test_string_system_and_content_and_overrides() -> None:
    body = {"model": "m", "system": "Be brief.", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}
    request = dialect.parse_request(body, model="routed", stream=True)
    assert (request.model, request.stream, request.system) == ("routed", True, [ir.TextPart("Be brief.")])
    assert request.messages == [ir.Message("user", [ir.TextPart("hi")]), ir.Message("assistant", [])]
    assert dialect.parse_request({**body, "system": ""}).system == []


def test_inline_system_messages_are_kept_in_place_and_empty_ones_dropped() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "First."}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": ""},
            {"role": "assistant", "content": "hello"},
            {"role": "system", "content": []},
            {"role": "system", "content": "Last."},
        ],
    }
    request = dialect.parse_request(body)
    assert request.system == []
    assert [(m.role, m.parts) for m in request.messages] == [
        ("system", [ir.TextPart("First.")]),
        ("user", [ir.TextPart("hi")]),
        ("assistant", [ir.TextPart("hello")]),
        ("system", [ir.TextPart("Last.")]),
    ]


def test_deferred_tools_appear_only_once_referenced() -> None:
    tools = [
        {"name": "Read", "input_schema": _SCHEMA},
        {"name": "WebFetch", "input_schema": _SCHEMA, "defer_loading": True},
        {"name": "NotebookEdit", "input_schema": _SCHEMA, "defer_loading": True},
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    plain = {"model": "m", "tools": tools, "messages": [{"role": "user", "content": "hi"}]}
    assert [t.name for t in dialect.parse_request(plain).tools] == ["Read"]
    referenced = {
        **plain,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {}}]},
            # a reference as plain text, or outside a tool_result, loads nothing
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "NotebookEdit"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "ToolSearch", "input": {}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "tool_reference", "tool_name": "WebFetch"}]}],
            },
        ],
    }
    assert [t.name for t in dialect.parse_request(referenced).tools] == ["Read", "WebFetch"]


def test_server_tool_traffic_in_history_is_dropped() -> None:
    """A web search that ran on Anthropic's side (pass-through) comes back in the next turn's history."""
    body = {
        "model": "m",
        "tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
        "messages": [
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "paris weather"}},
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "srvtoolu_1",
                        "content": [{"type": "web_search_result", "url": "https://w", "title": "W", "encrypted_content": "E"}],
                    },
                    {"type": "text", "text": "Sunny."},
                ],
            },
            {"role": "user", "content": "thanks"},
        ],
    }
    request = dialect.parse_request(body)
    assert request.tools == []
    assert request.messages[1] == ir.Message("assistant", [ir.TextPart("Sunny.")])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, ir.Reasoning(budget=4096)),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}, "output_config": {"effort": "high"}}, ir.Reasoning("high", 4096)),
        ({"thinking": {"type": "enabled"}}, ir.Reasoning(effort="medium")),
        ({"thinking": {"type": "adaptive"}}, ir.Reasoning(effort="medium")),
        ({"thinking": {"type": "adaptive", "display": "omitted"}, "output_config": {"effort": "max"}}, ir.Reasoning(effort="max")),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, ir.Reasoning(effort="low")),
        ({"thinking": {"type": "disabled"}}, ir.Reasoning(effort="none")),
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, ir.Reasoning(effort="none")),
        ({"output_config": {"effort": "xhigh"}}, ir.Reasoning(effort="xhigh")),
        ({"output_config": {}}, None),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else str(v),
)
def test_reasoning_table(fields: dict[str, Any], expected: ir.Reasoning | None) -> None:
    assert dialect.parse_request({"model": "m", "messages": [], **fields}).reasoning == expected


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, ir.ToolChoice("auto"), None),
        ({"type": "any"}, ir.ToolChoice("any"), None),
        ({"type": "none"}, ir.ToolChoice("none"), None),
        ({"type": "tool", "name": "f"}, ir.ToolChoice("tool", "f"), None),
        ({"type": "auto", "disable_parallel_tool_use": True}, ir.ToolChoice("auto"), False),
        ({"type": "any", "disable_parallel_tool_use": False}, ir.ToolChoice("any"), True),
    ],
)
def test_tool_choice_table(choice: dict[str, Any], expected: ir.ToolChoice, parallel: bool | None) -> None:
    request = dialect.parse_request({"model": "m", "messages": [], "tool_choice": choice})
    assert (request.tool_choice, request.parallel_tool_calls) == (expected, parallel)


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    legacy = dialect.parse_request({"model": "m", "messages": [], "output_format": {"type": "json_schema", "schema": schema}})
    current = dialect.parse_request({"model": "m", "messages": [], "output_config": {"format": {"type": "json_schema", "schema": schema}}})
    assert legacy.response_schema == current.response_schema == schema
    assert dialect.parse_request({"model": "m", "messages": [], "output_format": {"type": "text"}}).response_schema is None


_M = "messages.0.content.0"


def test_block_types_it_does_not_know_are_left_out_not_refused() -> None:
    """The contract's "don't reject what you don't recognize": the client's own body still carries them to Anthropic."""
    upload = {"type": "container_upload", "file_id": "file_1"}
    video = {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "video"}, {"type": "text", "text": "seen"}]}
    body = {"model": "m", "thinking": {"type": "future-mode"}, "output_config": {"effort": "ludicrous"}}
    body["messages"] = [{"role": "user", "content": [upload, {"type": "text", "text": "hi"}, video]}]
    request = dialect.parse_request(body)
    assert request.messages[0].parts == [ir.TextPart("hi"), ir.ToolResultPart("t", [ir.TextPart("seen")])]
    assert request.reasoning is None
    assert dialect.passthrough(body, request, "claude-up")["messages"] == body["messages"]


_BAD: list[tuple[dict[str, Any], str]] = [
    ({"model": "m"}, "messages"),
    ({"messages": []}, "model"),
    ({"model": 5, "messages": []}, "model"),
    ({"model": "m", "messages": {}}, "messages"),
    ({"model": "m", "messages": ["hi"]}, "messages.0"),
    ({"model": "m", "messages": [{"content": "hi"}]}, "messages.0.role"),
    ({"model": "m", "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages.0.content"),
    ({"model": "m", "messages": [{"role": "user"}]}, "messages.0.content"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]}, f"{_M}.type"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, f"{_M}.text"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]}, f"{_M}.source"),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
        f"{_M}.source.type",
    ),
    (
        {
            "model": "m",
            "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/png"}}]}],
        },
        f"{_M}.source.data",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "text", "data": "x"}}]}]},
        f"{_M}.source.type",
    ),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "thinking", "signature": "s"}]}]}, f"{_M}.thinking"),
    (
        {"model": "m", "messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": 5}]}]},
        f"{_M}.signature",
    ),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "redacted_thinking"}]}]}, f"{_M}.data"),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}, f"{_M}.id"),
    ({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "input": {}}]}]}, f"{_M}.name"),
    (
        {"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}]}]},
        f"{_M}.input",
    ),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}, f"{_M}.tool_use_id"),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 5}]}]},
        f"{_M}.content",
    ),
    (
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_reference"}]}]}
            ],
        },
        f"{_M}.content.0.tool_name",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}]},
        f"{_M}.is_error",
    ),
    ({"model": "m", "messages": [], "system": 5}, "system"),
    ({"model": "m", "messages": [], "system": ["x"]}, "system.0"),
    ({"model": "m", "messages": [], "system": [{"type": "text"}]}, "system.0.text"),
    ({"model": "m", "messages": [], "tools": {}}, "tools"),
    ({"model": "m", "messages": [], "tools": [{"input_schema": {}}]}, "tools.0.name"),
    ({"model": "m", "messages": [], "tools": [{"name": "f", "input_schema": "x"}]}, "tools.0.input_schema"),
    ({"model": "m", "messages": [], "tools": [{"name": "f", "description": 5}]}, "tools.0.description"),
    ({"model": "m", "messages": [], "tool_choice": "auto"}, "tool_choice"),
    ({"model": "m", "messages": [], "tool_choice": {}}, "tool_choice.type"),
    ({"model": "m", "messages": [], "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
    ({"model": "m", "messages": [], "tool_choice": {"type": "tool"}}, "tool_choice.name"),
    ({"model": "m", "messages": [], "thinking": "on"}, "thinking"),
    ({"model": "m", "messages": [], "thinking": {"type": "enabled", "budget_tokens": "lots"}}, "thinking.budget_tokens"),
    ({"model": "m", "messages": [], "output_config": 5}, "output_config"),
    ({"model": "m", "messages": [], "max_tokens": 1.5}, "max_tokens"),
    ({"model": "m", "messages": [], "max_tokens": True}, "max_tokens"),
    ({"model": "m", "messages": [], "temperature": "hot"}, "temperature"),
    ({"model": "m", "messages": [], "top_p": "x"}, "top_p"),
    ({"model": "m", "messages": [], "top_k": 1.5}, "top_k"),
    ({"model": "m", "messages": [], "stop_sequences": "END"}, "stop_sequences"),
    ({"model": "m", "messages": [], "stream": "yes"}, "stream"),
    ({"model": "m", "messages": [], "metadata": []}, "metadata"),
    ({"model": "m", "messages": [], "metadata": {"user_id": 5}}, "metadata.user_id"),
]


@pytest.mark.parametrize(("body", "path"), _BAD, ids=[f"{i}-{p}" for i, (_, p) in enumerate(_BAD)])
def test_bad_requests_name_the_field(body: dict[str, Any], path: str) -> None:
    with pytest.raises(BadRequest) as caught:
        dialect.parse_request(body)
    assert caught.value.path == path
    assert caught.value.message.startswith(f"{path}: ")
    rendered = dialect.render_error(caught.value)
    assert rendered["type"] == "error" and rendered["error"]["type"] == "invalid_request_error"
    assert rendered["error"]["message"] == caught.value.message


def test_render_error_is_anthropic_shaped() -> None:
    assert dialect.render_error(BadRequest("messages.0.role", "bad")) == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "messages.0.role: bad", "code": "invalid_request"},
    }
    types = {
        Kind.AUTHENTICATION: "authentication_error",
        Kind.PERMISSION: "permission_error",
        Kind.NOT_FOUND: "not_found_error",
        Kind.TOO_LARGE: "request_too_large",
        Kind.RATE_LIMIT: "rate_limit_error",
        Kind.OVERLOADED: "overloaded_error",
        Kind.UPSTREAM: "api_error",
        Kind.TIMEOUT: "timeout_error",
    }
    for kind, wire in types.items():
        assert dialect.render_error(GatewayError(500, kind, "m")) == {"type": "error", "error": {"type": wire, "message": "m"}}
    cooling = GatewayError(429, Kind.RATE_LIMIT, "wait", code="model_cooldown", details={"model": "x", "reset_seconds": 7})
    assert dialect.render_error(cooling) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "wait", "code": "model_cooldown", "model": "x", "reset_seconds": 7},
    }


# ---- client side: rendering --------------------------------------------------------------


def test_render_response_golden_and_sdk_valid() -> None:
    response = ir.Response(
        id="msg_01",
        model="gpt-x",
        parts=[
            ir.ThinkingPart("Mine.", SIG, FAMILY),
            ir.ThinkingPart("Reasoned elsewhere.", "ENC", "openai-responses"),
            ir.ThinkingPart("", "gemini-sig", "gemini"),
            ir.ThinkingPart("", "RED", FAMILY, redacted=True),
            ir.ThinkingPart("", "other-red", "gemini", redacted=True),
            ir.TextPart("Hello"),
            ir.ToolCallPart("toolu_9", "lookup", {"q": ["x", 1]}, "gemini-call-sig"),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=10, output_tokens=20, cache_read_tokens=5, cache_write_tokens=1, reasoning_tokens=7),
    )
    body = dialect.render_response(response)
    assert body == {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "gpt-x",
        "content": [
            {"type": "thinking", "thinking": "Mine.", "signature": SIG},
            {"type": "thinking", "thinking": "Reasoned elsewhere.", "signature": seal(Sealed("openai-responses", "gpt-x", "ENC"))},
            {"type": "redacted_thinking", "data": seal(Sealed("gemini", "gpt-x", "gemini-sig"))},
            {"type": "redacted_thinking", "data": "RED"},
            {"type": "redacted_thinking", "data": seal(Sealed("gemini", "gpt-x", "other-red", redacted=True))},
            {"type": "text", "text": "Hello"},
            {"type": "redacted_thinking", "data": seal(Sealed("gemini", "gpt-x", "gemini-call-sig", call_id="toolu_9"))},
            {"type": "tool_use", "id": "toolu_9", "name": "lookup", "input": {"q": ["x", 1]}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 1},
    }
    message = SDKMessage.model_validate(body)
    assert [b.type for b in message.content] == [
        "thinking",
        "thinking",
        *["redacted_thinking"] * 3,
        "text",
        "redacted_thinking",
        "tool_use",
    ]
    # Sent back as history, every family's state is whole again.
    history = dialect.parse_request({"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": body["content"]}]})
    assert history.messages[0].parts == response.parts
    stopped = dialect.render_response(
        dataclasses.replace(response, parts=[ir.TextPart("x")], stop_reason="stop_sequence", stop_sequence="END")
    )
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "END")


_EVENTS: list[ir.Event] = [
    ir.Start("msg_up", "upstream-model", ir.Usage(input_tokens=12, cache_read_tokens=100, cache_write_tokens=3)),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, signature="gemini-only", family="gemini"),  # another family's bare signature: never shown
    ir.BlockStop(0),
    ir.BlockStart(1, "thinking"),
    ir.ThinkingDelta(1, "Let me ", family=FAMILY),
    ir.ThinkingDelta(1, "think.", family=FAMILY),
    ir.ThinkingDelta(1, signature=SIG, family=FAMILY),
    ir.BlockStop(1),
    ir.BlockStart(2, "text"),
    ir.TextDelta(2, "Hé"),
    ir.TextDelta(2, "llo 👋"),
    ir.BlockStop(2),
    ir.BlockStart(3, "thinking"),
    ir.ThinkingDelta(3, "Foreign but readable", family="openai"),
    ir.ThinkingDelta(3, signature="openai-sig", family="openai"),
    ir.BlockStop(3),
    ir.BlockStart(4, "thinking"),
    ir.BlockStop(4),  # a thinking block that never carried anything
    ir.BlockStart(5, "tool_call", id="toolu_a", name="lookup", signature="gemini-call-sig"),
    ir.ToolArgsDelta(5, '{"q": '),
    ir.ToolArgsDelta(5, '"x"}'),
    ir.BlockStop(5),
    ir.Finish("tool_use", ir.Usage(input_tokens=12, output_tokens=40, cache_read_tokens=100, cache_write_tokens=3, reasoning_tokens=9)),
]


def _render(events: list[ir.Event], model: str = "client-model") -> bytes:
    return render_stream(dialect.stream_renderer(ir.Request(model=model, messages=[], stream=True)), events)


def test_renderer_frames_golden() -> None:
    frames = named_frames(_render(_EVENTS))
    usage = {"input_tokens": 12, "output_tokens": 0, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 3}
    message = {
        "id": "msg_up",
        "type": "message",
        "role": "assistant",
        "model": "client-model",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }

    def delta(index: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": body}

    def sealed(index: int, state: Sealed) -> list[dict[str, Any]]:
        block = {"type": "redacted_thinking", "data": seal(state)}
        return [{"type": "content_block_start", "index": index, "content_block": block}, {"type": "content_block_stop", "index": index}]

    assert frames == [
        {"type": "message_start", "message": message},
        *sealed(0, Sealed("gemini", "upstream-model", "gemini-only")),
        {"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        delta(1, {"type": "thinking_delta", "thinking": "Let me "}),
        delta(1, {"type": "thinking_delta", "thinking": "think."}),
        delta(1, {"type": "signature_delta", "signature": SIG}),
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        delta(2, {"type": "text_delta", "text": "Hé"}),
        delta(2, {"type": "text_delta", "text": "llo 👋"}),
        {"type": "content_block_stop", "index": 2},
        {"type": "content_block_start", "index": 3, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        delta(3, {"type": "thinking_delta", "thinking": "Foreign but readable"}),
        delta(3, {"type": "signature_delta", "signature": seal(Sealed("openai", "upstream-model", "openai-sig"))}),
        {"type": "content_block_stop", "index": 3},
        *sealed(4, Sealed("gemini", "upstream-model", "gemini-call-sig", call_id="toolu_a")),
        {"type": "content_block_start", "index": 5, "content_block": {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {}}},
        delta(5, {"type": "input_json_delta", "partial_json": '{"q": '}),
        delta(5, {"type": "input_json_delta", "partial_json": '"x"}'}),
        {"type": "content_block_stop", "index": 5},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"input_tokens": 12, "output_tokens": 40, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 3},
        },
        {"type": "message_stop"},
    ]


def test_sdk_stream_helper_accepts_the_renderer_output() -> None:
    types, final = _sdk_final(_render(_EVENTS))
    assert types[0] == "message_start" and types[-1] == "message_stop"
    assert [b.type for b in final.content] == ["redacted_thinking", "thinking", "text", "thinking", "redacted_thinking", "tool_use"]
    _, first, text, foreign, _, call = final.content
    assert first.type == "thinking" and (first.thinking, first.signature) == ("Let me think.", SIG)
    assert text.type == "text" and text.text == "Héllo 👋"
    assert foreign.type == "thinking" and foreign.thinking == "Foreign but readable"
    assert unseal(foreign.signature) == Sealed("openai", "upstream-model", "openai-sig")  # another family's state, sealed
    assert call.type == "tool_use" and (call.id, call.name, call.input) == ("toolu_a", "lookup", {"q": "x"})
    assert (final.id, final.model, final.stop_reason) == ("msg_up", "client-model", "tool_use")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 40)
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (100, 3)


def test_renderer_renumbers_around_hidden_blocks() -> None:
    """A bare foreign signature first: the text after it must be index 0, or the SDK's content[index] is wrong."""
    events: list[ir.Event] = [
        ir.Start("m1", "up"),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, signature="g1", family="gemini"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "A"),
        ir.BlockStop(1),
        ir.BlockStart(2, "thinking"),
        ir.ThinkingDelta(2, signature="g2", family="gemini"),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id="c", name="f"),
        ir.ToolArgsDelta(3, "{}"),
        ir.BlockStop(3),
        ir.BlockStart(4, "thinking"),
        ir.ThinkingDelta(4, signature=SIG, family=FAMILY),  # Anthropic's own bare signature is worth a block
        ir.BlockStop(4),
        ir.Finish("tool_use", ir.Usage(output_tokens=3)),
    ]
    raw = _render(events)
    starts = [(f["index"], f["content_block"]["type"]) for f in named_frames(raw) if f["type"] == "content_block_start"]
    assert starts == [(0, "redacted_thinking"), (1, "text"), (2, "redacted_thinking"), (3, "tool_use"), (4, "thinking")]
    _, final = _sdk_final(raw)
    assert [b.type for b in final.content] == ["redacted_thinking", "text", "redacted_thinking", "tool_use", "thinking"]
    sealed = [unseal(b.data) for b in final.content if b.type == "redacted_thinking"]
    assert sealed == [Sealed("gemini", "up", "g1"), Sealed("gemini", "up", "g2")]  # bare foreign signatures travel sealed
    assert final.content[4].type == "thinking" and final.content[4].signature == SIG


def test_renderer_error_event_reaches_the_sdk() -> None:
    events: list[ir.Event] = [
        ir.Start("m1", "up"),
        ir.BlockStart(0, "text"),
        ir.TextDelta(0, "par"),
        ir.StreamError(Kind.OVERLOADED.value, "busy"),
    ]
    raw = _render(events)
    assert named_frames(raw)[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    with pytest.raises(anthropic.APIStatusError) as caught:
        _sdk_final(raw)
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    rate = named_frames(_render([ir.StreamError(Kind.RATE_LIMIT.value, "slow")]))
    assert rate == [{"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}]


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
                    ir.ThinkingPart("mine", SIG, FAMILY),
                    ir.ThinkingPart("unsigned", None, FAMILY),
                    ir.ThinkingPart("theirs", "ENC", "openai-responses"),
                    ir.ThinkingPart("", "gemini-sig", "gemini"),
                    ir.ThinkingPart("", "RED", FAMILY, redacted=True),
                    ir.TextPart("Sure."),
                    ir.ToolCallPart("c1", "f", {"a": 1}, "gemini-call-sig"),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart("c1", [ir.TextPart("boom"), ir.MediaPart("image/png", data="BBBB")], is_error=True, name="f"),
                    ir.TextPart("and?"),
                ],
            ),
            ir.Message("system", [ir.TextPart("Late.")]),
        ],
        tools=[ir.Tool("f", "F.", _SCHEMA)],
        tool_choice=ir.ToolChoice("tool", "f"),
        parallel_tool_calls=False,
        max_tokens=4000,
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        stop=["END"],
        stream=True,
        stream_usage=True,
        response_schema={"type": "object"},
        json_mode=True,
        user="u-1",
    )
    return dataclasses.replace(request, **changes)


def test_encode_request_golden() -> None:
    assert dialect.encode_request(_request(), "claude-up", EncodeOptions()) == {
        "model": "claude-up",
        "max_tokens": 4000,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/y.jpg"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
                ],
            },
            {
                "role": "assistant",
                "content": [  # only the thinking Anthropic signed itself goes back
                    {"type": "thinking", "thinking": "mine", "signature": SIG},
                    {"type": "redacted_thinking", "data": "RED"},
                    {"type": "text", "text": "Sure."},
                    {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "c1",
                        "content": [
                            {"type": "text", "text": "boom"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "BBBB"}},
                        ],
                        "is_error": True,
                    },
                    {"type": "text", "text": "and?"},
                ],
            },
            {"role": "system", "content": [{"type": "text", "text": "Late."}]},
        ],
        "system": [{"type": "text", "text": "Sys A"}, {"type": "text", "text": "Sys B"}],
        "tools": [{"name": "f", "description": "F.", "input_schema": _SCHEMA}],
        "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "stop_sequences": ["END"],
        "output_format": {"type": "json_schema", "schema": {"type": "object"}},
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }


def test_encode_request_minimal() -> None:
    request = ir.Request(model="m", messages=[ir.Message("user", [ir.TextPart("hi")])])
    assert dialect.encode_request(request, "claude-up", EncodeOptions()) == {
        "model": "claude-up",
        "max_tokens": 8192,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


@pytest.mark.parametrize(
    ("reasoning", "max_tokens", "thinking"),
    [
        (None, 64000, None),
        (ir.Reasoning(effort="none"), 64000, None),
        (ir.Reasoning(effort="none", budget=4096), 64000, None),
        (ir.Reasoning(effort="minimal"), 64000, 1024),
        (ir.Reasoning(effort="low"), 64000, 2048),
        (ir.Reasoning(effort="medium"), 64000, 8192),
        (ir.Reasoning(effort="high"), 64000, 16384),
        (ir.Reasoning(effort="xhigh"), 64000, 24576),
        (ir.Reasoning(effort="max"), 64000, 32768),
        (ir.Reasoning(), 64000, 8192),
        (ir.Reasoning(budget=5000), 64000, 5000),
        (ir.Reasoning(effort="low", budget=5000), 64000, 5000),  # an explicit budget wins over the effort
        (ir.Reasoning(effort="high"), 4000, 3999),  # below max_tokens, as Anthropic requires
        (ir.Reasoning(effort="high"), None, 8191),  # the default max_tokens is 8192
        (ir.Reasoning(effort="high"), 1024, None),  # a budget under 1024 is not allowed: no thinking at all
        (ir.Reasoning(budget=500), 64000, None),
    ],
    ids=str,
)
def test_encode_reasoning_table(reasoning: ir.Reasoning | None, max_tokens: int | None, thinking: int | None) -> None:
    body = dialect.encode_request(_request(reasoning=reasoning, max_tokens=max_tokens, tool_choice=None), "claude-up", EncodeOptions())
    assert body.get("thinking") == (None if thinking is None else {"type": "enabled", "budget_tokens": thinking})


def test_thinking_rules_anthropic_enforces() -> None:
    thinking = _request(reasoning=ir.Reasoning(effort="high"), max_tokens=64000, tool_choice=None)
    body = dialect.encode_request(thinking, "claude-up", EncodeOptions())
    assert body["thinking"]["budget_tokens"] == 16384
    assert "temperature" not in body and "top_k" not in body and body["top_p"] == 0.9  # thinking takes neither
    forced = dialect.encode_request(dataclasses.replace(thinking, tool_choice=ir.ToolChoice("any")), "claude-up", EncodeOptions())
    assert "thinking" not in forced and forced["temperature"] == 0.2  # a forced tool rules thinking out


def test_messages_left_empty_are_not_sent() -> None:
    only_foreign = ir.Message("assistant", [ir.ThinkingPart("their reasoning", "sig", "openai")])
    request = _request(messages=[ir.Message("user", [ir.TextPart("a")]), only_foreign, ir.Message("user", [ir.TextPart("b")])])
    body = dialect.encode_request(request, "claude-up", EncodeOptions())
    assert [m["role"] for m in body["messages"]] == ["user", "user"]


def test_passthrough_keeps_the_thinking_budget_under_a_capped_max_tokens() -> None:
    raw = {"model": "x", "max_tokens": 128000, "thinking": {"type": "enabled", "budget_tokens": 32000}, "messages": []}
    request = dialect.parse_request(raw)
    assert dialect.passthrough(raw, dataclasses.replace(request, max_tokens=16000), "m")["thinking"]["budget_tokens"] == 15999
    assert "thinking" not in dialect.passthrough(raw, dataclasses.replace(request, max_tokens=1000), "m")


def test_thinking_budgets() -> None:
    assert {e: dialect.thinking_budget(e) for e in ("minimal", "low", "medium", "high", "xhigh", "max")} == dialect.BUDGETS
    assert dialect.thinking_budget("unknown") == 8192


@pytest.mark.parametrize(
    ("choice", "parallel", "tools", "expected"),
    [
        (ir.ToolChoice("auto"), None, True, {"type": "auto"}),
        (ir.ToolChoice("any"), None, True, {"type": "any"}),
        (ir.ToolChoice("none"), None, True, {"type": "none"}),
        (ir.ToolChoice("tool", "f"), None, True, {"type": "tool", "name": "f"}),
        (ir.ToolChoice("any"), False, True, {"type": "any", "disable_parallel_tool_use": True}),
        (ir.ToolChoice("none"), False, True, {"type": "none"}),
        (ir.ToolChoice("auto"), True, True, {"type": "auto"}),
        (None, False, True, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, False, False, None),
        (None, True, True, None),
        (None, None, True, None),
    ],
    ids=str,
)
def test_encode_tool_choice_table(
    choice: ir.ToolChoice | None, parallel: bool | None, tools: bool, expected: dict[str, Any] | None
) -> None:
    request = _request(tool_choice=choice, parallel_tool_calls=parallel, tools=_request().tools if tools else [])
    assert dialect.encode_request(request, "m", EncodeOptions()).get("tool_choice") == expected


def test_passthrough_edits_only_what_routing_changed() -> None:
    raw = {
        "model": "claude-client",
        "max_tokens": 32000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
            {"type": "text", "text": "Keep.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "unknown_future_field": {"x": 1},
    }
    request = dialect.parse_request(raw)
    body = dialect.passthrough(raw, request, "claude-real")
    assert body == {**raw, "model": "claude-real"}
    assert raw["model"] == "claude-client" and len(raw["system"]) == 2
    clamped = dialect.passthrough(raw, dataclasses.replace(request, max_tokens=16000), "claude-real")
    assert clamped["max_tokens"] == 16000 and clamped["thinking"] == raw["thinking"]
    plain = {"model": "m", "max_tokens": 100, "system": "string system", "messages": []}
    assert dialect.passthrough(plain, dialect.parse_request(plain), "x") == {**plain, "model": "x"}


@pytest.mark.parametrize(
    ("variant", "max_tokens", "thinking"),
    [
        (ir.Reasoning(budget=4096), 32000, {"type": "enabled", "budget_tokens": 4096}),
        (ir.Reasoning(effort="high"), 32000, {"type": "enabled", "budget_tokens": 16384}),
        (ir.Reasoning(effort="high"), 3000, {"type": "enabled", "budget_tokens": 2999}),
        (ir.Reasoning(effort="none"), 32000, None),
    ],
    ids=str,
)
def test_passthrough_applies_a_reasoning_variant(variant: ir.Reasoning, max_tokens: int, thinking: dict[str, Any] | None) -> None:
    raw = fixture("claude-code-2.1.328-tool-loop.1.json")
    request = dataclasses.replace(dialect.parse_request(raw), reasoning=variant, max_tokens=max_tokens)
    body = dialect.passthrough(raw, request, "claude-real")
    assert body.get("thinking") == thinking
    assert body["max_tokens"] == max_tokens and body["output_config"] == raw["output_config"]


_UPSTREAM_BODY: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "The user wants weather.", "signature": SIG},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "weather"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "I'll check.", "citations": None},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "San Francisco, CA"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 472,
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 1000,
        "output_tokens": 89,
        "server_tool_use": {"web_search_requests": 1},
        "service_tier": "standard",
    },
}


def test_parse_response_golden() -> None:
    assert dialect.parse_response(_UPSTREAM_BODY) == ir.Response(
        id="msg_01XFDUDYJgAACzvnptvVoYEL",
        model="claude-sonnet-4-5-20250929",
        parts=[
            ir.ThinkingPart("The user wants weather.", SIG, FAMILY),
            ir.ThinkingPart("", "EmwKAhgBEgy3va3pzix", FAMILY, redacted=True),
            ir.TextPart("I'll check."),
            ir.ToolCallPart("toolu_01A09q90qw90lq917835lq9", "get_weather", {"location": "San Francisco, CA"}),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=472, output_tokens=89, cache_read_tokens=1000, cache_write_tokens=20),
    )
    stopped = dialect.parse_response({**_UPSTREAM_BODY, "content": [], "stop_reason": "stop_sequence", "stop_sequence": "END"})
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "END")
    bare = dialect.parse_response({"content": [{"type": "text", "text": "x"}]})
    assert bare.id.startswith("msg_") and (bare.model, bare.stop_reason, bare.usage) == ("", "end_turn", ir.Usage())


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("end_turn", "end_turn"),
        ("max_tokens", "max_tokens"),
        ("tool_use", "tool_use"),
        ("stop_sequence", "stop_sequence"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
        ("model_context_window_exceeded", "max_tokens"),
        ("some_future_reason", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_stop_reasons_from_upstream(wire: str | None, expected: ir.StopReason) -> None:
    """Every stop reason that reaches ir is one the other dialects can render."""
    assert dialect.parse_response({**_UPSTREAM_BODY, "stop_reason": wire}).stop_reason == expected
    events = _parse(
        named_sse(
            [
                {"type": "message_start", "message": {"id": "m", "model": "x", "usage": {"input_tokens": 1, "output_tokens": 1}}},
                {"type": "message_delta", "delta": {"stop_reason": wire, "stop_sequence": None}, "usage": {"output_tokens": 2}},
                {"type": "message_stop"},
            ]
        )
    )
    assert events[-1] == ir.Finish(expected, ir.Usage(input_tokens=1, output_tokens=2))


def _start_block(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _stop_block(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


_MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_stream",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 100, "output_tokens": 1},
    },
}
UPSTREAM_EVENTS: list[dict[str, Any]] = [
    _MESSAGE_START,
    {"type": "ping"},
    _start_block(0, {"type": "thinking", "thinking": "", "signature": ""}),
    _block_delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
    _block_delta(0, {"type": "thinking_delta", "thinking": "think ✓"}),
    _block_delta(0, {"type": "signature_delta", "signature": SIG}),
    _stop_block(0),
    _start_block(1, {"type": "text", "text": ""}),
    _block_delta(1, {"type": "text_delta", "text": "Héllo"}),
    {"type": "ping"},
    _block_delta(1, {"type": "text_delta", "text": " wörld 👋"}),
    _stop_block(1),
    _start_block(2, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
    _block_delta(2, {"type": "input_json_delta", "partial_json": '{"query": "weather"}'}),
    _stop_block(2),
    _start_block(3, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
    _stop_block(3),
    _start_block(4, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    _block_delta(4, {"type": "input_json_delta", "partial_json": ""}),
    _block_delta(4, {"type": "input_json_delta", "partial_json": '{"location": "San Fra'}),
    _block_delta(4, {"type": "input_json_delta", "partial_json": 'ncisco"}'}),
    _stop_block(4),
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 89}},
    {"type": "message_stop"},
]
UPSTREAM_STREAM = named_sse(UPSTREAM_EVENTS)
PARSED: list[ir.Event] = [
    ir.Start(
        "msg_stream", "claude-sonnet-4-5-20250929", ir.Usage(input_tokens=25, output_tokens=1, cache_read_tokens=100, cache_write_tokens=10)
    ),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, text="Let me ", family=FAMILY),
    ir.ThinkingDelta(0, text="think ✓", family=FAMILY),
    ir.ThinkingDelta(0, signature=SIG, family=FAMILY),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "Héllo"),
    ir.TextDelta(1, " wörld 👋"),
    ir.BlockStop(1),
    ir.BlockStart(4, "tool_call", id="toolu_1", name="get_weather"),
    ir.ToolArgsDelta(4, ""),
    ir.ToolArgsDelta(4, '{"location": "San Fra'),
    ir.ToolArgsDelta(4, 'ncisco"}'),
    ir.BlockStop(4),
    ir.Finish("tool_use", ir.Usage(input_tokens=25, output_tokens=89, cache_read_tokens=100, cache_write_tokens=10)),
]


def _parse(*chunks: bytes) -> list[ir.Event]:
    return parse_stream(dialect.stream_parser(), *chunks)


def test_parser_golden() -> None:
    assert _parse(UPSTREAM_STREAM) == PARSED
    assert_well_formed(PARSED)


def test_parser_start_usage_is_what_message_start_said() -> None:
    """The Start event is not changed afterwards by the usage updates of message_delta."""
    parser = dialect.stream_parser()
    start = parser.frame(json.dumps(UPSTREAM_EVENTS[0]))[0]
    rest = [e for event in UPSTREAM_EVENTS[1:] for e in parser.frame(json.dumps(event))] + parser.end()
    assert start == ir.Start("msg_stream", "claude-sonnet-4-5-20250929", ir.Usage(25, 1, 100, 10))
    finish = rest[-1]
    assert isinstance(finish, ir.Finish) and finish.usage.output_tokens == 89


def test_parser_gives_the_same_events_at_every_split() -> None:
    for cut in range(1, len(UPSTREAM_STREAM)):
        assert _parse(UPSTREAM_STREAM[:cut], UPSTREAM_STREAM[cut:]) == PARSED, cut


def test_parser_one_byte_at_a_time() -> None:
    assert _parse(*[UPSTREAM_STREAM[i : i + 1] for i in range(len(UPSTREAM_STREAM))]) == PARSED


def test_parser_crlf_and_a_missing_final_blank_line() -> None:
    crlf = UPSTREAM_STREAM.replace(b"\n", b"\r\n")
    assert _parse(crlf) == PARSED
    assert _parse(UPSTREAM_STREAM.rstrip(b"\n")) == PARSED  # message_stop without its blank line still counts


def test_parser_skips_unknown_blocks_but_keeps_the_indexes() -> None:
    """server_tool_use and its input deltas are Anthropic's own business: nothing of them reaches ir."""
    events = _parse(UPSTREAM_STREAM)
    assert not any(getattr(e, "index", None) in (2, 3) for e in events)
    assert [e.index for e in events if isinstance(e, ir.BlockStart)] == [0, 1, 4]
    # ...and the renderers downstream cope with the gap.
    claude = named_frames(_render(events))
    assert [f["index"] for f in claude if f["type"] == "content_block_start"] == [0, 1, 2]


def test_parser_text_already_in_content_block_start() -> None:
    stream = named_sse(
        [
            _MESSAGE_START,
            _start_block(0, {"type": "thinking", "thinking": "pre", "signature": ""}),
            _stop_block(0),
            _start_block(1, {"type": "text", "text": "Hi"}),
            _block_delta(1, {"type": "text_delta", "text": "!"}),
            _stop_block(1),
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
            {"type": "message_stop"},
        ]
    )
    got = collect(_parse(stream))
    assert got.error is None and got.response.stop_reason == "end_turn"
    thinking, text = got.response.parts
    assert isinstance(thinking, ir.ThinkingPart) and thinking.text == "pre" and text == ir.TextPart("Hi!")


def test_parser_message_delta_usage_updates() -> None:
    stream = named_sse(
        [
            _MESSAGE_START,
            {
                "type": "message_delta",
                "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
                "usage": {"input_tokens": 30, "output_tokens": 7, "cache_read_input_tokens": 90, "cache_creation_input_tokens": None},
            },
            {"type": "message_delta", "delta": {"stop_reason": "max_tokens", "stop_sequence": None}, "usage": {"output_tokens": 9}},
            {"type": "message_stop"},
        ]
    )
    # Counts are cumulative: each one overwrites; null leaves the message_start value.
    assert _parse(stream)[-1] == ir.Finish(
        "max_tokens", ir.Usage(input_tokens=30, output_tokens=9, cache_read_tokens=90, cache_write_tokens=10)
    )


def test_parser_errors_and_endings() -> None:
    overloaded = named_sse([_MESSAGE_START, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}])
    assert _parse(overloaded)[-1] == ir.StreamError("overloaded", "Overloaded")
    rate = _parse(named_sse([{"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}]))
    assert rate == [ir.StreamError("rate_limit", "slow")]
    odd = _parse(named_sse([{"type": "error", "error": {"type": "brand_new_error", "message": "?"}}]))
    assert odd == [ir.StreamError("api_error", "?")]
    before_stop = UPSTREAM_STREAM[: UPSTREAM_STREAM.index(b"event: message_stop")]
    cut = _parse(before_stop)
    assert cut[:-1] == PARSED[:-1]  # everything up to the end arrives; message_delta alone does not finish
    assert cut[-1] == ir.StreamError("api_error", "upstream stream ended before message_stop")
    assert _parse(b"") == [ir.StreamError("api_error", "upstream stream ended before message_stop")]
    unknown = named_sse([_MESSAGE_START, {"type": "brand_new_event", "x": 1}, {"type": "message_stop"}])
    assert _parse(unknown)[-1] == ir.Finish("end_turn", ir.Usage(25, 1, 100, 10))


def test_parser_agrees_with_parse_response() -> None:
    blocks = [e["content_block"] for e in UPSTREAM_EVENTS if e["type"] == "content_block_start"]
    thinking, text, server, result, call = (dict(b) for b in blocks)
    thinking.update(thinking="Let me think ✓", signature=SIG)
    text.update(text="Héllo wörld 👋")
    call.update(input={"location": "San Francisco"})
    body = {
        **_MESSAGE_START["message"],
        "content": [thinking, text, server, result, call],
        "stop_reason": "tool_use",
        "usage": {**_MESSAGE_START["message"]["usage"], "output_tokens": 89},
    }
    assert collect(_parse(UPSTREAM_STREAM)) == ir.Snapshot(dialect.parse_response(body))


def test_error_message() -> None:
    assert (
        dialect.error_message({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too big"}})
        == "max_tokens: too big"
    )
    assert dialect.error_message({"type": "error", "error": {"type": "api_error"}}) == "{'type': 'api_error'}"
    assert dialect.error_message("<html>502 Bad Gateway</html>") == "<html>502 Bad Gateway</html>"
    assert dialect.error_message({"detail": "x" * 1000}) == str({"detail": "x" * 1000})[:500]


# ---- round trips ------------------------------------------------------------------------

_sig = st.text(alphabet="ABCDEFabcdef0123456789+/=", min_size=4, max_size=16)
_media = st.sampled_from(
    [
        ir.MediaPart("image/png", data="iVBORw0KGgo="),
        ir.MediaPart("image/gif", url="https://x.test/a.gif"),
        ir.MediaPart("image/jpeg", url="https://x.test/a"),
        ir.MediaPart("application/pdf", data="JVBERi0=", kind="document"),
        ir.MediaPart("application/pdf", url="https://x.test/d.pdf", kind="document"),
        ir.MediaPart("text/plain", data="notes", kind="document"),
    ]
)


@st.composite
def _assistant_parts(draw: st.DrawFn, turn: int) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for n in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "thinking", "redacted", "call"]))
        if kind == "text":
            parts.append(ir.TextPart(draw(texts)))
        elif kind == "thinking":
            parts.append(ir.ThinkingPart(draw(st.text(max_size=20)), draw(_sig), FAMILY))
        elif kind == "redacted":
            parts.append(ir.ThinkingPart("", draw(_sig), FAMILY, redacted=True))
        else:
            parts.append(ir.ToolCallPart(f"toolu_{turn}_{n}", draw(idents), draw(tool_args)))
    return parts


@st.composite
def _requests(draw: st.DrawFn) -> ir.Request:
    messages: list[ir.Message] = []
    calls: list[str] = []
    for turn in range(draw(st.integers(1, 4))):
        user: list[ir.Part] = [
            ir.ToolResultPart(c, draw(st.lists(st.builds(ir.TextPart, texts) | _media, max_size=2)), draw(st.booleans())) for c in calls
        ]
        user += draw(st.lists(st.builds(ir.TextPart, texts) | _media, min_size=0 if calls else 1, max_size=2))
        messages.append(ir.Message("user", user))
        if draw(st.booleans()):
            messages.append(ir.Message("system", draw(st.lists(st.builds(ir.TextPart, texts), min_size=1, max_size=2))))
        parts = draw(_assistant_parts(turn))
        calls = [p.id for p in parts if isinstance(p, ir.ToolCallPart)]
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
    choice = draw(st.sampled_from(choices))
    max_tokens = draw(st.integers(1, 200_000))
    budget = draw(st.integers(1024, max_tokens - 1)) if max_tokens > 1025 and draw(st.booleans()) else None
    return ir.Request(
        model=draw(idents),
        messages=messages,
        system=draw(st.lists(st.builds(ir.TextPart, texts), max_size=2)),
        tools=tools,
        tool_choice=choice,
        # Anthropic can only say "no parallel calls", and only alongside a tool_choice that allows calls.
        parallel_tool_calls=draw(st.none() | st.just(False)) if choice is not None and choice.mode != "none" else None,
        max_tokens=max_tokens,
        temperature=draw(st.none() | st.floats(0, 1)),
        top_p=draw(st.none() | st.floats(0, 1)),
        top_k=draw(st.none() | st.integers(1, 500)),
        stop=draw(st.lists(texts, max_size=3)),
        stream=draw(st.booleans()),
        reasoning=None if budget is None else ir.Reasoning(budget=budget),
        response_schema=draw(st.none() | st.just({"type": "object", "properties": {"x": {"type": "integer"}}})),
        user=draw(st.none() | idents),
    )


@settings(max_examples=150, deadline=None)
@given(request=_requests())
def test_request_round_trip(request: ir.Request) -> None:
    body = orjson.loads(orjson.dumps(dialect.encode_request(request, request.model, EncodeOptions())))
    expected = request
    if "thinking" in body:  # Anthropic takes no top_k and only the default temperature with thinking
        expected = dataclasses.replace(expected, temperature=None, top_k=None)
    elif request.tool_choice is not None and request.tool_choice.mode in ("any", "tool"):  # nor thinking with a forced tool
        expected = dataclasses.replace(expected, reasoning=None)
    assert dialect.parse_request(body) == expected


@st.composite
def _responses(draw: st.DrawFn) -> ir.Response:
    parts = draw(_assistant_parts(0))
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    stop: ir.StopReason = (
        "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "stop_sequence", "refusal", "pause_turn"]))
    )
    usage = ir.Usage(*(draw(st.integers(0, 10**6)) for _ in range(4)))
    return ir.Response(
        id=f"msg_{draw(idents)}",
        model=draw(idents),
        parts=parts,
        stop_reason=stop,
        stop_sequence=draw(texts) if stop == "stop_sequence" else None,
        usage=usage,
    )


@settings(max_examples=150, deadline=None)
@given(response=_responses())
def test_response_round_trip(response: ir.Response) -> None:
    body = dialect.render_response(response)
    SDKMessage.model_validate(body)
    assert dialect.parse_response(orjson.loads(orjson.dumps(body))) == response


@st.composite
def _stream_parts(draw: st.DrawFn) -> list[ir.Part]:
    """What an upstream of any family may stream: Anthropic's own thinking, others' thinking, bare signatures."""
    parts: list[ir.Part] = []
    for n in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["text", "thinking", "signed", "foreign", "bare", "call"]))
        if kind == "text":
            parts.append(ir.TextPart(draw(texts)))
        elif kind == "thinking":
            parts.append(ir.ThinkingPart(draw(texts), draw(_sig), FAMILY))
        elif kind == "signed":
            parts.append(ir.ThinkingPart("", draw(_sig), FAMILY))
        elif kind == "foreign":
            parts.append(
                ir.ThinkingPart(draw(texts), draw(st.none() | _sig), draw(st.sampled_from(["gemini", "openai", "openai-responses"])))
            )
        elif kind == "bare":
            parts.append(ir.ThinkingPart("", draw(_sig), draw(st.sampled_from(["gemini", "openai-responses"]))))
        else:
            parts.append(ir.ToolCallPart(f"toolu_{n}", draw(idents), draw(tool_args), draw(st.none() | _sig)))
    return parts


def _as_claude_sees_it(parts: list[ir.Part], model: str = "upstream") -> list[ir.Part]:
    """Another family's state is sealed into the block's signature (a redacted_thinking block when it
    has no text; one just before a Gemini tool call for its signature); a block with nothing goes."""
    out: list[ir.Part] = []
    for part in parts:
        if isinstance(part, ir.ThinkingPart) and part.family != FAMILY:
            if part.text or part.signature:
                envelope = seal(Sealed(str(part.family), model, part.signature))
                out.append(ir.ThinkingPart(part.text, envelope, FAMILY, redacted=not part.text))
        elif isinstance(part, ir.ToolCallPart) and part.signature:
            out.append(ir.ThinkingPart("", seal(Sealed("gemini", model, part.signature, call_id=part.id)), FAMILY, redacted=True))
            out.append(dataclasses.replace(part, signature=None))
        else:
            out.append(part)
    return out


def _as_sent_back(parts: list[ir.Part]) -> list[ir.Part]:
    """What a client's history gives back once its envelopes are opened: every family's own state."""
    return [p for p in parts if not (isinstance(p, ir.ThinkingPart) and not p.text and not p.signature)]


@st.composite
def _streamed(draw: st.DrawFn) -> ir.Response:
    parts = draw(_stream_parts())
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    stop: ir.StopReason = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "stop_sequence", "refusal"]))
    return ir.Response(
        id=f"msg_{draw(idents)}",
        model="upstream",
        parts=parts,
        stop_reason=stop,
        stop_sequence="END" if stop == "stop_sequence" else None,
        usage=ir.Usage(*(draw(st.integers(0, 10**6)) for _ in range(4))),
    )


@settings(max_examples=100, deadline=None)
@given(response=_streamed())
def test_stream_round_trip_through_renderer_and_parser(response: ir.Response) -> None:
    parsed = _parse(_render(events_for(response)))
    assert_well_formed(parsed)
    expected = _as_claude_sees_it(response.parts)
    assert [e.index for e in parsed if isinstance(e, ir.BlockStart)] == list(range(len(expected)))  # no gaps
    assert parsed[0] == ir.Start(response.id, "client-model", ir.Usage(input_tokens=1))  # an empty prompt's estimate
    assert collect(parsed) == ir.Snapshot(dataclasses.replace(response, model="client-model", parts=expected))


@settings(max_examples=30, deadline=None)
@given(response=_streamed())
def test_sdk_accumulates_any_rendered_stream(response: ir.Response) -> None:
    _, final = _sdk_final(_render(events_for(response)))
    expected = _as_claude_sees_it(response.parts)
    assert len(final.content) == len(expected)
    for block, part in zip(final.content, expected, strict=True):
        if isinstance(part, ir.TextPart):
            assert block.type == "text" and block.text == part.text
        elif isinstance(part, ir.ThinkingPart) and part.redacted:
            assert block.type == "redacted_thinking" and block.data == part.signature
        elif isinstance(part, ir.ThinkingPart):
            assert block.type == "thinking" and (block.thinking, block.signature) == (part.text, part.signature or "")
        else:
            assert isinstance(part, ir.ToolCallPart)
            assert block.type == "tool_use" and (block.id, block.name, block.input) == (part.id, part.name, part.arguments)
    assert (final.stop_reason, final.stop_sequence) == (response.stop_reason, response.stop_sequence)
    assert final.usage.output_tokens == response.usage.output_tokens
    content = [b.model_dump(exclude_none=True) for b in final.content]
    if content:  # sent back as history, the envelopes give every family its own state back
        history = dialect.parse_request({"model": "m", "max_tokens": 9, "messages": [{"role": "assistant", "content": content}]})
        assert history.messages[0].parts == _as_sent_back(response.parts)


@given(st.integers(0, 10**6), st.text())
@settings(max_examples=300)
def test_a_text_delta_frame_is_what_the_generic_frame_would_be(index: int, text: str) -> None:
    generic = client_response._delta(index, {"type": "text_delta", "text": text})
    assert client_response._text_delta(index, text) == generic
