"""Vertex credentials: the token endpoint of a service account, token refresh under load, a refused
token, refused credentials, verify, and no secret in any log or error body.

The fake token endpoint runs on the same event loop as the gateway, so a refresh that blocked
the loop would never be answered: every test here passing means the refresh runs off the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest
from google.auth import crypt, jwt

from babelgate.providers.classify import Reason
from babelgate.store.base import ALL_MODELS
from tests.conftest import GatewayFactory, RunningGateway
from tests.fakes.vertex import CLOUD_PLATFORM, GOOGLE_TOKEN_AUDIENCE, JWT_BEARER, VertexFake, service_account
from tests.providers.vertex_setup import CLAUDE, GEMINI, vertex, vertex_config

__all__ = ["vertex"]  # the fixture
WAIT = 30.0  # seconds any one wait here may take


def client(gw: RunningGateway) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)


async def ask(sdk: anthropic.AsyncAnthropic, index: int) -> str:
    """One request: Gemini or Claude on Vertex, streamed or not, by `index`."""
    model = "weather" if index % 2 else "claude-weather"
    messages: Any = [{"role": "user", "content": f"question {index}"}]
    if index % 3 == 0:
        async with sdk.messages.stream(model=model, max_tokens=64, messages=messages) as stream:
            message = await stream.get_final_message()
    else:
        message = await sdk.messages.create(model=model, max_tokens=64, messages=messages)
    return message.content[0].text  # type: ignore[union-attr]


async def wave(sdk: anthropic.AsyncAnthropic, start: int, size: int) -> list[Any]:
    return await asyncio.wait_for(asyncio.gather(*(ask(sdk, start + i) for i in range(size)), return_exceptions=True), WAIT)


async def test_tokens_refresh_once_per_expiry_under_load(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    vertex.lifetime = 2
    gw = await gateway_factory(vertex_config(vertex))
    sdk = client(gw)
    waves, size = 4, 25
    answers: list[Any] = []
    for number in range(waves):
        if number:  # the next wave starts when the token the last one used has expired
            await asyncio.wait_for(vertex.expired_events[vertex.used_tokens[-1]].wait(), WAIT)
        answers += await wave(sdk, number * size, size)
    assert [a for a in answers if a != "Hello from Vertex."] == []
    assert len(answers) == 100 and len(vertex.received) == 100 and vertex.rejected == []
    assert vertex.token_hits == waves  # one token per expiry, not one per request
    assert len(set(vertex.used_tokens)) == waves


async def test_a_refused_token_is_renewed_once_and_the_request_retried(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(vertex_config(vertex))
    sdk = client(gw)
    assert await ask(sdk, 1) == "Hello from Vertex."
    vertex.revoke_all()  # every token the gateway holds is now refused with 401 UNAUTHENTICATED
    answers = await wave(sdk, 0, 10)
    assert answers == ["Hello from Vertex."] * 10
    assert vertex.token_hits == 2  # ten 401s, one renewal
    assert [status for status, _ in vertex.rejected] == [401] * 10
    assert all(gw.gateway.book.blocked("vx#0", model) is None for model in (GEMINI, CLAUDE, ALL_MODELS))


async def test_requests_wait_for_the_one_refresh_while_the_loop_serves_others(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    vertex.token_gate = asyncio.Event()
    gw = await gateway_factory(vertex_config(vertex))
    sdk = client(gw)
    pending = asyncio.ensure_future(wave(sdk, 0, 8))
    await asyncio.wait_for(vertex.token_requested.wait(), WAIT)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/health", timeout=aiohttp.ClientTimeout(total=WAIT)) as health:
        assert health.status == 200
    assert time.monotonic() - started < 1.0 and not pending.done()
    vertex.token_gate.set()
    assert await pending == ["Hello from Vertex."] * 8
    assert vertex.token_hits == 1


async def test_application_default_credentials(
    vertex: VertexFake, gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert vertex.account is not None
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(vertex.account.path))
    gw = await gateway_factory(vertex_config(vertex, credentials_file=None))
    assert await ask(client(gw), 2) == "Hello from Vertex."
    assert vertex.token_hits == 1


async def test_refused_credentials_cool_the_credential_and_say_why(
    vertex: VertexFake, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    assert vertex.account is not None
    stranger = service_account(tmp_path, vertex.token_uri)  # a key Google does not know
    gw = await gateway_factory(vertex_config(vertex, credentials_file=str(stranger.path)))
    with pytest.raises(anthropic.AuthenticationError) as raised:
        await ask(client(gw), 2)
    assert "invalid_grant: Invalid JWT Signature." in str(raised.value)
    entry = gw.gateway.book.blocked("vx#0", GEMINI)
    assert entry is not None and entry.reason is Reason.AUTH
    assert vertex.received == []


async def test_the_token_endpoint_checks_every_claim(vertex: VertexFake) -> None:
    account = vertex.account
    assert account is not None
    signer = crypt.RSASigner.from_string(account.private_pem, account.key_id)
    now = int(time.time())
    good = {"iss": account.email, "scope": CLOUD_PLATFORM, "aud": GOOGLE_TOKEN_AUDIENCE, "iat": now, "exp": now + 3600}
    other = crypt.RSASigner.from_string(service_account(account.path.parent, vertex.token_uri).private_pem, account.key_id)
    cases = [
        (signer, good, None),
        (other, good, ("invalid_grant", "Invalid JWT Signature.")),
        (signer, {**good, "aud": vertex.token_uri}, ("invalid_grant", "Invalid JWT: Failed audience check.")),
        (signer, {**good, "iss": "someone@else.iam.gserviceaccount.com"}, ("invalid_grant", "Invalid grant: account not found")),
        (signer, {**good, "scope": "https://www.googleapis.com/auth/userinfo.email"}, ("invalid_scope", "Invalid OAuth scope")),
        (signer, {**good, "exp": now + 7200}, ("invalid_grant", "Token must be a short-lived token")),
        (signer, {**good, "iat": now - 7200, "exp": now - 3600}, ("invalid_grant", "Token must be a short-lived token")),
    ]
    async with aiohttp.ClientSession() as session:
        for key, claims, refusal in cases:
            form = {"grant_type": JWT_BEARER, "assertion": jwt.encode(key, claims).decode()}
            async with session.post(vertex.token_uri, data=form) as response:
                body = await response.json()
            if refusal is None:
                assert response.status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3600
            else:
                assert response.status == 400 and body["error"] == refusal[0] and refusal[1] in body["error_description"], claims


async def test_verify_fetches_a_token_and_counts_tokens(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(vertex_config(vertex))
    upstream = gw.gateway.upstreams["vx"]
    assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
    assert vertex.received[-1].path.endswith(f"/publishers/google/models/{GEMINI}:countTokens")
    claude_only = await gateway_factory(vertex_config(vertex, models=[CLAUDE]))
    upstream = claude_only.gateway.upstreams["vx"]
    assert await upstream.verify(upstream.credentials[0]) == (200, "ok")
    sent = vertex.received[-1]
    assert sent.path.endswith("/publishers/anthropic/models/count-tokens:rawPredict") and sent.body["model"] == CLAUDE


async def test_no_key_assertion_or_token_in_logs_or_bodies(
    vertex: VertexFake, gateway_factory: GatewayFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="google")  # google-auth logs HTTP bodies when its logger is configured
    monkeypatch.setattr(logging.getLogger("google"), "propagate", True)
    assert vertex.account is not None
    gw = await gateway_factory(vertex_config(vertex))
    sdk = client(gw)
    bodies = [await ask(sdk, 1)]
    vertex.revoke_all()
    bodies.append(await ask(sdk, 2))  # a refused token, renewed
    upstream = gw.gateway.upstreams["vx"]
    bodies.append(str(await upstream.verify(upstream.credentials[0])))
    stranger = service_account(tmp_path, vertex.token_uri)
    refused = await gateway_factory(vertex_config(vertex, credentials_file=str(stranger.path)))
    for index in (1, 2):
        with pytest.raises(anthropic.APIStatusError) as raised:
            await ask(client(refused), index)
        bodies.append(raised.value.response.text)
    upstream = refused.gateway.upstreams["vx"]
    bodies.append(str(await upstream.verify(upstream.credentials[0])))

    key_lines = [line for pem in (vertex.account.private_pem, stranger.private_pem) for line in pem.splitlines() if "-----" not in line]
    secrets = key_lines + vertex.assertions + vertex.used_tokens + list(vertex.expired_events)
    assert len(vertex.assertions) >= 4 and len(set(vertex.used_tokens)) == 2
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    for secret in secrets:
        assert secret not in logged
        assert all(secret not in body for body in bodies)
    assert "invalid_grant" in logged  # the operator still learns why
