"""The warmup addon: probes answered by the gateway, at no upstream call; off, they go upstream as before."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest

from babelgate import ir
from babelgate.addons.warmup import probe
from tests.conftest import GatewayFactory, openai_config
from tests.fakes.turns import Turn, reply
from tests.fakes.upstream import FakeUpstream


def ask(text: str, max_tokens: int = 1, **extra: Any) -> dict[str, Any]:
    return {"model": "claude-haiku-5-5", "max_tokens": max_tokens, "messages": [{"role": "user", "content": text}], **extra}


def request(*messages: tuple[str, str], max_tokens: int | None = 1) -> ir.Request:
    return ir.Request("m", [ir.Message(role, [ir.TextPart(text)]) for role, text in messages], max_tokens=max_tokens)  # type: ignore[arg-type]


def test_what_counts_as_a_probe() -> None:
    assert probe(request(("user", "Warmup"), max_tokens=32000)) == "warmup"  # at any length
    assert probe(request(("user", "hello"), ("assistant", "hi"), ("user", " Warmup "))) == "warmup"  # the last message decides
    for text in ("quota", "count", "test", ".", "Hi"):
        assert probe(request(("user", text))) == text.lower()
    assert probe(request(("user", "quota"), max_tokens=100)) is None  # a real question that happens to be a word
    assert probe(request(("user", "hi"), ("assistant", "yes?"), ("user", "hi"))) is None  # a conversation, not a probe
    assert probe(request(("user", "Warmup"), ("assistant", "OK"))) is None
    assert probe(request(("user", "Warmup please"))) is None
    reminded = ir.Request("m", [ir.Message("user", [ir.TextPart("<system-reminder>\nbe nice</system-reminder>"), ir.TextPart("Warmup")])])
    assert probe(reminded) == "warmup"  # Claude Code's reminders are not what the user said
    tool_result = ir.Request("m", [ir.Message("user", [ir.ToolResultPart("t", [ir.TextPart("Warmup")])])], max_tokens=1)
    assert probe(tool_result) is None


async def test_probes_are_answered_without_an_upstream_call(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, addons={"warmup": True}))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    raw = await client.messages.with_raw_response.create(**ask("quota"))
    assert raw.headers["X-Warmup-Intercepted"] == "true"
    message = await raw.parse()
    assert [b.text for b in message.content if b.type == "text"] == ["OK"] and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (1, 1)
    async with client.messages.stream(**ask("Warmup", max_tokens=32000)) as stream:
        assert stream.response.headers["X-Warmup-Intercepted"] == "true"
        events = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop" and "content_block_delta" in events
    assert final.content[0].type == "text" and final.content[0].text == "OK" and final.stop_reason == "end_turn"
    counted = await client.messages.create(
        **ask("count", tools=[{"name": "Bash", "description": "x" * 4000, "input_schema": {"type": "object"}}])
    )
    assert counted.usage.input_tokens > 100  # the gateway's estimate: Claude Code reads it as the tools' size
    assert upstream.received == []


async def test_a_model_the_gateway_cannot_route_still_gets_its_error(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({**openai_config(upstream, addons={"warmup": True}), "aliases": {}})
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}/v1/messages", json=ask("Warmup")) as response:
        assert response.status == 400 and "X-Warmup-Intercepted" not in response.headers
        assert "is not configured" in (await response.json())["error"]["message"]


@pytest.mark.parametrize("addons", [{}, {"warmup": False}])
async def test_off_by_default_and_when_switched_off(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, addons: dict[str, bool]
) -> None:
    upstream.push(reply("openai", Turn(text="upstream says hi"), stream=False))
    gw = await gateway_factory(openai_config(upstream, addons=addons))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    raw = await client.messages.with_raw_response.create(**ask("Warmup"))
    assert "X-Warmup-Intercepted" not in raw.headers
    assert (await raw.parse()).content[0].type == "text" and len(upstream.received) == 1
