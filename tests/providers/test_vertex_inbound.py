"""Vertex rawPredict served to clients: anthropic's AnthropicVertex -> babelgate -> any upstream.

The SDK is given a dummy access token (the gateway does not check Google tokens) and the
gateway's `/v1` as its base URL, as ANTHROPIC_VERTEX_BASE_URL would be.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest

from babelgate import tokens
from babelgate.dialects import anthropic as anthropic_dialect
from tests.conftest import GatewayFactory, openai_config
from tests.fakes.tool_turns import ASK, BASH_TOOL, anthropic_config, anthropic_turn, openai_turn
from tests.fakes.upstream import FakeUpstream

MODEL = "claude-sonnet-4-5@20250929"
MODELS = "/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models"


def vertex(url: str, token: str = "ya29.dummy-token") -> anthropic.AsyncAnthropicVertex:
    return anthropic.AsyncAnthropicVertex(project_id="my-proj", region="us-east5", access_token=token, base_url=f"{url}/v1", max_retries=0)


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_upstream_with_tool_call(upstream: FakeUpstream, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.script = openai_turn
    client = vertex(gw.url)
    if stream:
        async with client.messages.stream(model=MODEL, max_tokens=512, tools=[BASH_TOOL], messages=ASK) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(model=MODEL, max_tokens=512, tools=[BASH_TOOL], messages=ASK)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].id == "call_b1" and message.content[1].input == {"command": "echo hi > out.txt"}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    sent = upstream.received[0]
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "gpt-5" and bool(sent.body.get("stream")) is stream


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_upstream_gets_messages_api_shape(upstream: FakeUpstream, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(anthropic_config(upstream))
    upstream.script = anthropic_turn
    client = vertex(gw.url)
    betas = {"anthropic-beta": "context-management-2025-06-27"}
    if stream:
        async with client.messages.stream(model=MODEL, max_tokens=512, tools=[BASH_TOOL], messages=ASK, extra_headers=betas) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(model=MODEL, max_tokens=512, tools=[BASH_TOOL], messages=ASK, extra_headers=betas)
    assert message.content[1].type == "tool_use" and message.content[1].id == "toolu_b1"
    sent = upstream.received[0]
    assert sent.body["model"] == "claude-up" and "anthropic_version" not in sent.body and sent.body.get("stream", False) is stream
    assert sent.headers["anthropic-beta"] == "context-management-2025-06-27" and sent.headers["x-api-key"] == "sk-ant-up"


async def test_provider_model_names_route_too(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.script = openai_turn
    message = await vertex(gw.url).messages.create(model="up/gpt-5-mini", max_tokens=8, messages=ASK)
    assert message.content[0].text == "Running it."  # type: ignore[union-attr]
    assert upstream.received[0].body["model"] == "gpt-5-mini"


async def test_count_tokens(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    counted = await vertex(gw.url).messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "x" * 400}])
    ask = anthropic_dialect.parse_request({"model": MODEL, "messages": [{"role": "user", "content": "x" * 400}]})
    assert counted.input_tokens == tokens.offline_count(ask, "openai")  # a Chat upstream: counted offline
    assert not upstream.received


async def raw_post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with aiohttp.ClientSession() as session, session.post(url, data=data) as response:
        return response.status, json.loads(await response.read())


async def test_bad_input_answers_in_anthropic_envelope(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    cases = [
        (f"{MODELS}/mistral-large@2407:rawPredict", {"max_tokens": 8, "messages": ASK}, 404, "not_found_error", "is not configured"),
        (f"{MODELS}/{MODEL}:rawPredict", b"[1, 2", 400, "invalid_request_error", "not valid JSON"),
        (f"{MODELS}/{MODEL}:rawPredict", {"max_tokens": 8, "messages": "hi"}, 400, "invalid_request_error", "messages"),
        (f"{MODELS}/{MODEL}:predict", {"messages": ASK}, 404, "not_found_error", "unknown method"),
        (MODELS.replace("anthropic", "google") + "/gemini-2.5-pro:rawPredict", {"messages": ASK}, 404, "not_found_error", "publisher"),
        (f"{MODELS}/count-tokens:rawPredict", {"model": "nope", "messages": ASK}, 404, "not_found_error", "'nope'"),
        ("/v1/projects/my-proj/locations", {}, 404, "not_found_error", "no route"),
    ]
    for path, body, status, kind, text in cases:
        got, answer = await raw_post(gw.url + path, body)
        assert (got, answer["type"], answer["error"]["type"]) == (status, "error", kind), (path, answer)
        assert text in answer["error"]["message"], (path, answer)
    assert not upstream.received
    with pytest.raises(anthropic.NotFoundError, match="is not configured"):
        await vertex(gw.url).messages.create(model="llama-4@001", max_tokens=8, messages=ASK)


async def test_gateway_key_is_checked(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": ["gw-key-1"]}))
    upstream.script = openai_turn
    with pytest.raises(anthropic.AuthenticationError, match="API key for this gateway"):
        await vertex(gw.url).messages.create(model=MODEL, max_tokens=8, messages=ASK)  # a Google token is no gateway key
    message = await vertex(gw.url, token="gw-key-1").messages.create(model=MODEL, max_tokens=8, messages=ASK)  # the key as token
    assert message.content[0].text == "Running it."  # type: ignore[union-attr]
