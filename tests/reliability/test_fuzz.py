"""Hypothesis fuzz of every POST endpoint: bad requests never get a 5xx, a traceback or a foreign dialect.

One gateway serves the whole module, with one provider of each upstream type (OpenAI Chat,
Anthropic, OpenAI Responses, Gemini), each a real loopback fake that answers valid requests in
its own wire format. Each endpoint gets FUZZ_EXAMPLES generated requests: a valid body of the
caller's dialect with fields replaced by arbitrary JSON, required fields removed, known traps
spliced in (broken base64, an orphan tool result, 130-level schemas, out-of-range numbers), or
a body that is not a JSON object at all, against models of every upstream type. Every answer
must be below 500, in the caller's error shape when it is an error, and free of tracebacks;
nothing the gateway logs may carry one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from babelgate.config import parse
from tests.conftest import RunningGateway, start_gateway
from tests.fakes.turns import UPSTREAM_KINDS, Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply

FUZZ_EXAMPLES = 550  # per endpoint; 10 endpoints
MODELS = [f"m-{kind}" for kind in UPSTREAM_KINDS]
DEEP = 130
REQUEST_DEADLINE = 20  # seconds: every request here is complete and its upstream answers at once


def _nest(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


ENDPOINTS: dict[str, tuple[str, str]] = {  # name: (path, dialect)
    "messages": ("/v1/messages", "anthropic"),
    "count_tokens": ("/v1/messages/count_tokens", "anthropic"),
    "chat": ("/v1/chat/completions", "openai"),
    "responses": ("/v1/responses", "openai"),
    "gemini": ("/v1beta/models/{model}:generateContent", "gemini"),
    "gemini_stream": ("/v1beta/models/{model}:streamGenerateContent?alt=sse", "gemini"),
    "gemini_count": ("/v1beta/models/{model}:countTokens", "gemini"),
    "bedrock": ("/model/{model}/invoke", "bedrock"),
    "vertex": ("/v1/projects/p/locations/us-east5/publishers/anthropic/models/{model}:rawPredict", "anthropic"),
    "azure": ("/openai/deployments/{model}/chat/completions?api-version=2024-10-21", "openai"),
}
BASES: dict[str, dict[str, Any]] = {
    "anthropic": {"model": "m-openai", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    "openai": {"model": "m-openai", "messages": [{"role": "user", "content": "hi"}]},
    "responses": {"model": "m-openai", "input": "hi"},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
}
BAD_IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "not base64!"}}
TRAPS: dict[str, list[tuple[str, Any]]] = {  # (top-level key, value) that every upstream would refuse or that broke us
    "anthropic": [
        ("max_tokens", -1),
        ("temperature", 7),
        ("messages", [{"role": "user", "content": [BAD_IMAGE]}]),
        ("messages", [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x", "content": "x"}]}]),
        ("tools", [{"name": "deep", "input_schema": _nest(DEEP)}]),
        ("stop_sequences", [1, None]),
        ("system", [{"type": "text", "text": 5}]),
    ],
    "openai": [
        ("max_tokens", -1),
        ("max_completion_tokens", 0),
        ("top_p", 3),
        ("messages", [{"role": "tool", "tool_call_id": "call_x", "content": "x"}]),
        ("messages", [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}]),
        ("tools", [{"type": "function", "function": {"name": "deep", "parameters": _nest(DEEP)}}]),
        ("stop", [1]),
    ],
    "responses": [
        ("max_output_tokens", -5),
        ("input", [{"type": "function_call_output", "call_id": "c1", "output": "x"}]),
        ("input", [{"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,%%%"}]}]),
        ("tools", [{"type": "function", "name": "deep", "parameters": _nest(DEEP)}]),
        ("previous_response_id", "resp_1"),
    ],
    "gemini": [
        ("generationConfig", {"maxOutputTokens": -1}),
        ("generationConfig", {"temperature": -2}),
        ("generationConfig", {"responseSchema": _nest(DEEP)}),
        ("contents", [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "***"}}]}]),
        ("contents", [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]),
        ("tools", [{"functionDeclarations": [{"name": "deep", "parameters": _nest(DEEP)}]}]),
    ],
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _body_kind(name: str, dialect: str) -> str:
    if name == "responses":
        return "responses"
    return "anthropic" if dialect == "bedrock" else dialect


@st.composite
def bad_request(draw: st.DrawFn, name: str) -> tuple[str, bytes]:
    path, dialect = ENDPOINTS[name]
    kind = _body_kind(name, dialect)
    model = draw(st.sampled_from([*MODELS, "no-such-model"]))
    url = path.format(model=model)
    how = draw(st.sampled_from(["replace", "remove", "trap", "add", "raw", "nested"]))
    body: Any = json.loads(json.dumps(BASES[kind]))
    if "model" in body:
        body["model"] = model
    if how == "replace":
        body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
    elif how == "remove":
        del body[draw(st.sampled_from(sorted(body)))]
    elif how == "trap":
        key, value = draw(st.sampled_from(TRAPS[kind]))
        body[key] = value
    elif how == "add":
        body[draw(st.sampled_from(["tools", "tool_choice", "stream", "metadata", "system", "generationConfig", "x"]))] = draw(json_values)
    elif how == "nested":
        messages = "contents" if kind == "gemini" else "input" if kind == "responses" else "messages"
        body[messages] = [draw(json_values) for _ in range(draw(st.integers(1, 3)))]
    else:
        return url, draw(
            st.sampled_from([b"", b"{oops", b"[1,2]", b'"text"', b"\xff\xfe\x00", b"[" * 1100 + b"]" * 1100, b"null"])
            | st.binary(max_size=40)
        )
    return url, json.dumps(body).encode()  # orjson writes at most 254 levels


def assert_dialect(dialect: str, status: int, headers: Any, body: Any) -> None:
    if dialect == "anthropic":
        assert body["type"] == "error" and isinstance(body["error"]["type"], str) and isinstance(body["error"]["message"], str)
    elif dialect == "openai":
        assert set(body) == {"error"} and isinstance(body["error"]["message"], str) and isinstance(body["error"]["type"], str)
    elif dialect == "gemini":
        assert set(body) == {"error"} and body["error"]["code"] == status and isinstance(body["error"]["status"], str)
    else:
        assert isinstance(body["message"], str) and headers.get("x-amzn-ErrorType")


def answer(kind: str) -> Any:
    def script(record: Received) -> Reply:
        if kind == "gemini":
            stream = "streamGenerateContent" in record.path
        else:
            stream = isinstance(record.body, dict) and record.body.get("stream") is True
        return reply(kind, Turn(text="fine"), stream)

    return script


@pytest.fixture(scope="module")
async def fuzzed() -> AsyncIterator[tuple[RunningGateway, aiohttp.ClientSession]]:
    fakes = {kind: await FakeUpstream().start() for kind in UPSTREAM_KINDS}
    providers = {}
    for kind, fake in fakes.items():
        fake.script = answer(kind)
        base = f"{fake.url}/v1" if kind.startswith("openai") else fake.url
        providers[kind] = {"type": kind, "base_url": base, "api_keys": [f"sk-{kind}-fuzz-key-123"], "models": ["up-model"]}
    aliases = {f"m-{kind}": f"{kind}/up-model" for kind in UPSTREAM_KINDS}
    gateway = await start_gateway(parse({"providers": providers, "aliases": aliases, "routing": {"max_wait": 0}}))
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_DEADLINE))  # a hang fails its own example
    yield gateway, session
    await session.close()
    await gateway.stop()
    for fake in fakes.values():
        await fake.stop()


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_bad_request_breaks_the_gateway(
    name: str, fuzzed: tuple[RunningGateway, aiohttp.ClientSession], caplog: pytest.LogCaptureFixture, data: st.DataObject
) -> None:
    gateway, session = fuzzed
    dialect = ENDPOINTS[name][1]
    url, body = data.draw(bad_request(name))
    caplog.clear()
    headers = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
    async with session.post(gateway.url + url, data=body, headers=headers) as response:
        text = await response.text()
    assert response.status < 500, (response.status, text[:300])
    assert "Traceback" not in text
    if response.status >= 400:
        assert_dialect(dialect, response.status, response.headers, orjson.loads(text))
    for record in caplog.records:
        assert record.exc_info is None and "Traceback" not in record.getMessage(), record.getMessage()
