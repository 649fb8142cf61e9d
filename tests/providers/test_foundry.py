"""Claude on Azure AI Foundry through `type: anthropic`, end to end: the official SDKs -> a real gateway -> a strict loopback Foundry.

No new type: a Foundry `base_url` (https://NAME.services.ai.azure.com/anthropic) is an Anthropic
Messages API at `/anthropic/v1/messages` that takes the key in `x-api-key`; a keyless one signs in
with Microsoft Entra ID for https://ai.azure.com. The fake (tests/fakes/foundry.py) refuses
whatever is addressed or keyed another way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from babelgate.config import ProviderConfig
from babelgate.providers.anthropic import AnthropicUpstream
from babelgate.providers.entra import FOUNDRY_SCOPE
from tests.conftest import GatewayFactory
from tests.fakes.azure import BAD_KEY
from tests.fakes.entra import FakeManagedIdentity
from tests.fakes.foundry import FakeFoundry

KEY = "8c1d5e7f9a0b2c4d6e8f0a1b3c5d7e9f"
WRONG_KEY = "ffffeeeeddddccccbbbbaaaa99998888"
DEPLOYMENT = "claude-sonnet-4-5"
HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
async def foundry(identity: FakeManagedIdentity) -> AsyncIterator[FakeFoundry]:
    fake = FakeFoundry(keys=(KEY,), deployments=(DEPLOYMENT,), identity=identity)
    await fake.start()
    yield fake
    await fake.stop()


def config(fake: FakeFoundry, **provider: Any) -> dict[str, Any]:
    settings = {"type": "anthropic", "base_url": f"{fake.url}/anthropic", "api_keys": [KEY], "models": [DEPLOYMENT], **provider}
    return {"providers": {"foundry": settings}, "aliases": {"claude-*": f"foundry/{DEPLOYMENT}"}, "routing": {"max_wait": 0}}


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_sdk_passes_through_to_foundry(foundry: FakeFoundry, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(config(foundry))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30)
    betas = {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    if stream:
        async with sdk.messages.stream(model="claude-sonnet-5-5", max_tokens=64, messages=HELLO, extra_headers=betas) as events:
            message = await events.get_final_message()
    else:
        message = await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=64, messages=HELLO, extra_headers=betas)
    assert message.content[0].text == "Hello from Foundry"  # type: ignore[union-attr]
    sent = foundry.received[-1]
    assert (sent.method, sent.path) == ("POST", "/anthropic/v1/messages")
    assert sent.headers["x-api-key"] == KEY and "authorization" not in sent.headers
    assert sent.headers["anthropic-version"]  # the client's own, forwarded
    assert sent.headers["anthropic-beta"] == betas["anthropic-beta"]  # Foundry takes betas in the header
    assert sent.body["model"] == DEPLOYMENT and bool(sent.body.get("stream")) is stream


async def test_openai_sdk_through_foundry(foundry: FakeFoundry, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(foundry))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    completion = await client.chat.completions.create(model=f"foundry/{DEPLOYMENT}", messages=HELLO, max_tokens=64)
    assert completion.choices[0].message.content == "Hello from Foundry"
    assert foundry.received[-1].body["max_tokens"] == 64


async def test_a_wrong_key_is_an_authentication_error_without_the_key(foundry: FakeFoundry, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(foundry, api_keys=[WRONG_KEY]))
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30).messages.create(
            model="claude-opus-5-5", max_tokens=64, messages=HELLO
        )
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert "Access denied due to invalid subscription key" in message and caught.value.body["error"]["provider"] == "foundry"  # type: ignore[index]
    assert WRONG_KEY not in str(caught.value.body)


async def test_keyless_foundry_signs_in_with_entra_id_for_its_scope(
    foundry: FakeFoundry, identity: FakeManagedIdentity, gateway_factory: GatewayFactory
) -> None:
    # A loopback URL is not a Foundry host, so the scope is named; on *.services.ai.azure.com it is the default.
    gw = await gateway_factory(config(foundry, api_keys=[], entra_scope=FOUNDRY_SCOPE))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30)
    for _ in range(2):
        async with sdk.messages.stream(model="claude-haiku-5-5", max_tokens=64, messages=HELLO) as events:
            assert (await events.get_final_message()).content[0].text == "Hello from Foundry"  # type: ignore[union-attr]
    assert [r.resource for r in identity.requests] == ["https://ai.azure.com"]
    sent = foundry.received[-1].headers
    assert "x-api-key" not in sent and identity.check(sent["authorization"], "https://ai.azure.com") is None


def test_a_foundry_base_url_needs_no_new_type() -> None:
    foundry = AnthropicUpstream("f", ProviderConfig(type="anthropic", base_url="https://res.services.ai.azure.com/anthropic/"))
    assert foundry.url(DEPLOYMENT, stream=True) == "https://res.services.ai.azure.com/anthropic/v1/messages"
    assert foundry.entra is not None and foundry.entra.scope == FOUNDRY_SCOPE  # keyless: Entra ID
    keyed = AnthropicUpstream("f", ProviderConfig(type="anthropic", base_url="https://res.services.ai.azure.com/anthropic", api_keys=[KEY]))
    assert keyed.entra is None and keyed.key_header == "x-api-key"
    local = AnthropicUpstream("l", ProviderConfig(type="anthropic", base_url="http://127.0.0.1:8080"))
    assert local.entra is None  # other keyless Anthropic servers still get no credentials


@pytest.mark.parametrize(
    ("path", "headers", "status", "text"),
    [
        ("/anthropic/v1/messages", {"x-api-key": KEY, "anthropic-version": "2023-06-01"}, 200, "Hello from Foundry"),
        ("/anthropic/v1/messages", {"api-key": KEY, "anthropic-version": "2023-06-01"}, 200, "Hello from Foundry"),
        ("/anthropic/v1/messages", {"x-api-key": WRONG_KEY, "anthropic-version": "2023-06-01"}, 401, BAD_KEY),
        ("/anthropic/v1/messages", {"anthropic-version": "2023-06-01"}, 401, BAD_KEY),
        ("/anthropic/v1/messages", {"Authorization": f"Bearer {KEY}", "anthropic-version": "2023-06-01"}, 401, "Access token"),
        ("/anthropic/v1/messages", {"x-api-key": KEY}, 400, "anthropic-version: header is required"),
        ("/v1/messages", {"x-api-key": KEY, "anthropic-version": "2023-06-01"}, 404, "Resource not found"),
        ("/anthropic/messages", {"x-api-key": KEY, "anthropic-version": "2023-06-01"}, 404, "Resource not found"),
    ],
)
async def test_the_fake_refuses_what_foundry_refuses(
    foundry: FakeFoundry, path: str, headers: dict[str, str], status: int, text: str
) -> None:
    body = {"model": DEPLOYMENT, "max_tokens": 16, "messages": HELLO}
    async with aiohttp.ClientSession() as session, session.post(f"{foundry.url}{path}", json=body, headers=headers) as response:
        assert response.status == status and text in await response.text()
