"""Errors in each caller's own dialect: bad input, unknown model, upstream failures, broken streams."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
GEMINI = "/v1beta/models/{model}:generateContent"
GEMINI_STREAM = "/v1beta/models/{model}:streamGenerateContent?alt=sse"


def body_for(path: str, model: str) -> dict[str, Any]:
    if path == CHAT:
        return {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if path == RESPONSES:
        return {"model": model, "input": "hi"}
    return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


async def call(url: str, path: str, model: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
    payload = body if body is not None else body_for(path.split("?")[0], model)
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": payload} if isinstance(payload, bytes) else {"json": payload}
        async with session.post(url + path.format(model=model), headers=headers or {}, **kwargs) as response:
            text = await response.text()
            try:
                return response.status, await response.json(content_type=None), text
            except ValueError:
                return response.status, None, text


def assert_openai_error(body: Any, kind: str) -> str:
    assert set(body) == {"error"} and body["error"]["type"] == kind and "code" in body["error"]
    return str(body["error"]["message"])


def assert_gemini_error(body: Any, code: int, status: str) -> str:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code and body["error"]["status"] == status
    return str(body["error"]["message"])


@pytest.mark.parametrize("path", [CHAT, RESPONSES, GEMINI])
async def test_malformed_json(upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str) -> None:
    gw = await gateway_factory(openai_config(upstream))
    status, body, _ = await call(gw.url, path, "opus", b"{oops")
    assert status == 400
    if path == GEMINI:
        assert "JSON" in assert_gemini_error(body, 400, "INVALID_ARGUMENT")
    else:
        assert "JSON" in assert_openai_error(body, "invalid_request_error")


async def test_wrong_field_types_name_the_field(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    status, body, _ = await call(gw.url, CHAT, "opus", {"model": "opus", "messages": [{"role": "user", "content": 7}]})
    assert status == 400 and "messages.0.content" in assert_openai_error(body, "invalid_request_error")
    assert body["error"]["param"] == "messages.0.content"
    status, body, _ = await call(gw.url, CHAT, "opus", {"model": "opus", "n": 3, "messages": [{"role": "user", "content": "x"}]})
    assert status == 400 and "n=1" in assert_openai_error(body, "invalid_request_error")
    status, body, _ = await call(gw.url, RESPONSES, "opus", {"model": "opus", "input": 5})
    assert status == 400 and "input" in assert_openai_error(body, "invalid_request_error")
    status, body, _ = await call(gw.url, GEMINI, "opus", {"contents": "hello"})
    assert status == 400 and "contents" in assert_gemini_error(body, 400, "INVALID_ARGUMENT")
    assert upstream.received == []


@pytest.mark.parametrize("path", [CHAT, RESPONSES, GEMINI])
async def test_unknown_model(upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str) -> None:
    gw = await gateway_factory(openai_config(upstream))
    status, body, _ = await call(gw.url, path, "no-such-model")
    assert status == 404
    message = assert_gemini_error(body, 404, "NOT_FOUND") if path == GEMINI else assert_openai_error(body, "not_found_error")
    assert "no-such-model" in message and "opus" in message


@pytest.mark.parametrize("path", [CHAT, RESPONSES, GEMINI])
async def test_upstream_rate_limit_in_each_dialect(upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str) -> None:
    gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}))
    upstream.script = lambda record: wire.error(429, "Rate limit reached", "requests", "rate_limit_exceeded", {"Retry-After": "30"})
    status, body, _ = await call(gw.url, path, "opus")
    assert status == 429
    if path == GEMINI:
        message = assert_gemini_error(body, 429, "RESOURCE_EXHAUSTED")
    else:
        message = assert_openai_error(body, "rate_limit_error")
        assert body["error"]["code"] == "model_cooldown"
    assert "opus" in message and "30s" in message


@pytest.mark.parametrize("path", [CHAT, RESPONSES, GEMINI_STREAM])
async def test_stream_broken_after_start(upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str) -> None:
    gw = await gateway_factory(openai_config(upstream))
    start = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "partial"})], done=False)
    upstream.push(Reply(chunks=[start, b"never sent"], drop_after=1))
    body = body_for(path.split("?")[0].replace("streamGenerateContent", "generateContent"), "opus")
    if path != GEMINI_STREAM:
        body["stream"] = True
    status, _, text = await call(gw.url, path, "opus", body)
    assert status == 200 and "partial" in text
    if path == CHAT:
        assert '"error"' in text and text.rstrip().endswith("data: [DONE]")
    elif path == RESPONSES:
        assert "event: response.failed" in text
    else:
        assert '"error"' in text


async def test_gemini_key_in_header_or_query(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": ["gw-key"]}))
    upstream.script = lambda record: Reply(json=wire.completion("fine"))
    status, body, _ = await call(gw.url, GEMINI, "opus")
    assert status == 401 and assert_gemini_error(body, 401, "UNAUTHENTICATED")
    status, _, _ = await call(gw.url, GEMINI, "opus", headers={"x-goog-api-key": "gw-key"})
    assert status == 200
    status, _, _ = await call(gw.url, GEMINI + "?key=gw-key", "opus")
    assert status == 200


async def test_model_lists_and_token_counts(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/v1/models", headers={"Authorization": "Bearer k"}) as response:
            openai_list = await response.json()
        async with session.get(f"{gw.url}/v1beta/models") as response:
            gemini_list = await response.json()
        message = {"model": "opus", "messages": [{"role": "user", "content": "count these words please " * 10}]}
        async with session.post(f"{gw.url}/v1/messages/count_tokens", json=message) as response:
            anthropic_count = await response.json()
        gemini_body = {"contents": [{"role": "user", "parts": [{"text": "count these words please " * 10}]}]}
        async with session.post(f"{gw.url}/v1beta/models/opus:countTokens", json=gemini_body) as response:
            gemini_count = await response.json()
        async with session.post(f"{gw.url}/v1beta/models/opus:countTokens", json={"generateContentRequest": gemini_body}) as response:
            assert (await response.json()) == gemini_count
    assert openai_list["object"] == "list" and {m["id"] for m in openai_list["data"]} >= {"opus", "up/gpt-5"}
    assert all(m["object"] == "model" for m in openai_list["data"])
    assert "models/opus" in [m["name"] for m in gemini_list["models"]]
    assert 40 <= anthropic_count["input_tokens"] <= 80
    assert 40 <= gemini_count["totalTokens"] <= 80
    assert upstream.received == []
