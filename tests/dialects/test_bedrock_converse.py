"""The bedrock_converse dialect: ir requests as Converse bodies, Converse responses and ConverseStream events as ir."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import orjson
import pytest

from babelgate import ir
from babelgate.dialects import bedrock_converse as converse
from babelgate.dialects.base import EncodeOptions
from babelgate.errors import BadRequest, Kind

TOOL = ir.Tool("Bash", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}}})


def encode(request: ir.Request) -> dict[str, Any]:
    return converse.encode_request(request, "amazon.nova-pro-v1:0", EncodeOptions())


def request(*messages: ir.Message, **extra: Any) -> ir.Request:
    return ir.Request("nova", list(messages), **extra)


def test_messages_alternate_and_system_turns_join_the_system_prompt() -> None:
    body = encode(
        request(
            ir.Message("system", [ir.TextPart("Be terse.")]),
            ir.Message("user", [ir.TextPart("one")]),
            ir.Message("user", [ir.TextPart(""), ir.TextPart("two")]),
            ir.Message("assistant", [ir.ThinkingPart("hmm", signature="sig", family="anthropic"), ir.TextPart("ok")]),
            ir.Message("assistant", []),
            system=[ir.TextPart("You help.")],
        )
    )
    assert body["system"] == [{"text": "You help."}, {"text": "Be terse."}]
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
        {"role": "assistant", "content": [{"text": "ok"}]},  # another family's thinking stays behind
    ]


def test_tool_calls_results_and_choices() -> None:
    call = ir.ToolCallPart("call_1", "Bash", {"command": "ls"})
    failed = ir.ToolResultPart("call_1", [ir.TextPart("no such dir")], is_error=True)
    empty = ir.ToolResultPart("call_2", [])
    base = request(
        ir.Message("user", [ir.TextPart("go")]), ir.Message("assistant", [call]), ir.Message("user", [failed, empty]), tools=[TOOL]
    )
    body = encode(base)
    assert body["messages"][1]["content"] == [{"toolUse": {"toolUseId": "call_1", "name": "Bash", "input": {"command": "ls"}}}]
    assert body["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "call_1", "content": [{"text": "no such dir"}], "status": "error"}},
        {"toolResult": {"toolUseId": "call_2", "content": [{"text": "(no output)"}]}},
    ]
    assert body["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "Bash", "description": "Run a command", "inputSchema": {"json": TOOL.parameters}}}]
    }
    choices = {
        "auto": {"auto": {}},
        "any": {"any": {}},
        "tool": {"tool": {"name": "Bash"}},
        "none": None,  # Converse has no "none": the tools stay described, no choice is sent
    }
    for mode, expected in choices.items():
        chosen = dataclasses.replace(base, tool_choice=ir.ToolChoice(mode, "Bash" if mode == "tool" else None))  # type: ignore[arg-type]
        assert encode(chosen)["toolConfig"].get("toolChoice") == expected


def test_inference_config_and_a_response_schema() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    body = encode(
        request(
            ir.Message("user", [ir.TextPart("x")]), max_tokens=100, temperature=1.7, top_p=0.9, stop=["END", ""], response_schema=schema
        )
    )
    assert body["inferenceConfig"] == {"maxTokens": 100, "temperature": 1.0, "topP": 0.9, "stopSequences": ["END"]}
    structure = body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    assert body["outputConfig"]["textFormat"]["type"] == "json_schema" and orjson.loads(structure["schema"]) == schema


def test_images_and_documents() -> None:
    parts: list[ir.Part] = [
        ir.MediaPart("image/jpeg", data="/9j/4AAQ"),
        ir.MediaPart("image/webp", url="s3://bucket/cat.webp"),
        ir.MediaPart("application/pdf", data="JVBERi0x", kind="document"),
        ir.MediaPart("text/plain", data="plain notes", kind="document"),
    ]
    content = encode(request(ir.Message("user", parts)))["messages"][0]["content"]
    assert content[0] == {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}}
    assert content[1] == {"image": {"format": "webp", "source": {"s3Location": {"uri": "s3://bucket/cat.webp"}}}}
    assert content[2] == {"document": {"format": "pdf", "name": "document-1", "source": {"bytes": "JVBERi0x"}}}
    assert content[3]["document"]["name"] == "document-2" and content[3]["document"]["format"] == "txt"
    assert base64.b64decode(content[3]["document"]["source"]["bytes"]) == b"plain notes"


@pytest.mark.parametrize(
    ("part", "says"),
    [
        (ir.MediaPart("image/png", url="https://example.com/cat.png"), "inline (base64) or from s3://"),
        (ir.MediaPart("image/tiff", data="AAAA"), "png, jpeg, gif or webp"),
        (ir.MediaPart("application/zip", data="AAAA", kind="document"), "does not take application/zip"),
    ],
)
def test_media_converse_cannot_take_is_a_bad_request(part: ir.MediaPart, says: str) -> None:
    with pytest.raises(BadRequest, match=r"messages\.0\.content\.0") as caught:
        encode(request(ir.Message("user", [part])))
    assert says in caught.value.message


def test_a_whole_response() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "thinking", "signature": "c2ln"}}},
                    {"text": "Here."},
                    {"toolUse": {"toolUseId": "tooluse_9", "name": "Bash", "input": {"command": "pwd"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 4, "totalTokens": 20, "cacheReadInputTokens": 6},
        "metrics": {"latencyMs": 100},
    }
    response = converse.parse_response(body)
    assert response.parts == [
        ir.ThinkingPart("thinking", signature="c2ln", family="bedrock"),
        ir.TextPart("Here."),
        ir.ToolCallPart("tooluse_9", "Bash", {"command": "pwd"}),
    ]
    assert response.stop_reason == "tool_use" and response.usage == ir.Usage(10, 4, 6, 0)
    assert converse.parse_response({**body, "stopReason": "guardrail_intervened"}).stop_reason == "refusal"
    assert converse.parse_response({**body, "stopReason": "model_context_window_exceeded"}).stop_reason == "max_tokens"


def frames(*events: tuple[str, dict[str, Any]]) -> list[str]:
    return [orjson.dumps({name: payload}).decode() for name, payload in events]


def parse(*events: tuple[str, dict[str, Any]]) -> list[ir.Event]:
    parser = converse.stream_parser()
    return [e for data in frames(*events) for e in parser.frame(data)] + parser.end()


def test_a_stream_with_reasoning_text_and_a_tool_call() -> None:
    events = parse(
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Let me see."}}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Running."}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("contentBlockStart", {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "Bash"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"comm'}}}),
        ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": 'and": "ls"}'}}}),
        ("contentBlockStop", {"contentBlockIndex": 2}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19}, "metrics": {"latencyMs": 9}}),
    )
    snapshot = None
    for event in events:
        snapshot = ir.accumulate(event, snapshot)
    assert snapshot is not None and snapshot.error is None
    response = snapshot.response
    assert response.parts == [
        ir.ThinkingPart("Let me see.", signature="c2ln", family="bedrock"),
        ir.TextPart("Running."),
        ir.ToolCallPart("tooluse_1", "Bash", {"command": "ls"}),
    ]
    assert response.stop_reason == "tool_use" and response.usage.input_tokens == 12 and response.usage.output_tokens == 7


def test_a_stream_without_metadata_still_finishes_and_one_without_messagestop_fails() -> None:
    finished = parse(
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}}),
        ("messageStop", {"stopReason": "max_tokens"}),
    )
    assert finished[-2:] == [ir.BlockStop(0), ir.Finish("max_tokens", ir.Usage())]
    cut = parse(("messageStart", {"role": "assistant"}), ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}}))
    assert isinstance(cut[-1], ir.StreamError) and "before messageStop" in cut[-1].message


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("throttlingException", Kind.RATE_LIMIT),
        ("serviceUnavailableException", Kind.OVERLOADED),
        ("validationException", Kind.INVALID_REQUEST),
        ("modelStreamErrorException", Kind.UPSTREAM),
        ("internalServerException", Kind.UPSTREAM),
    ],
)
def test_a_stream_exception_is_a_stream_error(name: str, kind: Kind) -> None:
    events = parse(("messageStart", {"role": "assistant"}), (name, {"message": "it broke"}), ("metadata", {"usage": {}}))
    assert events[-1] == ir.StreamError(kind.value, f"{name}: it broke")  # nothing after the error counts


def test_the_client_side_is_not_there() -> None:
    with pytest.raises(NotImplementedError, match="upstream-only dialect"):
        converse.parse_request({"messages": []})
    with pytest.raises(NotImplementedError, match="upstream-only dialect"):
        converse.passthrough({}, request(), "nova")
    assert converse.error_message({"message": "Input is too long."}) == "Input is too long."
    assert converse.error_message({"Message": "Authentication failed"}) == "Authentication failed"
