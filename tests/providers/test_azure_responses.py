"""`type: azure-openai-responses` and `deployments`, end to end: official SDKs -> a real gateway -> a strict loopback Azure.

The Responses API on both routes Azure documents (the v1 API's `/openai/v1/responses`, the dated
`/openai/responses?api-version=...`), an OpenAI Responses client passed through and Claude's
dialect translated; and the `deployments` map, which turns the model names users route to into
the deployment names Azure knows, on the Chat Completions routes as well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest

from babelgate import registry
from babelgate.config import ProviderConfig
from babelgate.providers.azure import AzureOpenAIResponsesUpstream, AzureOpenAIUpstream
from tests.conftest import GatewayFactory
from tests.fakes.azure import FakeAzure

KEY = "3f9a1c2be47d4e0a9b6c5d8e7f012345"
DEPLOYMENT = "my-gpt5-deployment"
VERSION = "2025-04-01-preview"
HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
async def azure() -> AsyncIterator[FakeAzure]:
    fake = FakeAzure(keys=(KEY,), deployments=(DEPLOYMENT, "gpt-5-mini"))
    await fake.start()
    yield fake
    await fake.stop()


def config(fake: FakeAzure, kind: str, dated: bool) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "type": kind,
        "base_url": fake.url,
        "api_keys": [KEY],
        "models": ["gpt-5", "gpt-5-mini"],
        "deployments": {"gpt-5": DEPLOYMENT},
    }
    if dated:
        provider["api_version"] = VERSION
    return {"providers": {"azure": provider}, "aliases": {"claude-*": "azure/gpt-5"}, "routing": {"max_wait": 0}}


def assert_responses_request(fake: FakeAzure, dated: bool, stream: bool) -> dict[str, Any]:
    sent = fake.received[-1]
    if dated:
        assert (sent.path, sent.query) == ("/openai/responses", {"api-version": VERSION})
    else:
        assert (sent.path, sent.query) == ("/openai/v1/responses", {})
    assert sent.headers["api-key"] == KEY and "authorization" not in sent.headers
    assert sent.body["model"] == DEPLOYMENT  # the deployment, not the name the client routed to
    assert bool(sent.body.get("stream")) is stream
    return sent.body  # type: ignore[no-any-return]


@pytest.mark.parametrize("dated", [False, True])
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_responses_sdk_passes_through_to_azure(
    azure: FakeAzure, gateway_factory: GatewayFactory, dated: bool, stream: bool
) -> None:
    gw = await gateway_factory(config(azure, "azure-openai-responses", dated))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    if stream:
        events = await client.responses.create(model="azure/gpt-5", input="hello", stream=True, store=False)
        seen = [event async for event in events]
        text = "".join(event.delta for event in seen if event.type == "response.output_text.delta")
        assert seen[-1].type == "response.completed"
    else:
        response = await client.responses.create(model="azure/gpt-5", input="hello", store=False)
        text = response.output_text
    assert text == "Hello from Azure"
    body = assert_responses_request(azure, dated, stream)
    assert body["input"] == "hello" and body["store"] is False  # the client's own body, model swapped


@pytest.mark.parametrize("dated", [False, True])
@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_sdk_through_azure_responses(azure: FakeAzure, gateway_factory: GatewayFactory, dated: bool, stream: bool) -> None:
    gw = await gateway_factory(config(azure, "azure-openai-responses", dated))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30)
    if stream:
        async with sdk.messages.stream(model="claude-sonnet-5-5", system="Be brief.", max_tokens=128, messages=HELLO) as events:
            message = await events.get_final_message()
    else:
        message = await sdk.messages.create(model="claude-sonnet-5-5", system="Be brief.", max_tokens=128, messages=HELLO)
    assert message.content[0].text == "Hello from Azure"  # type: ignore[union-attr]
    body = assert_responses_request(azure, dated, stream)
    assert body["instructions"] == "Be brief."


async def test_the_dated_responses_route_needs_a_version_that_has_it(azure: FakeAzure, gateway_factory: GatewayFactory) -> None:
    data = config(azure, "azure-openai-responses", dated=True)
    data["providers"]["azure"]["api_version"] = "2024-10-21"  # a GA version from before the Responses API
    gw = await gateway_factory(data)
    with pytest.raises(anthropic.NotFoundError) as caught:
        await anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0, timeout=30).messages.create(
            model="claude-opus-5-5", max_tokens=64, messages=HELLO
        )
    assert "Resource not found" in caught.value.message
    assert azure.received[-1].path == "/openai/responses"


@pytest.mark.parametrize("dated", [False, True])
async def test_deployments_name_the_chat_route_and_body(azure: FakeAzure, gateway_factory: GatewayFactory, dated: bool) -> None:
    gw = await gateway_factory(config(azure, "azure-openai", dated))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    for model, deployment in (("azure/gpt-5", DEPLOYMENT), ("gpt-5-mini", "gpt-5-mini")):  # mapped, then unmapped
        completion = await client.chat.completions.create(model=model, messages=HELLO)
        assert completion.choices[0].message.content == "Hello from Azure"
        sent = azure.received[-1]
        assert sent.body["model"] == deployment
        if dated:
            assert sent.path == f"/openai/deployments/{deployment}/chat/completions" and sent.query == {"api-version": VERSION}
        else:
            assert sent.path == "/openai/v1/chat/completions"


async def test_verify_and_urls_of_the_responses_type(azure: FakeAzure) -> None:
    dated = ProviderConfig(type="azure-openai-responses", base_url=f"{azure.url}/openai", api_keys=[KEY], api_version=VERSION)
    upstream = registry.build_upstream("azure", dated)
    assert isinstance(upstream, AzureOpenAIResponsesUpstream)
    try:
        assert upstream.url("anything", stream=True) == f"{azure.url}/openai/responses?api-version={VERSION}"
        assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
        assert (azure.received[-1].path, azure.received[-1].query) == ("/openai/models", {"api-version": VERSION})
    finally:
        await upstream.close()
    v1 = AzureOpenAIResponsesUpstream(
        "azure", ProviderConfig(type="azure-openai-responses", base_url="https://r.openai.azure.com/openai/v1")
    )
    assert v1.url("gpt-5", stream=False) == "https://r.openai.azure.com/openai/v1/responses"
    chat = AzureOpenAIUpstream(
        "azure",
        ProviderConfig(type="azure-openai", base_url="https://r.openai.azure.com", api_version=VERSION, deployments={"gpt-5": "prod 1"}),
    )
    assert (
        chat.url("gpt-5", stream=False) == f"https://r.openai.azure.com/openai/deployments/prod%201/chat/completions?api-version={VERSION}"
    )
    assert chat.url("gpt-4o", stream=False).startswith("https://r.openai.azure.com/openai/deployments/gpt-4o/")
