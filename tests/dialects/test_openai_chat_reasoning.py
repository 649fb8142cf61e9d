"""Reasoning as OpenAI-compatible servers send it, read by the openai_chat upstream side; their error bodies."""

from __future__ import annotations

from typing import Any

import orjson

from babelgate import ir
from babelgate.dialects import openai_chat as dialect
from tests.fakes import openai_wire as wire

MISTRAL_CONTENT = [
    {"type": "thinking", "thinking": [{"type": "text", "text": "Let me see. "}, {"type": "text", "text": "Two."}]},
    {"type": "text", "text": "It is 2."},
]


def _events(chunks: list[dict[str, Any]]) -> list[ir.Event]:
    parser = dialect.stream_parser()
    events = [e for c in chunks for e in parser.frame(orjson.dumps(c).decode())]
    return events + parser.frame("[DONE]") + parser.end()


def test_mistral_thinking_chunks() -> None:
    body = wire.completion(None)
    body["choices"][0]["message"]["content"] = MISTRAL_CONTENT
    parts = dialect.parse_response(body).parts
    assert parts == [ir.ThinkingPart("Let me see. Two.", family="openai"), ir.TextPart("It is 2.")]
    chunks = [
        wire.chunk({"role": "assistant", "content": ""}),
        wire.chunk({"content": MISTRAL_CONTENT[:1]}),
        wire.chunk({"content": "It is 2."}),
    ]
    snapshot = None
    for event in _events([*chunks, wire.chunk({}, "stop")]):
        snapshot = ir.accumulate(event, snapshot)
    assert snapshot is not None and snapshot.response.parts == parts


def test_openrouter_reasoning_details_without_reasoning() -> None:
    body = wire.completion("Hi")
    details = [{"type": "reasoning.summary", "summary": "Plan. "}, {"type": "reasoning.encrypted", "data": "opaque"}]
    body["choices"][0]["message"].update({"reasoning": None, "reasoning_details": [*details, {"type": "reasoning.text", "text": "More."}]})
    assert dialect.parse_response(body).parts[0] == ir.ThinkingPart("Plan. More.", family="openai")


def test_a_delta_with_both_reasoning_and_its_details_counts_once() -> None:
    delta = {"reasoning": "abc", "reasoning_details": [{"type": "reasoning.text", "text": "abc", "index": 0}]}
    thinking = [
        e
        for e in _events([wire.chunk({"role": "assistant"}), wire.chunk(delta), wire.chunk({}, "stop")])
        if isinstance(e, ir.ThinkingDelta)
    ]
    assert [e.text for e in thinking] == ["abc"]


def test_validation_error_bodies() -> None:
    mistral = {
        "object": "error",
        "message": {
            "detail": [{"type": "extra_forbidden", "loc": ["body", "user"], "msg": "Extra inputs are not permitted", "input": "u"}]
        },
        "type": "invalid_request_error",
    }
    assert dialect.error_message(mistral) == "body.user: Extra inputs are not permitted"
    fastapi = {"detail": [{"loc": ["body", "messages", 0], "msg": "Field required", "type": "missing"}]}
    assert dialect.error_message(fastapi) == "body.messages.0: Field required"
    cerebras = {"message": "x: property 'x' is unsupported", "type": "invalid_request_error", "code": "wrong_api_format"}
    assert dialect.error_message(cerebras) == "x: property 'x' is unsupported"
