"""Deferred tools (Claude Code's tool search) for upstreams that cannot defer them: only loaded tools go up.

The request is Claude Code's own (a captured tool-search turn): WebFetch was loaded by a
`tool_reference`, DeferredToolPlaceholder never was. Anthropic's API takes `defer_loading` and
`tool_reference` and gets the body as sent; an Anthropic-format server elsewhere, and every
other family, gets only the loaded tools and the reference as text.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import GatewayFactory
from tests.dialects.helpers import fixture
from tests.fakes import turns
from tests.fakes.turns import Turn
from tests.fakes.upstream import FakeUpstream

CAPTURE = "claude-code-2.1.328-toolsearch.2.json"


async def send(url: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as session, session.post(f"{url}/v1/messages", json={**body, "stream": False}) as response:
        assert response.status == 200, await response.text()


@pytest.mark.parametrize("defer_tools", [None, True])
async def test_an_anthropic_format_upstream_gets_deferred_tools_only_if_it_defers(
    defer_tools: bool | None, upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    provider: dict[str, Any] = {"type": "anthropic", "base_url": upstream.url, "models": ["claude-up"]}
    if defer_tools is not None:
        provider["defer_tools"] = defer_tools
    gw = await gateway_factory({"providers": {"up": provider}, "aliases": {"claude-*": "up/claude-up"}})
    upstream.script = lambda record: turns.reply("anthropic", Turn(text="ok"), False)
    body = fixture(CAPTURE)
    await send(gw.url, body)
    sent = upstream.received[0].body
    wire = orjson.dumps(sent["messages"]).decode()
    names = [t["name"] for t in sent["tools"]]
    if defer_tools:  # told it defers: the client's tools and references as sent
        assert sent["tools"] == body["tools"] and '"tool_reference"' in wire
    else:  # a server on 127.0.0.1 is not Anthropic's API: it gets what it can use
        assert "DeferredToolPlaceholder" not in names and "WebFetch" in names
        assert not any("defer_loading" in t for t in sent["tools"])
        assert '"tool_reference"' not in wire and "Tool loaded: WebFetch" in wire
        assert names == [t["name"] for t in body["tools"] if t["name"] != "DeferredToolPlaceholder"]  # order kept


@pytest.mark.parametrize("kind", ["openai", "openai-responses", "gemini"])
async def test_other_families_get_only_the_loaded_tools(kind: str, upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    base = upstream.url + ("/v1" if kind.startswith("openai") else "")
    gw = await gateway_factory({"providers": {"up": {"type": kind, "base_url": base, "models": ["m"]}}, "aliases": {"claude-*": "up/m"}})
    upstream.script = lambda record: turns.reply(kind, Turn(text="ok"), False)
    await send(gw.url, fixture(CAPTURE))
    wire = orjson.dumps(upstream.received[0].body).decode()
    assert "WebFetch" in wire and "DeferredToolPlaceholder" not in wire and "defer_loading" not in wire
