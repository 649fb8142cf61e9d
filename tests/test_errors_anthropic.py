"""Every bad input answers with the documented status and an Anthropic-shaped body."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream

SECRET = "sk-test-secret-key-1"


async def post(url: str, body: bytes | dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        kwargs: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
        async with session.post(url, headers=headers or {}, **kwargs) as response:
            return response.status, await response.json(), dict(response.headers)


def assert_anthropic_error(body: dict[str, Any], kind: str) -> str:
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    message = body["error"]["message"]
    assert isinstance(message, str) and message
    assert SECRET not in str(body)
    return str(message)


MINIMAL = {"model": "opus", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        ({"model": "opus", "max_tokens": 10}, "messages"),
        ({"model": 5, "max_tokens": 10, "messages": []}, "model: expected a string"),
        ({**MINIMAL, "max_tokens": "ten"}, "max_tokens: expected an integer"),
        ({**MINIMAL, "messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
        ({**MINIMAL, "messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
        ({**MINIMAL, "messages": [{"role": "user", "content": [{"kind": "hologram"}]}]}, "messages.0.content.0.type"),
        ({**MINIMAL, "tools": [{"description": "no name"}]}, "tools.0.name"),
        ({**MINIMAL, "tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({**MINIMAL, "thinking": {"type": "enabled", "budget_tokens": "lots"}}, "thinking.budget_tokens"),
    ],
)
async def test_malformed_requests_are_400_naming_the_field(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, body: bytes | dict[str, Any], field: str
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    status, payload, _ = await post(f"{gw.url}/v1/messages", body)
    assert status == 400
    assert field in assert_anthropic_error(payload, "invalid_request_error")
    assert upstream.received == []


async def test_unknown_model_is_400_listing_what_is_available(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    """Claude Code's gateway contract: a model the gateway does not serve is 400 invalid_request_error, not worth a retry."""
    gw = await gateway_factory(openai_config(upstream, aliases={"opus": "up/gpt-5"}))
    status, payload, headers = await post(f"{gw.url}/v1/messages", {**MINIMAL, "model": "gpt-9000"})
    assert status == 400 and headers["x-should-retry"] == "false"
    message = assert_anthropic_error(payload, "invalid_request_error")
    assert "gpt-9000" in message and "opus" in message and "up/gpt-5-mini" in message


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"}])
async def test_client_key_required_when_configured(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, headers: dict[str, str]
) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": ["gw-key"]}))
    status, payload, _ = await post(f"{gw.url}/v1/messages", MINIMAL, headers)
    assert status == 401
    assert_anthropic_error(payload, "authentication_error")


@pytest.mark.parametrize("headers", [{"x-api-key": "gw-key"}, {"Authorization": "Bearer gw-key"}])
async def test_client_key_accepted(upstream: FakeUpstream, gateway_factory: GatewayFactory, headers: dict[str, str]) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": ["gw-key"]}))
    upstream.push(wire.Reply(json=wire.completion("ok")))
    status, payload, _ = await post(f"{gw.url}/v1/messages", MINIMAL, headers)
    assert status == 200 and payload["content"][0]["text"] == "ok"


async def test_unreachable_upstream_is_502_naming_the_provider(gateway_factory: GatewayFactory) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "providers": {"localbox": {"base_url": f"http://127.0.0.1:{port}/v1", "api_keys": [SECRET], "models": ["m"]}},
        "routing": {"max_wait": 0},
    }
    gw = await gateway_factory(config)
    status, payload, _ = await post(f"{gw.url}/v1/messages", {**MINIMAL, "model": "localbox/m"})
    assert status == 502
    message = assert_anthropic_error(payload, "api_error")
    assert "localbox" in message and "unreachable" in message


@pytest.mark.parametrize(
    ("upstream_status", "status", "kind"),
    [
        (400, 400, "invalid_request_error"),
        (404, 404, "not_found_error"),
        (413, 413, "request_too_large"),
        (500, 502, "api_error"),
        (529, 529, "overloaded_error"),
    ],
)
async def test_upstream_errors_map_to_anthropic_types(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, upstream_status: int, status: int, kind: str
) -> None:
    gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}))
    upstream.push(wire.error(upstream_status, f"upstream says no ({upstream_status})"))
    got, payload, _ = await post(f"{gw.url}/v1/messages", MINIMAL)
    assert got == status
    assert f"upstream says no ({upstream_status})" in assert_anthropic_error(payload, kind)


async def test_upstream_401_is_authentication_error_without_retry(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}))
    upstream.push(wire.error(401, "Incorrect API key provided: sk-tes***-1", "invalid_request_error", "invalid_api_key"))
    status, payload, headers = await post(f"{gw.url}/v1/messages", MINIMAL)
    assert status == 401
    assert "Incorrect API key" in assert_anthropic_error(payload, "authentication_error")
    assert headers.get("x-should-retry") == "false"


async def test_unknown_route_is_json_404(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/v2/nothing") as response:
        assert response.status == 404
        assert_anthropic_error(await response.json(), "not_found_error")


async def test_health_models_and_head(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/health") as response:
            health = await response.json()
            assert health["status"] == "ok" and SECRET not in str(health)
        async with session.head(f"{gw.url}/") as response:
            assert response.status == 200
        async with session.get(f"{gw.url}/v1/models", headers={"anthropic-version": "2023-06-01"}) as response:
            models = await response.json()
    ids = [m["id"] for m in models["data"]]
    assert ids == ["claude-opus", "claude-up-gpt-5", "claude-up-gpt-5-mini"]  # ids Claude Code keeps (tests/test_claude_code_models.py)
    assert all(m["type"] == "model" and m["display_name"] and m["created_at"] for m in models["data"])
    assert models["has_more"] is False and models["first_id"] == "claude-opus" and models["last_id"] == "claude-up-gpt-5-mini"


@pytest.mark.parametrize(
    ("upstream_message", "phrase"),
    [
        (
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 150021 tokens.",
            "prompt is too long: 150021 tokens > 128000 maximum",
        ),
        (
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
            "prompt is too long: 1200000 tokens > 1048576 maximum",
        ),
        ("request exceeds the context window of this model", "prompt is too long for this model's context window"),
    ],
)
async def test_context_overflow_speaks_claude_codes_language(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, upstream_message: str, phrase: str
) -> None:
    """Claude Code compacts the conversation when it reads Anthropic's "prompt is too long"."""
    gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}))
    upstream.push(wire.error(400, upstream_message, "invalid_request_error", "context_length_exceeded"))
    status, payload, _ = await post(f"{gw.url}/v1/messages", MINIMAL)
    assert status == 400
    message = assert_anthropic_error(payload, "invalid_request_error")
    assert message.startswith(phrase) and upstream_message in message
