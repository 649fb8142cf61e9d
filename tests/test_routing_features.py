"""Sticky conversations, reasoning variants in model names, and model-name resolution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from babelgate import ir
from babelgate.config import parse
from babelgate.errors import GatewayError
from babelgate.routing.models import ModelResolver, Target, split_variant
from babelgate.store.sqlite import SqliteStore
from tests.conftest import GatewayFactory
from tests.fakes.turns import Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply

KEYS = ["sk-one-000001", "sk-two-000002", "sk-three-0003"]


def key_of(record: Received) -> str:
    return record.headers["authorization"].removeprefix("Bearer ")


async def ask(url: str, session_id: str, model: str = "claude-sonnet-5-5") -> None:
    body = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/v1/messages", json=body, headers={"X-Claude-Code-Session-Id": session_id}) as r,
    ):
        assert r.status == 200, await r.text()


async def test_sticky_conversations_stay_on_one_key_across_restarts(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    upstream.script = lambda record: reply("openai", Turn(text="ok"), False)
    config = {
        "providers": {"pool": {"base_url": f"{upstream.url}/v1", "api_keys": KEYS, "models": ["m"]}},
        "aliases": {"claude-*": "pool/m"},
        "routing": {"strategy": "sticky"},
    }
    gw = await gateway_factory(config, SqliteStore(tmp_path / "s.db"))
    for _ in range(4):
        for conversation in ("conv-a", "conv-b", "conv-c"):
            await ask(gw.url, conversation)
    by_conversation: dict[str, set[str]] = {}
    for i, record in enumerate(upstream.received):
        by_conversation.setdefault(("conv-a", "conv-b", "conv-c")[i % 3], set()).add(key_of(record))
    assert all(len(keys) == 1 for keys in by_conversation.values())
    assert len(set().union(*by_conversation.values())) == 3  # new conversations spread over the keys
    await gw.stop()

    restarted = await gateway_factory(config, SqliteStore(tmp_path / "s.db"))
    upstream.received.clear()
    await ask(restarted.url, "conv-b")
    assert {key_of(upstream.received[0])} == by_conversation["conv-b"]


def test_split_variant() -> None:
    assert split_variant("gpt-5(high)") == ("gpt-5", ir.Reasoning(effort="high"))
    assert split_variant("openai/gpt-5(8192)") == ("openai/gpt-5", ir.Reasoning(budget=8192))
    assert split_variant("x(none)") == ("x", ir.Reasoning(effort="none"))
    assert split_variant("x(0)") == ("x", ir.Reasoning(effort="none"))
    assert split_variant("plain") == ("plain", None)
    with pytest.raises(GatewayError, match="loud"):
        split_variant("x(loud)")


def test_resolution_order() -> None:
    config = parse(
        {
            "providers": {
                "a": {"base_url": "http://127.0.0.1:1/v1", "models": ["m1", "shared"]},
                "b": {"base_url": "http://127.0.0.1:2/v1"},
            },
            "aliases": {"exact": ["a/m1", "b/other"], "claude-haiku-*": "a/m1", "claude-*": "b/big", "chain": "exact"},
        }
    )
    resolver = ModelResolver(config)
    assert resolver.resolve("exact")[0] == [Target("a", "m1"), Target("b", "other")]
    assert resolver.resolve("chain")[0] == [Target("a", "m1"), Target("b", "other")]  # an alias of an alias
    assert resolver.resolve("shared")[0] == [Target("a", "shared")]  # a bare id a provider lists
    assert resolver.resolve("b/anything")[0] == [Target("b", "anything")]  # a provider with no model list takes any
    assert resolver.resolve("claude-haiku-5-5")[0] == [Target("a", "m1")]  # globs in written order
    assert resolver.resolve("claude-opus-5-5(low)") == ([Target("b", "big")], ir.Reasoning(effort="low"))
    with pytest.raises(GatewayError) as caught:
        resolver.resolve("a/unlisted")
    assert caught.value.status == 404 and "a/m1" in caught.value.message


@pytest.mark.parametrize(
    ("kind", "model", "expect"),
    [
        ("openai", "up/m(high)", {"reasoning_effort": "high"}),
        ("openai", "up/m(max)", {"reasoning_effort": "high"}),
        ("anthropic", "up/m(8192)", {"thinking": {"type": "enabled", "budget_tokens": 8192}}),
        ("anthropic", "up/m(low)", {"thinking": {"type": "enabled", "budget_tokens": 2048}}),
        ("anthropic", "up/m(none)", {"thinking": None}),
        ("gemini", "up/gemini-2.5-flash(none)", {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}),
        ("gemini", "up/gemini-3-pro(low)", {"generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}}),
    ],
)
async def test_variants_reach_each_upstream(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, kind: str, model: str, expect: dict[str, Any]
) -> None:
    base = f"{upstream.url}/v1" if kind == "openai" else upstream.url
    provider = {"type": kind, "base_url": base, "reasoning_effort": True}
    gw = await gateway_factory({"providers": {"up": provider}})
    upstream.script = lambda record: reply(kind, Turn(text="ok"), False)
    body = {"model": model, "max_tokens": 20000, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}/v1/messages", json=body) as response:
        assert response.status == 200, await response.text()
    sent = upstream.received[0].body
    for key, value in expect.items():
        if value is None:
            assert key not in sent
        elif isinstance(value, dict) and key == "generationConfig":
            assert sent[key]["thinkingConfig"].items() >= value["thinkingConfig"].items()
        else:
            assert sent[key] == value


async def test_gemini_v1_path_as_google_genai_defaults(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = lambda record: Reply(
        json={"choices": [{"index": 0, "message": {"role": "assistant", "content": "v1 ok"}, "finish_reason": "stop"}]}
    )
    gw = await gateway_factory({"providers": {"up": {"base_url": f"{upstream.url}/v1", "models": ["m"]}}, "aliases": {"g": "up/m"}})
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}/v1/models/g:generateContent", json=body) as response:
        answer = await response.json()
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == "v1 ok"
