"""The DeepSeek and OpenRouter presets: reasoning both ways, through a real gateway, with the official SDKs.

DeepSeek (thinking mode) wants `reasoning_content` back on the assistant messages of turns that
called tools, and ignores it elsewhere; its strict fake refuses a tool turn without it.
OpenRouter takes the requested reasoning as its `reasoning` object and answers with `reasoning`
and `reasoning_details`, which must read back as one thinking block, not two.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest

from babelgate.providers.presets import OPENROUTER_HEADERS
from tests.conftest import GatewayFactory
from tests.fakes.openai_compat import DEEPSEEK_PASS_BACK, FakeDeepSeek, FakeOpenRouter
from tests.providers.compat_support import (
    KEY,
    WEATHER_TOOL,
    anthropic_ask,
    anthropic_client,
    gateway_config,
    openai_ask,
    openai_client,
    preset_provider,
)

STREAMS = [False, True]


@pytest.fixture
async def deepseek() -> AsyncIterator[FakeDeepSeek]:
    fake = await FakeDeepSeek([KEY], text="Rain in Paris.").start()
    yield fake
    await fake.stop()


@pytest.fixture
async def openrouter() -> AsyncIterator[FakeOpenRouter]:
    fake = await FakeOpenRouter([KEY]).start()
    yield fake
    await fake.stop()


def replayed(message: anthropic.types.Message) -> dict[str, Any]:
    """An assistant turn as Claude Code sends it back: its blocks as it got them."""
    return {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]}


# ---- DeepSeek -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
async def test_deepseek_tool_loop_passes_reasoning_back(deepseek: FakeDeepSeek, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(gateway_config("deepseek", preset_provider("deepseek", deepseek)))
    sdk = anthropic_client(gw.url)
    ask: Any = {"model": "claude-opus-5-5", "max_tokens": 2000, "tools": [WEATHER_TOOL]}
    conversation: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]

    called = await anthropic_ask(sdk, stream, messages=conversation, **ask)
    assert [b.type for b in called.content] == ["thinking", "tool_use"]
    assert called.content[0].thinking == FakeDeepSeek.reasoning  # type: ignore[union-attr]  # reasoning_content read as thinking
    call = called.content[1]
    conversation += [replayed(called), {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "rain"}]}]  # type: ignore[union-attr]

    answered = await anthropic_ask(sdk, stream, messages=conversation, **ask)  # the fake refuses this unless the reasoning came back
    assert answered.content[-1].text == "Rain in Paris."  # type: ignore[union-attr]
    sent = deepseek.received[-1].body["messages"]
    assert sent[1]["reasoning_content"] == FakeDeepSeek.reasoning and sent[1]["tool_calls"]

    conversation += [replayed(answered), {"role": "user", "content": "Thanks. And is it cold?"}]
    await anthropic_ask(sdk, stream, messages=conversation, **ask)
    conversation += [replayed(answered), {"role": "user", "content": "Bye."}]  # a turn that called no tool
    await anthropic_ask(sdk, stream, messages=conversation, **ask)
    sent = deepseek.received[-1].body["messages"]
    assistants = [m for m in sent if m["role"] == "assistant"]
    assert all("reasoning_content" in m for m in assistants[:2])  # the tool turn's, in every later request
    assert "reasoning_content" not in assistants[2]  # not the plain turn's: DeepSeek ignores it there


async def test_deepseek_tool_turn_without_its_reasoning_gets_an_empty_one(deepseek: FakeDeepSeek, gateway_factory: GatewayFactory) -> None:
    """A history from another model has no reasoning to give back; the field must still be there."""
    gw = await gateway_factory(gateway_config("deepseek", preset_provider("deepseek", deepseek)))
    messages: Any = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "sun"}]},
    ]
    await anthropic_ask(anthropic_client(gw.url), False, model="claude-x", max_tokens=100, tools=[WEATHER_TOOL], messages=messages)
    assert deepseek.received[-1].body["messages"][1]["reasoning_content"] == ""


async def test_deepseek_without_echo_is_refused(deepseek: FakeDeepSeek, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(gateway_config("deepseek", preset_provider("deepseek", deepseek, echo_reasoning=False)))
    messages: Any = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "sun"}]},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await anthropic_ask(anthropic_client(gw.url), True, model="claude-x", max_tokens=100, tools=[WEATHER_TOOL], messages=messages)
    assert DEEPSEEK_PASS_BACK in str(caught.value)


@pytest.mark.parametrize("stream", STREAMS)
async def test_deepseek_reasoning_reaches_an_openai_client(deepseek: FakeDeepSeek, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(gateway_config("deepseek", preset_provider("deepseek", deepseek)))
    text, reasoning, _ = await openai_ask(
        openai_client(gw.url), stream, model="deepseek/deepseek-reasoner", messages=[{"role": "user", "content": "hi"}]
    )
    assert text == "Rain in Paris." and reasoning == FakeDeepSeek.reasoning


# ---- OpenRouter -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
async def test_openrouter_thinking_budget_and_reasoning_back(
    openrouter: FakeOpenRouter, gateway_factory: GatewayFactory, stream: bool
) -> None:
    gw = await gateway_factory(gateway_config("openrouter", preset_provider("openrouter", openrouter)))
    message = await anthropic_ask(
        anthropic_client(gw.url),
        stream,
        model="claude-sonnet-5-5",
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 4096},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == FakeOpenRouter.reasoning  # type: ignore[union-attr]  # once, though sent twice over
    sent = openrouter.received[-1]
    assert sent.body["reasoning"] == {"max_tokens": 4096} and "reasoning_effort" not in sent.body
    assert "http-referer" not in sent.headers and sent.headers["x-title"] == OPENROUTER_HEADERS["X-Title"] == "babelgate"


@pytest.mark.parametrize("stream", STREAMS)
async def test_openrouter_effort_from_an_openai_client(openrouter: FakeOpenRouter, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(gateway_config("openrouter", preset_provider("openrouter", openrouter)))
    request: Any = {"model": f"openrouter/{openrouter.model}", "messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high"}
    text, reasoning, _ = await openai_ask(openai_client(gw.url), stream, **request)
    assert text == "Hello!"
    assert openrouter.received[-1].body["reasoning"] == {"effort": "high"} and "reasoning_effort" not in openrouter.received[-1].body
    assert reasoning == (FakeOpenRouter.reasoning if stream else "")  # relayed as OpenRouter sent it (null `reasoning` in a whole reply)


async def test_openrouter_routing_variant_and_own_headers(openrouter: FakeOpenRouter, gateway_factory: GatewayFactory) -> None:
    headers = {"HTTP-Referer": "https://example.test/app", "X-Title": "My App"}
    gw = await gateway_factory(gateway_config("openrouter", preset_provider("openrouter", openrouter, headers=headers)))
    await anthropic_ask(
        anthropic_client(gw.url), False, model="claude-x(xhigh)", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    sent = openrouter.received[-1]
    assert sent.body["reasoning"] == {"effort": "xhigh"}
    assert sent.headers["http-referer"] == "https://example.test/app" and sent.headers["x-title"] == "My App"


async def test_openrouter_clients_own_reasoning_object_is_kept(openrouter: FakeOpenRouter, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(gateway_config("openrouter", preset_provider("openrouter", openrouter)))
    await openai_client(gw.url).chat.completions.create(
        model=f"openrouter/{openrouter.model}",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"reasoning": {"max_tokens": 2000, "exclude": True}},
    )
    assert openrouter.received[-1].body["reasoning"] == {"max_tokens": 2000, "exclude": True}
