"""`type: azure-openai` end to end: the official SDKs -> a real gateway -> a strict loopback Azure.

Both URL styles (the dated API with `api_version`, the v1 API without), streaming and not,
Claude Code's dialect (translated) and OpenAI Chat (pass-through). The fake refuses whatever
Azure refuses, so a request that gets an answer was addressed and keyed the Azure way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
import yaml

from babelgate import registry
from babelgate.config import ConfigError, ProviderConfig, parse
from babelgate.providers.azure import AzureOpenAIUpstream
from tests.conftest import GatewayFactory
from tests.fakes.azure import BAD_KEY, BAD_TOKEN, NO_DEPLOYMENT, FakeAzure

KEY = "3f9a1c2be47d4e0a9b6c5d8e7f012345"  # Azure keys are 32 hex digits
WRONG_KEY = "0000aaaabbbbccccddddeeeeffff9999"
DEPLOYMENT = "gpt-4o-prod"
VERSION = "2024-10-21"
STYLES = ["dated", "v1"]
PROVIDER = "azure-eu"


@pytest.fixture
async def azure() -> AsyncIterator[FakeAzure]:
    fake = FakeAzure(keys=(KEY,), deployments=(DEPLOYMENT,))
    await fake.start()
    yield fake
    await fake.stop()


def provider(fake: FakeAzure, style: str, key: str = KEY, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"type": "azure-openai", "base_url": fake.url, "api_keys": [key], "models": [DEPLOYMENT], **extra}
    if style == "dated":
        config["api_version"] = VERSION
    return config


def gateway_config(fake: FakeAzure, style: str, key: str = KEY) -> dict[str, Any]:
    return {
        "providers": {PROVIDER: provider(fake, style, key)},
        "aliases": {"claude-*": f"{PROVIDER}/{DEPLOYMENT}"},
        "routing": {"max_wait": 0},
    }


def assert_azure_request(fake: FakeAzure, style: str, stream: bool) -> dict[str, Any]:
    """What Azure received: its route, its key header and nothing else that could carry a key."""
    sent = fake.received[-1]
    assert sent.method == "POST"
    if style == "dated":
        assert sent.path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
        assert sent.query == {"api-version": VERSION}
    else:
        assert sent.path == "/openai/v1/chat/completions"
        assert sent.query == {}
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers and "x-api-key" not in sent.headers
    assert sent.body["model"] == DEPLOYMENT  # the deployment name stands for the model
    assert bool(sent.body.get("stream")) is stream
    return sent.body  # type: ignore[no-any-return]


def anthropic_client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


def openai_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)


HELLO: Any = [{"role": "user", "content": "hello"}]


# ---- Anthropic in (Claude Code's dialect), Azure out ------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_sdk_through_azure(azure: FakeAzure, gateway_factory: GatewayFactory, style: str, stream: bool) -> None:
    gw = await gateway_factory(gateway_config(azure, style))
    sdk = anthropic_client(gw.url)
    message: anthropic.types.Message
    if stream:
        async with sdk.messages.stream(model="claude-sonnet-5-5", system="Be brief.", max_tokens=256, messages=HELLO) as events:
            message = await events.get_final_message()
    else:
        message = await sdk.messages.create(model="claude-sonnet-5-5", system="Be brief.", max_tokens=256, messages=HELLO)
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Hello from Azure"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    if stream:  # usage from the stream's usage chunk (cached prompt tokens reported apart)
        assert message.usage.input_tokens == 16 and message.usage.cache_read_input_tokens == 4 and message.usage.output_tokens == 7
    else:
        assert message.usage.input_tokens == 12 and message.usage.output_tokens == 5
    body = assert_azure_request(azure, style, stream)
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    if stream:
        assert body["stream_options"] == {"include_usage": True}


# ---- OpenAI Chat in, Azure out (same dialect: pass-through) ----------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("stream", [False, True])
async def test_openai_sdk_passthrough_to_azure(azure: FakeAzure, gateway_factory: GatewayFactory, style: str, stream: bool) -> None:
    gw = await gateway_factory(gateway_config(azure, style))
    client = openai_client(gw.url)
    messages: Any = [{"role": "user", "content": "hello"}]
    if stream:
        chunks = await client.chat.completions.create(
            model=f"{PROVIDER}/{DEPLOYMENT}", messages=messages, stream=True, stream_options={"include_usage": True}, user="u-1"
        )
        seen = [chunk async for chunk in chunks]
        assert seen[0].choices == [] and seen[0].prompt_filter_results  # type: ignore[attr-defined]  # Azure's own frame, relayed
        text = "".join(chunk.choices[0].delta.content or "" for chunk in seen if chunk.choices)
        usage = seen[-1].usage
        assert usage is not None and usage.prompt_tokens == 20 and usage.completion_tokens == 7
    else:
        completion = await client.chat.completions.create(model=DEPLOYMENT, messages=messages, user="u-1")
        text = completion.choices[0].message.content or ""
        assert completion.model == "gpt-4o-2024-08-06"
        assert completion.choices[0].content_filter_results  # type: ignore[attr-defined]  # Azure's extra field survives
    assert text == "Hello from Azure"
    body = assert_azure_request(azure, style, stream)
    assert body["user"] == "u-1"  # the client's own body, edited rather than rebuilt


# ---- A refused key ---------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("stream", [False, True])
async def test_bad_key_is_an_anthropic_authentication_error(
    azure: FakeAzure, gateway_factory: GatewayFactory, style: str, stream: bool
) -> None:
    gw = await gateway_factory(gateway_config(azure, style, key=WRONG_KEY))
    sdk = anthropic_client(gw.url)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        if stream:
            async with sdk.messages.stream(model="claude-opus-5-5", max_tokens=256, messages=HELLO) as events:
                await events.get_final_message()
        else:
            await sdk.messages.create(model="claude-opus-5-5", max_tokens=256, messages=HELLO)
    error = caught.value
    assert error.status_code == 401
    assert isinstance(error.body, dict) and error.body["error"]["type"] == "authentication_error"
    message = error.body["error"]["message"]
    assert error.body["error"]["provider"] == PROVIDER and "Access denied due to invalid subscription key" in message
    assert WRONG_KEY not in str(error.body) and WRONG_KEY not in str(error)
    assert azure.received[-1].headers["api-key"] == WRONG_KEY  # it did go to Azure, the Azure way


@pytest.mark.parametrize("style", STYLES)
async def test_bad_key_is_an_openai_authentication_error(azure: FakeAzure, gateway_factory: GatewayFactory, style: str) -> None:
    gw = await gateway_factory(gateway_config(azure, style, key=WRONG_KEY))
    with pytest.raises(openai.AuthenticationError) as caught:
        await openai_client(gw.url).chat.completions.create(model=DEPLOYMENT, messages=[{"role": "user", "content": "hi"}])
    error = caught.value
    assert error.status_code == 401
    assert isinstance(error.body, dict)
    assert error.body["provider"] == PROVIDER and "Access denied" in str(error.body["message"])
    assert WRONG_KEY not in str(error.body) and WRONG_KEY not in str(error)


# ---- Deployment and version mistakes reach the caller as what they are ------------------------


@pytest.mark.parametrize("style", STYLES)
async def test_unknown_deployment_is_a_not_found_error_naming_the_provider(
    azure: FakeAzure, gateway_factory: GatewayFactory, style: str
) -> None:
    config = gateway_config(azure, style)
    config["providers"][PROVIDER]["models"] = [DEPLOYMENT, "gpt-4o-gone"]
    gw = await gateway_factory(config)
    with pytest.raises(anthropic.NotFoundError) as caught:
        await anthropic_client(gw.url).messages.create(model=f"{PROVIDER}/gpt-4o-gone", max_tokens=256, messages=HELLO)
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert caught.value.body["error"]["provider"] == PROVIDER and "deployment for this resource does not exist" in message  # type: ignore[index]


async def test_unsupported_api_version_is_reported_not_hidden(azure: FakeAzure, gateway_factory: GatewayFactory) -> None:
    config = gateway_config(azure, "dated")
    config["providers"][PROVIDER]["api_version"] = "2023-01-01"
    gw = await gateway_factory(config)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await anthropic_client(gw.url).messages.create(model="claude-opus-5-5", max_tokens=256, messages=HELLO)
    assert caught.value.status_code == 404
    assert "Resource not found" in caught.value.message and caught.value.body["error"]["provider"] == PROVIDER  # type: ignore[index]
    assert azure.received[-1].query == {"api-version": "2023-01-01"}


# ---- The key check behind `babelgate accounts verify` -----------------------------------------


@pytest.mark.parametrize("style", STYLES)
async def test_verify_asks_the_model_list_of_the_api_in_use(azure: FakeAzure, style: str) -> None:
    upstream = registry.build_upstream(PROVIDER, ProviderConfig.model_validate(provider(azure, style)))
    assert isinstance(upstream, AzureOpenAIUpstream)
    try:
        assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
        sent = azure.received[-1]
        assert sent.method == "GET" and sent.headers["api-key"] == KEY and "authorization" not in sent.headers
        if style == "dated":
            assert (sent.path, sent.query) == ("/openai/models", {"api-version": VERSION})
        else:
            assert (sent.path, sent.query) == ("/openai/v1/models", {})
        upstream.add_credential("old", WRONG_KEY)
        status, detail = await upstream.verify(upstream.credentials[-1])
        assert status == 401 and "Access denied" in detail and WRONG_KEY not in detail
    finally:
        await upstream.close()


# ---- Config and URLs -------------------------------------------------------------------------


def test_config_rejects_an_unknown_type_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        parse({"providers": {"az": {"type": "azure", "base_url": "https://x.openai.azure.com"}}})
    message = str(caught.value)
    assert "providers.az.type" in message and "unknown provider type 'azure'" in message
    for known in registry.UPSTREAM_TYPES:
        assert repr(known) in message
    assert "'azure-openai'" in message


def test_api_version_may_be_an_unquoted_yaml_date() -> None:
    text = "providers:\n  az:\n    type: azure-openai\n    base_url: https://x.openai.azure.com\n    api_version: 2024-10-21\n"
    data = yaml.safe_load(text)
    assert parse(data).providers["az"].api_version == "2024-10-21"


@pytest.mark.parametrize("suffix", ["", "/", "/openai", "/openai/v1"])
def test_urls_from_the_resource_endpoint(suffix: str) -> None:
    base = f"https://res.openai.azure.com{suffix}"
    dated = AzureOpenAIUpstream("az", ProviderConfig(type="azure-openai", base_url=base, api_version="2025-04-01-preview"))
    assert dated.url("my deploy/1", stream=True) == (
        "https://res.openai.azure.com/openai/deployments/my%20deploy%2F1/chat/completions?api-version=2025-04-01-preview"
    )
    v1 = AzureOpenAIUpstream("az", ProviderConfig(type="azure-openai", base_url=base))
    assert v1.url("my deploy/1", stream=False) == "https://res.openai.azure.com/openai/v1/chat/completions"


# ---- The fake is as strict as Azure (else the tests above would prove little) ------------------


async def call(fake: FakeAzure, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    body = {"model": DEPLOYMENT, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, session.post(f"{fake.url}{path}", json=body, headers=headers) as response:
        return response.status, await response.json()


DATED = f"/openai/deployments/{DEPLOYMENT}/chat/completions"


@pytest.mark.parametrize(
    ("path", "headers", "status", "text"),
    [
        (f"{DATED}?api-version={VERSION}", {"api-key": KEY}, 200, "chat.completion"),
        (DATED, {"api-key": KEY}, 404, "Resource not found"),
        (f"{DATED}?api-version=2023-01-01", {"api-key": KEY}, 404, "Resource not found"),
        (f"{DATED}?api-version={VERSION}", {}, 401, BAD_KEY),
        (f"{DATED}?api-version={VERSION}", {"api-key": WRONG_KEY}, 401, BAD_KEY),
        (f"{DATED}?api-version={VERSION}", {"Authorization": f"Bearer {KEY}"}, 401, BAD_TOKEN),
        (f"/openai/deployments/nope/chat/completions?api-version={VERSION}", {"api-key": KEY}, 404, NO_DEPLOYMENT),
        ("/openai/v1/chat/completions", {"api-key": KEY}, 200, "chat.completion"),
        ("/openai/v1/chat/completions?api-version=2024-10-21", {"api-key": KEY}, 404, "Resource not found"),
        ("/openai/v1/chat/completions", {"api-key": WRONG_KEY}, 401, BAD_KEY),
        ("/openai/v1/chat/completions", {"Authorization": f"Bearer {KEY}"}, 200, "chat.completion"),  # documented for v1
        ("/v1/chat/completions", {"api-key": KEY}, 404, "Resource not found"),
    ],
)
async def test_the_fake_refuses_what_azure_refuses(azure: FakeAzure, path: str, headers: dict[str, str], status: int, text: str) -> None:
    got, body = await call(azure, path, headers)
    assert got == status and text in str(body)
