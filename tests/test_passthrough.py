"""Same dialect in and out: the client's body is edited, not rebuilt; unknown fields survive both ways."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.conftest import GatewayFactory
from tests.fakes.turns import Turn, anthropic_body, anthropic_stream, openai_body
from tests.fakes.upstream import FakeUpstream, Reply


async def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers or {}) as response:
        return response.status, await response.read()


async def test_anthropic_to_anthropic_keeps_unknown_fields(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    config = {
        "providers": {
            "claude": {
                "type": "anthropic",
                "base_url": upstream.url,
                "api_keys": ["sk-ant-1"],
                "models": ["claude-up"],
                "max_tokens": 64000,
            }
        },
        "aliases": {"claude-*": "claude/claude-up"},
    }
    gw = await gateway_factory(config)
    answer = {**anthropic_body(Turn(text="hi")), "container": {"id": "c1"}, "future_field": [1, 2]}
    upstream.push(Reply(json=answer))
    request = {
        "model": "claude-opus-5-5",
        "max_tokens": 128000,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"},
            {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]}],
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "medium"},
        "thinking": {"type": "adaptive"},
    }
    headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "context-management-2025-06-27"}
    status, raw = await post(f"{gw.url}/v1/messages?beta=true", request, headers)
    assert status == 200
    assert orjson.loads(raw) == answer  # the upstream's answer, untouched
    sent = upstream.received[0]
    assert sent.headers["x-api-key"] == "sk-ant-1" and sent.headers["anthropic-beta"] == "context-management-2025-06-27"
    assert sent.body["model"] == "claude-up" and sent.body["max_tokens"] == 64000
    assert sent.body["system"] == request["system"]  # the billing header stays for Anthropic, cache_control kept
    for key in ("context_management", "output_config", "thinking", "messages"):
        assert sent.body[key] == request[key]


async def test_anthropic_stream_relayed_byte_for_byte(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    config = {"providers": {"claude": {"type": "anthropic", "base_url": upstream.url, "models": ["claude-up"]}}}
    gw = await gateway_factory(config)
    stream = anthropic_stream(Turn(thinking="hmm", text="streamed"))
    upstream.push(Reply(chunks=[stream[:50], stream[50:]]))
    status, raw = await post(
        f"{gw.url}/v1/messages",
        {"model": "claude/claude-up", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert status == 200 and raw == stream
    assert gw.gateway.ledger.for_credential("claude#0").output_tokens == 9  # usage observed on the way through


async def test_openai_to_openai_keeps_unknown_fields(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    config = {"providers": {"oai": {"base_url": f"{upstream.url}/v1", "models": ["gpt-up"]}}, "aliases": {"fast": "oai/gpt-up"}}
    gw = await gateway_factory(config)
    answer = {**openai_body(Turn(text="hi")), "system_fingerprint": "fp_1", "service_tier": "default"}
    upstream.push(Reply(json=answer))
    request = {
        "model": "fast",
        "messages": [{"role": "user", "content": "x"}],
        "logit_bias": {"50256": -100},
        "seed": 7,
        "metadata": {"a": "b"},
    }
    status, raw = await post(f"{gw.url}/v1/chat/completions", request)
    assert status == 200 and orjson.loads(raw) == answer
    assert upstream.received[0].body == {**request, "model": "gpt-up"}
