"""The Gemini generateContent dialect, both directions, checked against the `google-genai` SDK."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import orjson
import pytest
from google import genai
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st

from babelgate import ir
from babelgate.dialects import gemini as dialect
from babelgate.dialects.base import EncodeOptions
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.reasoning import Sealed, seal
from tests.dialects.helpers import (
    assert_well_formed,
    capture,
    collect,
    events_for,
    idents,
    parse_stream,
    render_stream,
    sse_transport,
    texts,
    tool_args,
)

SIG = "c2lnbmF0dXJl"  # thoughtSignature is bytes on the wire: base64
SIG2 = "b3RoZXI="


def _fixture(name: str) -> tuple[dict[str, Any], str, bool]:
    """A captured request's body, and the model and stream flag its URL carries."""
    captured = capture(name)
    target = captured["path"].split("/models/", 1)[1].split("?")[0]
    model, _, action = target.rpartition(":")
    return captured["body"], model, action == "streamGenerateContent"


def _sdk_client(body: bytes, seen: list[str] | None = None) -> genai.Client:
    options = types.HttpOptions(base_url="http://gateway.test", api_version="v1beta", client_args={"transport": sse_transport(body, seen)})
    return genai.Client(api_key="k", http_options=options)


# ---- client side: parsing ----------------------------------------------------------------


def test_gemini_cli_router_call() -> None:
    body, model, stream = _fixture("gemini-cli-0.61.0-tool-loop.1.json")
    request = dialect.parse_request(body, model, stream)
    assert (request.model, request.stream) == ("gemini-3.5-flash-lite", False)
    assert request.system[0].text.startswith("\nYou are a specialized Task Routing AI.")
    assert [m.role for m in request.messages] == ["user", "user"]
    assert request.json_mode is True
    assert request.response_schema == {
        "type": "object",
        "properties": {
            "complexity_reasoning": {"type": "string", "description": "Brief explanation for the score."},
            "complexity_score": {"type": "integer", "description": "Complexity score from 1-100."},
        },
        "required": ["complexity_reasoning", "complexity_score"],
    }
    assert request.reasoning == ir.Reasoning(effort="high")
    assert (request.temperature, request.top_p, request.top_k) == (1.0, 0.95, 64)


def test_gemini_cli_tool_loop() -> None:
    body, model, stream = _fixture("gemini-cli-0.61.0-tool-loop.3.json")
    request = dialect.parse_request(body, model, stream)
    assert (request.model, request.stream) == ("gemini-3.8-flash", True)
    assert len(request.tools) == 15 and request.tools[8].name == "run_shell_command"
    assert request.tools[8].parameters["required"] == ["command"]
    call_id = "run_shell_command_1795311913050_0"
    assert request.messages[1] == ir.Message(
        "assistant",
        [
            ir.ToolCallPart(
                call_id,
                "run_shell_command",
                {"command": "echo hello > out.txt", "description": "write file"},
                "skip_thought_signature_validator",
            )
        ],
    )
    result = request.messages[2].parts[0]
    assert isinstance(result, ir.ToolResultPart)
    assert (result.call_id, result.name, result.is_error) == (call_id, "run_shell_command", False)
    assert len(result.content) == 1 and isinstance(result.content[0], ir.TextPart)
    assert re.fullmatch(r"<untrusted_context>\nOutput: \(empty\)\nProcess Group PGID: \d+\n</untrusted_context>", result.content[0].text)


@pytest.mark.parametrize("name", [f"gemini-cli-0.61.0-tool-loop.{i}.json" for i in (1, 2, 3)])
def test_gemini_cli_requests_survive_a_round_trip(name: str) -> None:
    body, model, stream = _fixture(name)
    first = dialect.parse_request(body, model, stream)
    encoded = dialect.encode_request(first, model, EncodeOptions())
    again = dialect.parse_request(orjson.loads(orjson.dumps(encoded)), model, stream)
    assert dataclasses.replace(again, tools=[]) == dataclasses.replace(first, tools=[])
    assert [t.name for t in again.tools] == [t.name for t in first.tools]
    for before, after in zip(first.tools, again.tools, strict=True):
        assert set(after.parameters.get("properties") or {}) == set(before.parameters.get("properties") or {})
    last_call = encoded["contents"][-2]["parts"][0] if len(encoded["contents"]) > 2 else None
    if last_call is not None:  # the client's own signature goes back where it came from
        assert last_call["thoughtSignature"] == "skip_thought_signature_validator"


def test_parse_golden_with_ids_signatures_and_snake_case() -> None:
    body = {
        "system_instruction": {"parts": [{"text": "Be kind."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Look"},
                    {"inline_data": {"mime_type": "image/png", "data": "AAAA"}},
                    {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/a.pdf"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "Planning", "thought": True, "thoughtSignature": SIG},
                    {"text": "On it."},
                    {"functionCall": {"name": "read", "args": {"p": "a"}}, "thoughtSignature": SIG2},
                    {"functionCall": {"name": "read", "args": {"p": "b"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "read", "response": {"output": "A"}}},
                    {"functionResponse": {"name": "read", "response": {"error": "missing"}}},
                    {"text": "thanks"},
                ],
            },
            {"role": "model", "parts": [{"text": "Done.", "thoughtSignature": SIG}]},
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "read",
                        "description": "Read.",
                        "parameters": {"type": "OBJECT", "properties": {"p": {"type": "STRING", "nullable": True}}, "required": ["p"]},
                    },
                    {"name": "ping"},
                ]
            },
            {"googleSearch": {}},
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["read"]}},
        "generation_config": {
            "max_output_tokens": 256,
            "stopSequences": ["END"],
            "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
        },
    }
    assert dialect.parse_request(body, "models/gemini-2.5-pro", True) == ir.Request(
        model="gemini-2.5-pro",
        system=[ir.TextPart("Be kind.")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("Look"),
                    ir.MediaPart("image/png", data="AAAA"),
                    ir.MediaPart("application/pdf", url="gs://b/a.pdf", kind="document"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("Planning", SIG, "gemini"),
                    ir.TextPart("On it."),
                    ir.ToolCallPart("call_1_2_read", "read", {"p": "a"}, SIG2),
                    ir.ToolCallPart("call_1_3_read", "read", {"p": "b"}),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart("call_1_2_read", [ir.TextPart("A")], name="read"),
                    ir.ToolResultPart("call_1_3_read", [ir.TextPart("missing")], is_error=True, name="read"),
                    ir.TextPart("thanks"),
                ],
            ),
            ir.Message("assistant", [ir.TextPart("Done."), ir.ThinkingPart("", SIG, "gemini")]),
        ],
        tools=[
            ir.Tool("read", "Read.", {"type": "object", "properties": {"p": {"type": ["string", "null"]}}, "required": ["p"]}),
            ir.Tool("ping", "", {"type": "object", "properties": {}}),
        ],
        tool_choice=ir.ToolChoice("tool", "read"),
        max_tokens=256,
        stop=["END"],
        stream=True,
        stream_usage=True,
        reasoning=ir.Reasoning(budget=1024),
    )


def test_generated_ids_are_stable_and_pair_calls_with_results() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "a", "args": {}}}, {"functionCall": {"name": "b.c", "args": {}}}]},
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "b.c", "response": {"x": 1}}}, {"functionResponse": {"name": "a", "response": {}}}],
            },
        ]
    }
    first, second = dialect.parse_request(body, "m"), dialect.parse_request(json.loads(json.dumps(body)), "m")
    assert first == second
    calls = [p.id for p in first.messages[1].parts if isinstance(p, ir.ToolCallPart)]
    results = [p for p in first.messages[2].parts if isinstance(p, ir.ToolResultPart)]
    assert calls == ["call_1_0_a", "call_1_1_b_c"]
    assert [r.call_id for r in results] == ["call_1_1_b_c", "call_1_0_a"]
    assert results[0].content == [ir.TextPart('{"x":1}')] and results[1].content == []


def test_thinking_config_variants() -> None:
    def reasoning(config: dict[str, Any]) -> ir.Reasoning | None:
        return dialect.parse_request({"contents": [], "generationConfig": {"thinkingConfig": config}}, "m").reasoning

    assert reasoning({"thinkingBudget": 0}) == ir.Reasoning(effort="none")
    assert reasoning({"thinkingBudget": -1}) == ir.Reasoning()
    assert reasoning({"thinkingLevel": "LOW", "includeThoughts": True}) == ir.Reasoning(effort="low")
    assert reasoning({"includeThoughts": False}) is None


_BAD: list[tuple[dict[str, Any], str]] = [
    ({}, "contents"),
    ({"contents": {}}, "contents"),
    ({"contents": ["x"]}, "contents.0"),
    ({"contents": [{"role": "system", "parts": []}]}, "contents.0.role"),
    ({"contents": [{"role": "user", "parts": [{"video": 1}]}]}, "contents.0.parts.0"),
    ({"contents": [{"role": "user", "parts": [{"text": 5}]}]}, "contents.0.parts.0.text"),
    ({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png"}}]}]}, "contents.0.parts.0.inlineData.data"),
    ({"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]}, "contents.0.parts.0.functionCall.name"),
    ({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": []}}]}]}, "contents.0.parts.0.functionCall.args"),
    ({"contents": [{"role": "user", "parts": [{"functionResponse": {"response": {}}}]}]}, "contents.0.parts.0.functionResponse.name"),
    ({"contents": [], "systemInstruction": 3}, "systemInstruction"),
    ({"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]}, "tools.0.functionDeclarations.0.name"),
    (
        {"contents": [], "tools": [{"functionDeclarations": [{"name": "f", "parameters": "x"}]}]},
        "tools.0.functionDeclarations.0.parameters",
    ),
    ({"contents": [], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}, "toolConfig.functionCallingConfig.mode"),
    (
        {"contents": [], "tools": [{"googleSearch": {}}], "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}},
        "toolConfig.functionCallingConfig.mode",
    ),
    (
        {
            "contents": [],
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
        },
        "toolConfig.functionCallingConfig.allowedFunctionNames",
    ),
    ({"contents": [], "generationConfig": {"candidateCount": 2}}, "generationConfig.candidateCount"),
    ({"contents": [], "generationConfig": {"temperature": "warm"}}, "generationConfig.temperature"),
    ({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": "ULTRA"}}}, "generationConfig.thinkingConfig.thinkingLevel"),
]


@pytest.mark.parametrize(("body", "path"), _BAD, ids=[p for _, p in _BAD])
def test_bad_requests_name_the_field(body: dict[str, Any], path: str) -> None:
    with pytest.raises(BadRequest) as caught:
        dialect.parse_request(body, "gemini-x", False)
    assert caught.value.path == path
    assert caught.value.message.startswith(f"{path}: ")


def test_render_error_is_gemini_shaped() -> None:
    assert dialect.render_error(BadRequest("contents.0.role", "bad")) == {
        "error": {"code": 400, "message": "contents.0.role: bad", "status": "INVALID_ARGUMENT"}
    }
    statuses = {
        Kind.AUTHENTICATION: (401, "UNAUTHENTICATED"),
        Kind.PERMISSION: (403, "PERMISSION_DENIED"),
        Kind.NOT_FOUND: (404, "NOT_FOUND"),
        Kind.RATE_LIMIT: (429, "RESOURCE_EXHAUSTED"),
        Kind.OVERLOADED: (503, "UNAVAILABLE"),
        Kind.UPSTREAM: (502, "INTERNAL"),
        Kind.TIMEOUT: (504, "DEADLINE_EXCEEDED"),
    }
    for kind, (code, status) in statuses.items():
        assert dialect.render_error(GatewayError(code, kind, "m")) == {"error": {"code": code, "message": "m", "status": status}}


# ---- client side: rendering --------------------------------------------------------------


def test_render_response_golden_and_sdk_valid() -> None:
    response = ir.Response(
        id="msg_1",
        model="claude-x",
        parts=[
            ir.ThinkingPart("Hmm", SIG, "gemini"),
            ir.ThinkingPart("Foreign", "anthropic-sig", "anthropic"),
            ir.TextPart("Hi"),
            ir.ThinkingPart("", SIG2, "gemini"),
            ir.ToolCallPart("toolu_1", "f", {"a": [1]}, SIG),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=10, output_tokens=8, cache_read_tokens=4, reasoning_tokens=3),
    )
    body = dialect.render_response(response)
    assert body == {
        "candidates": [
            {
                "index": 0,
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Hmm", "thought": True, "thoughtSignature": SIG},
                        {
                            "text": "Foreign",
                            "thought": True,
                            "thoughtSignature": seal(Sealed("anthropic", "claude-x", "anthropic-sig", "Foreign")),
                        },
                        {"text": "Hi", "thoughtSignature": SIG2},
                        {"functionCall": {"id": "toolu_1", "name": "f", "args": {"a": [1]}}, "thoughtSignature": SIG},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "modelVersion": "claude-x",
        "responseId": "msg_1",
        "usageMetadata": {
            "promptTokenCount": 14,
            "candidatesTokenCount": 5,
            "totalTokenCount": 22,
            "cachedContentTokenCount": 4,
            "thoughtsTokenCount": 3,
        },
    }
    parsed = types.GenerateContentResponse.model_validate(body)
    assert parsed.function_calls is not None and parsed.function_calls[0].args == {"a": [1]}
    # Sent back by the SDK (which re-encodes signatures as bytes), every family's state is whole again.
    sent = parsed.candidates[0].content.model_dump(mode="json", exclude_none=True, by_alias=True)  # type: ignore[index, union-attr]
    history = dialect.parse_request({"contents": [{"role": "user", "parts": [{"text": "q"}]}, sent]}, "gemini-3-pro")
    assert history.messages[1].parts == response.parts
    stopped = dialect.render_response(dataclasses.replace(response, stop_reason="max_tokens"))
    assert stopped["candidates"][0]["finishReason"] == "MAX_TOKENS"


_EVENTS: list[ir.Event] = [
    ir.Start("resp-1", "up"),
    ir.BlockStart(0, "thinking"),
    ir.ThinkingDelta(0, "Think", family="gemini"),
    ir.ThinkingDelta(0, signature=SIG, family="gemini"),
    ir.BlockStop(0),
    ir.BlockStart(1, "text"),
    ir.TextDelta(1, "Hel"),
    ir.TextDelta(1, "lo"),
    ir.BlockStop(1),
    ir.BlockStart(2, "tool_call", id="call_x", name="f", signature=SIG2),
    ir.ToolArgsDelta(2, '{"q": "'),
    ir.ToolArgsDelta(2, 'z"}'),
    ir.BlockStop(2),
    ir.Finish("tool_use", ir.Usage(input_tokens=5, output_tokens=6, reasoning_tokens=2)),
]


def _render(events: list[ir.Event]) -> bytes:
    return render_stream(dialect.stream_renderer(ir.Request(model="client-model", messages=[], stream=True)), events)


def test_renderer_frames_golden() -> None:
    raw = _render(_EVENTS)
    frames = [json.loads(block.removeprefix("data: ")) for block in raw.decode().split("\n\n") if block]
    parts = [f["candidates"][0].get("content", {}).get("parts") for f in frames]
    assert parts == [
        [{"text": "Think", "thought": True}],
        [{"text": "", "thought": True, "thoughtSignature": SIG}],
        [{"text": "Hel"}],
        [{"text": "lo"}],
        [{"functionCall": {"id": "call_x", "name": "f", "args": {"q": "z"}}, "thoughtSignature": SIG2}],
        None,
    ]
    assert frames[-1]["candidates"][0]["finishReason"] == "STOP"
    assert frames[-1]["usageMetadata"] == {"promptTokenCount": 5, "candidatesTokenCount": 4, "totalTokenCount": 11, "thoughtsTokenCount": 2}
    assert {f["responseId"] for f in frames} == {"resp-1"} and {f["modelVersion"] for f in frames} == {"client-model"}


def test_sdk_stream_accepts_the_renderer_output() -> None:
    seen: list[str] = []
    client = _sdk_client(_render(_EVENTS), seen)  # keep the client referenced: closing it ends the stream
    chunks = list(client.models.generate_content_stream(model="client-model", contents="hi"))
    assert seen == ["http://gateway.test/v1beta/models/client-model:streamGenerateContent?alt=sse"]
    text = "".join(
        p.text or ""
        for c in chunks
        for p in ((c.candidates[0].content.parts or []) if c.candidates and c.candidates[0].content else [])
        if not p.thought
    )
    assert text == "Hello"
    calls = [fc for c in chunks for fc in c.function_calls or []]
    assert [(fc.id, fc.name, fc.args) for fc in calls] == [("call_x", "f", {"q": "z"})]
    last = chunks[-1]
    assert last.candidates is not None and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None and last.usage_metadata.thoughts_token_count == 2


def test_renderer_error_frame_and_open_calls_at_finish() -> None:
    failed = _render([ir.Start("r", "m"), ir.BlockStart(0, "text"), ir.TextDelta(0, "x"), ir.StreamError(Kind.OVERLOADED.value, "busy")])
    assert failed.endswith(b'data: {"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}\n\n')
    unclosed = _render(
        [ir.Start("r", "m"), ir.BlockStart(0, "tool_call", id="c", name="f"), ir.ToolArgsDelta(0, "{}"), ir.Finish("tool_use", ir.Usage())]
    )
    assert b'"functionCall":{"id":"c","name":"f","args":{}}' in unclosed


# ---- upstream side -----------------------------------------------------------------------


def _request(**changes: Any) -> ir.Request:
    request = ir.Request(
        model="client-model",
        system=[ir.TextPart("Sys")],
        messages=[
            ir.Message(
                "user",
                [
                    ir.TextPart("Hi"),
                    ir.MediaPart("image/jpeg", data="/9j/"),
                    ir.MediaPart("application/pdf", url="gs://b/x.pdf", kind="document"),
                ],
            ),
            ir.Message(
                "assistant",
                [
                    ir.ThinkingPart("theirs", "anthropic-sig", "anthropic"),
                    ir.ThinkingPart("unsigned", None, "gemini"),
                    ir.ThinkingPart("mine", SIG, "gemini"),
                    ir.TextPart("Let me look."),
                    ir.ThinkingPart("", SIG2, "gemini"),
                    ir.ToolCallPart("toolu_1", "lookup", {"q": "x"}),
                    ir.ToolCallPart("toolu_2", "lookup", {"q": "y"}),
                ],
            ),
            ir.Message(
                "user",
                [
                    ir.ToolResultPart("toolu_1", [ir.TextPart("found"), ir.MediaPart("image/png", data="AAAA")]),
                    ir.ToolResultPart("toolu_2", [ir.TextPart("nope")], is_error=True),
                    ir.TextPart("go on"),
                ],
            ),
            ir.Message("system", [ir.TextPart("Be short.")]),
        ],
        tools=[
            ir.Tool(
                "lookup",
                "Look up.",
                {
                    "type": "object",
                    "properties": {"q": {"type": "string", "format": "uri"}},
                    "required": ["q", "gone"],
                    "additionalProperties": False,
                },
            ),
            ir.Tool("noop", "No args.", {"type": "object", "properties": {}}),
        ],
        tool_choice=ir.ToolChoice("tool", "lookup"),
        max_tokens=1000,
        temperature=0.3,
        top_p=0.9,
        top_k=40,
        stop=["a", "b", "c", "d", "e", "f"],
        stream=True,
        reasoning=ir.Reasoning(effort="medium"),
        response_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
        json_mode=True,
    )
    return dataclasses.replace(request, **changes)


def test_encode_request_golden() -> None:
    body = dialect.encode_request(_request(), "gemini-3-flash", EncodeOptions())
    assert body == {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Hi"},
                    {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/"}},
                    {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://b/x.pdf"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "mine", "thought": True, "thoughtSignature": SIG},
                    {"text": "Let me look.", "thoughtSignature": SIG2},
                    {
                        "functionCall": {"id": "toolu_1", "name": "lookup", "args": {"q": "x"}},
                        "thoughtSignature": "skip_thought_signature_validator",
                    },
                    {"functionCall": {"id": "toolu_2", "name": "lookup", "args": {"q": "y"}}},
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"id": "toolu_1", "name": "lookup", "response": {"output": "found"}}},
                    {"functionResponse": {"id": "toolu_2", "name": "lookup", "response": {"error": "nope"}}},
                    {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
                    {"text": "go on"},
                ],
            },
            {"role": "user", "parts": [{"text": "Be short."}]},
        ],
        "systemInstruction": {"parts": [{"text": "Sys"}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "lookup",
                        "description": "Look up.",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"q": {"type": "STRING", "description": "Format: uri."}},
                            "required": ["q"],
                        },
                    },
                    {"name": "noop", "description": "No args."},
                ]
            }
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}},
        "generationConfig": {
            "maxOutputTokens": 1000,
            "temperature": 0.3,
            "topP": 0.9,
            "topK": 40,
            "stopSequences": ["a", "b", "c", "d", "e"],
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
            "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "MEDIUM"},
        },
    }
    types.GenerateContentConfig.model_validate({"tools": body["tools"], "tool_config": body["toolConfig"], **body["generationConfig"]})


def test_encode_for_older_models_and_other_choices() -> None:
    body = dialect.encode_request(
        _request(tool_choice=ir.ToolChoice("any"), reasoning=ir.Reasoning(effort="high")), "gemini-2.5-flash", EncodeOptions()
    )
    model_parts = body["contents"][1]["parts"]
    assert "thoughtSignature" not in model_parts[2]  # no placeholder before Gemini 3
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 16384}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    off = dialect.encode_request(
        _request(reasoning=ir.Reasoning(effort="none"), tool_choice=ir.ToolChoice("none")), "gemini-2.5-flash", EncodeOptions()
    )
    assert off["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 0}
    assert off["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    level_off = dialect.encode_request(_request(reasoning=ir.Reasoning(effort="none")), "gemini-3-flash", EncodeOptions())
    assert level_off["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "MINIMAL"}
    pro_25 = dialect.encode_request(_request(reasoning=ir.Reasoning(effort="none")), "gemini-2.5-pro", EncodeOptions())
    assert pro_25["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 128}
    assert "thinkingConfig" not in dialect.encode_request(_request(), "gemini-2.0-flash", EncodeOptions())["generationConfig"]
    pro = [
        dialect.encode_request(_request(reasoning=ir.Reasoning(effort=e)), "gemini-3.1-pro", EncodeOptions()) for e in ("none", "medium")
    ]
    assert [b["generationConfig"]["thinkingConfig"].get("thinkingLevel") for b in pro] == ["LOW", "HIGH"]
    budget = dialect.encode_request(_request(reasoning=ir.Reasoning(budget=999)), "gemini-3-flash", EncodeOptions())
    assert budget["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 999}


def test_tool_results_find_their_function_name() -> None:
    request = _request()
    result = request.messages[2].parts[0]
    assert isinstance(result, ir.ToolResultPart)
    request.messages[2].parts[0] = dataclasses.replace(result, name="explicit")
    parts = dialect.encode_request(request, "gemini-3-pro", EncodeOptions())["contents"][2]["parts"]
    assert [p["functionResponse"]["name"] for p in parts[:2]] == ["explicit", "lookup"]


def test_passthrough_edits_only_what_routing_changed() -> None:
    body, model, stream = _fixture("gemini-cli-0.61.0-tool-loop.3.json")
    request = dialect.parse_request(body, model, stream)
    assert dialect.passthrough(body, request, "gemini-real") == body
    changed = dialect.passthrough(body, dataclasses.replace(request, reasoning=ir.Reasoning(effort="low")), "gemini-real")
    assert changed["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "LOW"}
    assert {k: v for k, v in changed.items() if k != "generationConfig"} == {k: v for k, v in body.items() if k != "generationConfig"}
    assert body["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "HIGH"


def test_parse_response_golden() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Thinking...", "thought": True},
                        {"text": "Answer", "thoughtSignature": SIG},
                        {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG2},
                        {"functionCall": {"name": "g", "args": {}}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "cachedContentTokenCount": 60,
            "candidatesTokenCount": 20,
            "thoughtsTokenCount": 15,
            "totalTokenCount": 135,
        },
        "modelVersion": "gemini-2.5-pro",
        "responseId": "rid-1",
    }
    response = dialect.parse_response(body)
    ids = [p.id for p in response.parts if isinstance(p, ir.ToolCallPart)]
    assert len(set(ids)) == 2 and ids == [p.id for p in dialect.parse_response(body).parts if isinstance(p, ir.ToolCallPart)]
    assert response == ir.Response(
        id="rid-1",
        model="gemini-2.5-pro",
        parts=[
            ir.ThinkingPart("Thinking...", None, "gemini"),
            ir.TextPart("Answer"),
            ir.ThinkingPart("", SIG, "gemini"),
            ir.ToolCallPart(ids[0], "f", {"a": 1}, SIG2),
            ir.ToolCallPart(ids[1], "g", {}),
        ],
        stop_reason="tool_use",
        usage=ir.Usage(input_tokens=40, output_tokens=35, cache_read_tokens=60, reasoning_tokens=15),
    )
    blocked = dialect.parse_response({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}})
    assert blocked.stop_reason == "refusal" and blocked.parts == []
    assert (
        dialect.parse_response({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]}).stop_reason
        == "max_tokens"
    )


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)


def _chunk(parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0, **{k: v for k, v in extra.items() if k == "finishReason"}}
    body = {"candidates": [candidate], "modelVersion": "gemini-3-pro", "responseId": "rid-7"}
    return {**body, **{k: v for k, v in extra.items() if k != "finishReason"}}


UPSTREAM_STREAM = _sse(
    [
        _chunk([{"text": "**Plan** go", "thought": True}], usageMetadata={"promptTokenCount": 10}),
        _chunk([{"text": " on", "thought": True, "thoughtSignature": SIG}]),
        _chunk([{"text": "Héllo "}]),
        _chunk([{"text": "wörld", "thoughtSignature": SIG2}]),
        _chunk([{"text": "!"}]),
        _chunk(
            [
                {"functionCall": {"name": "f", "args": {"x": [1, 2]}}, "thoughtSignature": SIG},
                {"functionCall": {"id": "given", "name": "g", "args": {}}},
            ]
        ),
        _chunk(
            [{"text": ""}],
            finishReason="STOP",
            usageMetadata={"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 4, "totalTokenCount": 19},
        ),
    ]
)


def _parse(*chunks: bytes) -> list[ir.Event]:
    return parse_stream(dialect.stream_parser(), *chunks)


def test_parser_golden() -> None:
    events = _parse(UPSTREAM_STREAM)
    assert_well_formed(events)
    first_id = next(e.id for e in events if isinstance(e, ir.BlockStart) and e.name == "f")
    assert first_id.startswith("call_")
    assert events == [
        ir.Start("rid-7", "gemini-3-pro", ir.Usage(input_tokens=10)),  # the prompt count of the first chunk
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "**Plan** go", family="gemini"),
        ir.ThinkingDelta(0, " on", signature=SIG, family="gemini"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
        ir.TextDelta(1, "Héllo "),
        ir.TextDelta(1, "wörld"),
        ir.TextDelta(1, "!"),
        ir.BlockStop(1),
        ir.BlockStart(2, "thinking"),
        ir.ThinkingDelta(2, signature=SIG2, family="gemini"),
        ir.BlockStop(2),
        ir.BlockStart(3, "tool_call", id=first_id, name="f", signature=SIG),
        ir.ToolArgsDelta(3, '{"x":[1,2]}'),
        ir.BlockStop(3),
        ir.BlockStart(4, "tool_call", id="given", name="g"),
        ir.ToolArgsDelta(4, "{}"),
        ir.BlockStop(4),
        ir.Finish("tool_use", ir.Usage(input_tokens=10, output_tokens=9, reasoning_tokens=4)),
    ]


def test_parser_gives_the_same_events_at_every_split() -> None:
    whole = _parse(UPSTREAM_STREAM)
    for cut in range(1, len(UPSTREAM_STREAM)):
        assert _parse(UPSTREAM_STREAM[:cut], UPSTREAM_STREAM[cut:]) == whole, cut
    assert _parse(*[UPSTREAM_STREAM[i : i + 1] for i in range(len(UPSTREAM_STREAM))]) == whole


def test_parser_agrees_with_parse_response() -> None:
    chunks = [json.loads(b.removeprefix(b"data: ")) for b in UPSTREAM_STREAM.split(b"\r\n\r\n") if b]
    merged = {
        **chunks[-1],
        "candidates": [
            {**chunks[-1]["candidates"][0], "content": {"parts": [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]}}
        ],
    }
    whole = dialect.parse_response(merged)
    got = collect(_parse(UPSTREAM_STREAM))
    parts = got.response.parts
    texts = "".join(p.text for p in whole.parts if isinstance(p, ir.TextPart))
    assert texts == "".join(p.text for p in parts if isinstance(p, ir.TextPart))
    assert [p for p in whole.parts if isinstance(p, ir.ToolCallPart)] == [p for p in parts if isinstance(p, ir.ToolCallPart)]
    assert got.error is None and (got.response.stop_reason, got.response.usage) == (whole.stop_reason, whole.usage)


def test_parser_errors_and_endings() -> None:
    error = _sse([{"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}}])
    assert _parse(error) == [ir.StreamError("rate_limit", "Resource has been exhausted")]
    cut = _parse(_sse([_chunk([{"text": "partial"}])]))
    assert cut[-1] == ir.StreamError("api_error", "upstream stream ended without a finishReason")
    safety = _parse(_sse([{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "r"}]))
    assert isinstance(safety[-1], ir.Finish) and safety[-1].stop_reason == "refusal"
    limit = _parse(_sse([_chunk([{"text": "abc"}], finishReason="MAX_TOKENS")]))
    assert isinstance(limit[-1], ir.Finish) and limit[-1].stop_reason == "max_tokens"


def test_error_message() -> None:
    assert (
        dialect.error_message({"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}})
        == "API key not valid."
    )
    assert dialect.error_message([{"error": {"code": 503, "message": "overloaded"}}]) == "overloaded"
    assert dialect.error_message("plain") == "plain"


# ---- round trips ------------------------------------------------------------------------

_sig = st.sampled_from([SIG, SIG2, "c2lnMw=="])


@st.composite
def _model_parts(draw: st.DrawFn, turn: int, signed_thoughts: bool = False) -> list[ir.Part]:
    parts: list[ir.Part] = []
    for n in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "thought", "signature", "call"]))
        if kind == "text":
            parts.append(ir.TextPart(draw(texts)))
        elif kind == "thought":
            parts.append(ir.ThinkingPart(draw(texts), draw(_sig if signed_thoughts else st.none() | _sig), "gemini"))
        elif kind == "signature" and not (parts and isinstance(parts[-1], ir.ThinkingPart) and not parts[-1].text):
            parts.append(ir.ThinkingPart("", draw(_sig), "gemini"))
        elif kind == "call":
            parts.append(ir.ToolCallPart(f"id_{turn}_{n}", draw(idents), draw(tool_args), draw(st.none() | _sig)))
    return parts


@st.composite
def _requests(draw: st.DrawFn) -> ir.Request:
    messages: list[ir.Message] = []
    calls: list[ir.ToolCallPart] = []
    for turn in range(draw(st.integers(1, 4))):
        if calls:
            results = [
                ir.ToolResultPart(c.id, draw(st.lists(st.builds(ir.TextPart, texts), max_size=1)), draw(st.booleans()), c.name)
                for c in calls
            ]
            messages.append(ir.Message("user", [*results, *draw(st.lists(st.builds(ir.TextPart, texts), max_size=1))]))
        else:
            user: list[ir.Part] = draw(st.lists(st.builds(ir.TextPart, texts), min_size=1, max_size=2))
            if draw(st.booleans()):
                user.append(ir.MediaPart("image/png", data="iVBORw0KGgo="))
            messages.append(ir.Message("user", user))
        parts = draw(_model_parts(turn, signed_thoughts=True))  # unsigned thoughts are not sent upstream
        calls = [p for p in parts if isinstance(p, ir.ToolCallPart)]
        messages.append(ir.Message("assistant", parts))
    props = st.dictionaries(idents, st.sampled_from([{"type": "string"}, {"type": "integer", "description": "n"}]), max_size=2)
    tools = draw(
        st.lists(
            st.builds(lambda n, d, p: ir.Tool(n, d, {"type": "object", "properties": p}), idents, st.text(max_size=10), props),
            max_size=2,
            unique_by=lambda t: t.name,
        )
    )
    choices = [None, ir.ToolChoice("none")] + (
        [ir.ToolChoice("auto"), ir.ToolChoice("any"), ir.ToolChoice("tool", tools[0].name)] if tools else []
    )
    schema = draw(st.none() | st.just({"type": "object", "properties": {"x": {"type": "integer"}}}))
    reasoning = draw(
        st.sampled_from([None, ir.Reasoning(), ir.Reasoning(effort="none")]) | st.builds(ir.Reasoning, budget=st.integers(1, 32768))
    )
    return ir.Request(
        model="gemini-2.5-flash",
        messages=messages,
        system=draw(st.lists(st.builds(ir.TextPart, texts), max_size=2)),
        tools=tools,
        tool_choice=draw(st.sampled_from(choices)),
        max_tokens=draw(st.none() | st.integers(1, 10**6)),
        temperature=draw(st.none() | st.floats(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1)),
        top_k=draw(st.none() | st.integers(1, 100)),
        stop=draw(st.lists(texts, max_size=5)),
        stream=draw(st.booleans()),
        stream_usage=True,
        reasoning=reasoning,
        response_schema=schema,
        json_mode=schema is not None or draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(request=_requests())
def test_request_round_trip(request: ir.Request) -> None:
    body = orjson.loads(orjson.dumps(dialect.encode_request(request, request.model, EncodeOptions())))
    assert dialect.parse_request(body, request.model, request.stream) == request


@st.composite
def _responses(draw: st.DrawFn) -> ir.Response:
    parts = draw(_model_parts(0))
    calls = any(isinstance(p, ir.ToolCallPart) for p in parts)
    stop: ir.StopReason = "tool_use" if calls else draw(st.sampled_from(["end_turn", "max_tokens", "refusal"]))
    usage = ir.Usage(
        input_tokens=draw(st.integers(0, 10**6)), cache_read_tokens=draw(st.integers(0, 10**6)), reasoning_tokens=draw(st.integers(0, 1000))
    )
    usage.output_tokens = usage.reasoning_tokens + draw(st.integers(0, 10**6))
    return ir.Response(id=draw(idents), model=draw(idents), parts=parts, stop_reason=stop, usage=usage)


@settings(max_examples=150, deadline=None)
@given(response=_responses())
def test_response_round_trip(response: ir.Response) -> None:
    body = dialect.render_response(response)
    types.GenerateContentResponse.model_validate(body)
    assert dialect.parse_response(orjson.loads(orjson.dumps(body))) == response


def _stream_shape(parts: list[ir.Part]) -> list[ir.Part]:
    """What survives streaming: Gemini chunks carry no part boundaries, so adjacent texts (and
    adjacent thoughts, the first unsigned) run together, and a text's signature waits for its end."""
    out: list[ir.Part] = []
    for part in parts:
        previous = out[-1] if out else None
        waiting = isinstance(previous, ir.ThinkingPart) and not previous.text and len(out) > 1 and isinstance(out[-2], ir.TextPart)
        if isinstance(part, ir.TextPart) and waiting:
            signature = out.pop()
            out[-1] = ir.TextPart(out[-1].text + part.text)  # type: ignore[union-attr]
            out.append(signature)
        elif isinstance(part, ir.TextPart) and isinstance(previous, ir.TextPart):
            out[-1] = ir.TextPart(previous.text + part.text)
        elif (
            isinstance(part, ir.ThinkingPart)
            and part.text
            and isinstance(previous, ir.ThinkingPart)
            and previous.text
            and not previous.signature
        ):
            out[-1] = ir.ThinkingPart(previous.text + part.text, part.signature, "gemini")
        else:
            out.append(dataclasses.replace(part))
    return out


@settings(max_examples=100, deadline=None)
@given(response=_responses())
def test_stream_round_trip_through_renderer_and_parser(response: ir.Response) -> None:
    parsed = _parse(_render(events_for(response)))
    assert_well_formed(parsed)
    got = collect(parsed)
    assert _stream_shape(got.response.parts) == _stream_shape(response.parts)
    assert got.error is None and (got.response.stop_reason, got.response.usage) == (response.stop_reason, response.usage)
