"""The openai SDK's AzureOpenAI client pointed at babelgate: Azure's routes, served from any upstream."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes.turns import Turn, reply
from tests.fakes.upstream import FakeUpstream

CLIENT_KEY = "gateway-client-key"


def azure_client(url: str, api_version: str | None = "2024-10-21") -> openai.AsyncAzureOpenAI:
    return openai.AsyncAzureOpenAI(azure_endpoint=url, api_key=CLIENT_KEY, api_version=api_version, max_retries=0, timeout=30)


@pytest.mark.parametrize("stream", [False, True])
async def test_deployment_chat_completions(stream: bool, upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="Hello from upstream"), stream=stream))
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": [CLIENT_KEY]}, aliases={"my-deployment": "up/gpt-5"}))
    client = azure_client(gw.url)
    messages = [{"role": "user", "content": "hi"}]
    if stream:
        chunks = await client.chat.completions.create(model="my-deployment", messages=messages, stream=True)  # type: ignore[arg-type]
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        completion = await client.chat.completions.create(model="my-deployment", messages=messages)  # type: ignore[arg-type]
        text = completion.choices[0].message.content or ""
    assert text == "Hello from upstream"
    sent = upstream.received[0]
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "gpt-5"  # the deployment was routed like a model name
    assert CLIENT_KEY not in str(sent.headers)  # the client's key stays at the gateway


async def test_the_v1_routes_and_responses(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="chat"), stream=False), reply("openai", Turn(text="responses"), stream=False))
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": [CLIENT_KEY]}))
    v1 = openai.AsyncOpenAI(base_url=f"{gw.url}/openai/v1", api_key=CLIENT_KEY, max_retries=0, timeout=30)
    completion = await v1.chat.completions.create(model="up/gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "chat"
    answer = await azure_client(gw.url, "2025-04-01-preview").responses.create(model="up/gpt-5", input="hi")
    assert answer.output_text == "responses"


async def test_a_wrong_key_and_an_unknown_deployment_are_openai_errors(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": [CLIENT_KEY]}))
    wrong = openai.AsyncAzureOpenAI(azure_endpoint=gw.url, api_key="not-the-key", api_version="2024-10-21", max_retries=0, timeout=30)
    with pytest.raises(openai.AuthenticationError) as denied:
        await wrong.chat.completions.create(model="x", messages=[{"role": "user", "content": "hi"}])
    assert "missing or invalid API key" in denied.value.message
    with pytest.raises(openai.NotFoundError) as unknown:
        await azure_client(gw.url).chat.completions.create(model="no-such-deployment", messages=[{"role": "user", "content": "hi"}])
    assert "no-such-deployment" in unknown.value.message
    assert upstream.received == []
