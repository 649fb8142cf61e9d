"""Microsoft Entra ID for keyless Azure providers, end to end with azure-identity's real code.

The official SDKs -> a real gateway -> a strict loopback Azure that takes only the tokens a
loopback App Service managed identity endpoint issued (tests/fakes/entra.py). The gateway's
DefaultAzureCredential finds that endpoint through IDENTITY_ENDPOINT / IDENTITY_HEADER, as it
would on App Service, and asks it for https://cognitiveservices.azure.com tokens.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from babelgate import registry
from babelgate.config import ProviderConfig
from babelgate.providers.http import HttpUpstream
from tests.conftest import GatewayFactory
from tests.fakes.azure import BAD_TOKEN, FakeAzure
from tests.fakes.entra import FakeManagedIdentity

DEPLOYMENT = "gpt-5-prod"
KEY = "3f9a1c2be47d4e0a9b6c5d8e7f012345"
AUDIENCE = "https://cognitiveservices.azure.com"
HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
async def azure(identity: FakeManagedIdentity) -> AsyncIterator[FakeAzure]:
    fake = FakeAzure(keys=(KEY,), deployments=(DEPLOYMENT,), identity=identity)
    await fake.start()
    yield fake
    await fake.stop()


def keyless(fake: FakeAzure, dated: bool = False) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "azure-openai", "base_url": fake.url, "deployments": {"gpt-5": DEPLOYMENT}, "models": ["gpt-5"]}
    if dated:
        provider["api_version"] = "2024-10-21"
    return {"providers": {"az": provider}, "aliases": {"claude-*": "az/gpt-5"}, "routing": {"max_wait": 0}}


def sent_token(fake: FakeAzure, index: int = -1) -> str:
    headers = fake.received[index].headers
    assert "api-key" not in headers
    scheme, _, token = headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


@pytest.mark.parametrize("dated", [False, True])
@pytest.mark.parametrize("stream", [False, True])
async def test_a_keyless_provider_signs_in_with_entra_id(
    azure: FakeAzure, identity: FakeManagedIdentity, gateway_factory: GatewayFactory, dated: bool, stream: bool
) -> None:
    gw = await gateway_factory(keyless(azure, dated))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30)
    for _ in range(3):
        if stream:
            async with sdk.messages.stream(model="claude-sonnet-5-5", max_tokens=64, messages=HELLO) as events:
                message = await events.get_final_message()
        else:
            message = await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=64, messages=HELLO)
        assert message.content[0].text == "Hello from Azure"  # type: ignore[union-attr]
    tokens = {sent_token(azure, i) for i in range(-3, 0)}
    assert len(tokens) == 1 and identity.issued[tokens.pop()].audience == AUDIENCE
    assert len(identity.requests) == 1  # asked once, then kept
    asked = identity.requests[0]
    assert (asked.resource, asked.api_version, asked.identity_header) == (AUDIENCE, "2019-08-01", identity.secret)
    if dated:
        assert azure.received[-1].path == f"/openai/deployments/{DEPLOYMENT}/chat/completions"
    else:
        assert azure.received[-1].body["model"] == DEPLOYMENT


async def test_concurrent_first_requests_share_one_token_request(
    azure: FakeAzure, identity: FakeManagedIdentity, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(keyless(azure))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    replies = await asyncio.gather(*(client.chat.completions.create(model="az/gpt-5", messages=HELLO) for _ in range(8)))
    assert [r.choices[0].message.content for r in replies] == ["Hello from Azure"] * 8
    assert len(identity.requests) == 1
    assert len({sent_token(azure, i) for i in range(8)}) == 1


async def test_a_token_is_renewed_when_it_is_due_and_not_before(
    azure: FakeAzure, identity: FakeManagedIdentity, gateway_factory: GatewayFactory
) -> None:
    identity.plan = [{"expires_in": 3600, "refresh_in": 0}]  # the first token: "renew me now"
    gw = await gateway_factory(keyless(azure))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0, timeout=30)
    for _ in range(4):
        await client.chat.completions.create(model="az/gpt-5", messages=HELLO)
    first, second, third, fourth = (sent_token(azure, i) for i in range(4))
    assert second != first and third == second == fourth
    assert len(identity.requests) == 2


async def test_an_expired_token_gets_azures_401_and_is_not_sent_again(
    azure: FakeAzure, identity: FakeManagedIdentity, gateway_factory: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    identity.plan = [{"expires_in": -60}]  # the source hands out a token that has already expired
    gw = await gateway_factory(keyless(azure))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await sdk.messages.create(model="claude-opus-5-5", max_tokens=64, messages=HELLO)
    expired = sent_token(azure)
    assert identity.check(f"Bearer {expired}", AUDIENCE) == "expired"
    body = caught.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "authentication_error"
    assert "or have expired" in body["error"]["message"] and "az" in body["error"]["message"]
    upstream = gw.gateway.upstreams["az"]
    assert await upstream.verify(upstream.credentials[0]) == (200, "ok")  # `accounts verify`: a fresh token
    assert len(identity.requests) == 2 and sent_token(azure) != expired
    for secret in (expired, sent_token(azure), identity.secret):
        assert secret not in str(body) and secret not in caplog.text


async def test_the_fake_takes_only_live_tokens_it_issued_for_its_audience(azure: FakeAzure, identity: FakeManagedIdentity) -> None:
    identity.plan = [{"expires_in": 3600}, {"expires_in": -1}]
    async with aiohttp.ClientSession() as session:
        tokens = []
        for resource in (AUDIENCE, AUDIENCE, "https://ai.azure.com"):
            url = f"{identity.env['IDENTITY_ENDPOINT']}?api-version=2019-08-01&resource={resource}"
            async with session.get(url, headers={"X-IDENTITY-HEADER": identity.secret}) as response:
                tokens.append((await response.json())["access_token"])
        async with session.get(f"{identity.env['IDENTITY_ENDPOINT']}?api-version=2019-08-01&resource={AUDIENCE}") as response:
            assert response.status == 401  # the identity header is required
        live, expired, other_audience = tokens
        body = {"model": DEPLOYMENT, "messages": HELLO}
        for token, status in [(live, 200), (expired, 401), (other_audience, 401), ("eyJforged.token.sig", 401)]:
            async with session.post(
                f"{azure.url}/openai/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == status
                if status == 401:
                    assert (await r.json()) == {"statusCode": 401, "message": BAD_TOKEN}


async def test_without_azure_identity_the_error_says_what_to_install(
    azure: FakeAzure, gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for module in ("azure.identity", "azure.identity.aio"):
        monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    gw = await gateway_factory(keyless(azure))
    assert "azure-identity is not installed" in caplog.text  # said at startup
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0, timeout=30)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await sdk.messages.create(model="claude-opus-5-5", max_tokens=64, messages=HELLO)
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert "pip install 'babelgate[azure]'" in message and "api_keys" in message
    assert azure.received == []  # nothing was sent without credentials


async def test_keys_win_over_entra_id_and_other_types_stay_keyless(azure: FakeAzure) -> None:
    with_key = registry.build_upstream("az", ProviderConfig(type="azure-openai", base_url=azure.url, api_keys=[KEY]))
    local = registry.build_upstream("local", ProviderConfig(type="openai", base_url="http://127.0.0.1:9/v1"))
    assert isinstance(with_key, HttpUpstream) and isinstance(local, HttpUpstream)
    assert with_key.entra is None and local.entra is None
    sovereign = ProviderConfig(
        type="azure-openai", base_url="https://x.openai.azure.us", entra_scope="https://cognitiveservices.azure.us/.default"
    )
    upstream = registry.build_upstream("gov", sovereign)
    assert isinstance(upstream, HttpUpstream) and upstream.entra is not None
    assert upstream.entra.scope == "https://cognitiveservices.azure.us/.default"
