"""The Groq, Mistral and Cerebras presets against strict loopback fakes, through a real gateway.

Each fake refuses what its API refuses (tests/fakes/openai_compat.py). A request that gets an
answer was fixed the preset's way; the same request to a provider without the preset's fixes
shows the refusal, in the client's own dialect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_compat import FakeCerebras, FakeGroq, FakeMistral
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
async def groq() -> AsyncIterator[FakeGroq]:
    fake = await FakeGroq([KEY]).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def mistral() -> AsyncIterator[FakeMistral]:
    fake = await FakeMistral([KEY]).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def cerebras() -> AsyncIterator[FakeCerebras]:
    fake = await FakeCerebras([KEY]).start()
    yield fake
    await fake.stop()


def history(**assistant_extra: Any) -> list[dict[str, Any]]:
    """A conversation as an OpenAI client replays it: names on messages, the assistant's reasoning and refusal fields."""
    return [
        {"role": "system", "content": "Be brief.", "name": "ops"},
        {"role": "user", "content": "hi", "name": "bob"},
        {"role": "assistant", "content": "Hello.", "refusal": None, **assistant_extra},
        {"role": "user", "content": "again", "name": "bob"},
    ]


# ---- Groq --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
async def test_groq_gets_no_field_it_rejects(groq: FakeGroq, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(gateway_config("groq", preset_provider("groq", groq)))
    request: Any = {
        "model": "groq/llama-3.3-70b-versatile",
        "messages": history(reasoning_content="I greeted them."),
        "logprobs": True,
        "top_logprobs": 2,
        "logit_bias": {"50256": -100},
        "temperature": 0.3,
    }
    text, _, _ = await openai_ask(openai_client(gw.url), stream, **request)
    assert text == "Hello!"
    body = groq.received[-1].body
    assert not {"logprobs", "top_logprobs", "logit_bias"} & body.keys()
    assert body["temperature"] == 0.3  # what Groq takes passes untouched
    assert all("name" not in m and "reasoning_content" not in m for m in body["messages"])
    assert body["messages"][1] == {"role": "user", "content": "hi"}


async def test_groq_without_the_preset_refuses_logprobs(groq: FakeGroq, gateway_factory: GatewayFactory) -> None:
    bare = {"base_url": f"{groq.url}/openai/v1", "api_keys": [KEY], "models": [groq.model]}
    gw = await gateway_factory(gateway_config("groq", bare))
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client(gw.url).chat.completions.create(
            model=f"groq/{groq.model}", messages=[{"role": "user", "content": "hi"}], logprobs=True
        )
    assert "`logprobs` is not supported with this model" in str(caught.value)


async def test_groq_with_an_anthropic_client(groq: FakeGroq, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(gateway_config("groq", preset_provider("groq", groq)))
    message = await anthropic_ask(
        anthropic_client(gw.url), True, model="claude-opus-5-5", max_tokens=200, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "Hello!"  # type: ignore[union-attr]


async def test_n_above_one_is_the_clients_400(groq: FakeGroq, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(gateway_config("groq", preset_provider("groq", groq)))
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client(gw.url).chat.completions.create(model=f"groq/{groq.model}", messages=[{"role": "user", "content": "hi"}], n=2)
    assert "n=1" in str(caught.value)
    assert groq.received == []


# ---- Mistral ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
async def test_mistral_takes_openai_fields_in_its_spelling(mistral: FakeMistral, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(gateway_config("mistral", preset_provider("mistral", mistral)))
    extra: Any = {"stream_options": {"include_usage": True}} if stream else {}
    request: Any = {"model": "mistral/mistral-large-latest", "messages": history(), "seed": 7, "max_completion_tokens": 50, "user": "u-1"}
    text, _, usage = await openai_ask(openai_client(gw.url), stream, **request, **extra)
    assert text == "Hello!"
    assert usage is not None and usage.total_tokens == (12 if stream else 17)  # in a stream, from Mistral's last chunk
    body = mistral.received[-1].body
    assert body["random_seed"] == 7 and body["max_tokens"] == 50
    assert not {"seed", "max_completion_tokens", "user", "stream_options"} & body.keys()
    assert body["messages"][2] == {"role": "assistant", "content": "Hello."}


@pytest.mark.parametrize("stream", STREAMS)
async def test_mistral_tool_loop_with_foreign_tool_call_ids(mistral: FakeMistral, gateway_factory: GatewayFactory, stream: bool) -> None:
    """Claude Code's history holds tool-call ids from another model; Mistral wants nine letters and digits."""
    gw = await gateway_factory(gateway_config("mistral", preset_provider("mistral", mistral)))
    sdk = anthropic_client(gw.url)
    ask: Any = {"model": "claude-sonnet-5-5", "max_tokens": 300, "tools": [WEATHER_TOOL]}
    foreign = "toolu_01A09q90qw90lq917835lq9"
    messages: Any = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": foreign, "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": foreign, "content": "rain"}]},
    ]
    answer = await anthropic_ask(sdk, stream, messages=messages, **ask)
    assert answer.content[-1].text == "Hello!"  # type: ignore[union-attr]
    sent = mistral.received[-1].body["messages"]
    call_id = sent[1]["tool_calls"][0]["id"]
    assert len(call_id) == 9 and call_id.isalnum() and sent[2]["tool_call_id"] == call_id  # the pair still matches

    first = await anthropic_ask(sdk, stream, messages=[{"role": "user", "content": "weather?"}], **ask)
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.id == FakeMistral.call_id  # Mistral's own ids come back unchanged
    replay: Any = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sun"}]},
    ]
    await anthropic_ask(sdk, stream, messages=replay, **ask)
    assert mistral.received[-1].body["messages"][2]["tool_call_id"] == FakeMistral.call_id


async def test_mistral_without_the_preset_is_refused_in_the_clients_dialect(mistral: FakeMistral, gateway_factory: GatewayFactory) -> None:
    bare = {"base_url": f"{mistral.url}/v1", "api_keys": [KEY], "models": [mistral.model]}
    gw = await gateway_factory(gateway_config("mistral", bare))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await anthropic_ask(anthropic_client(gw.url), True, model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 422
    assert "body.stream_options: Extra inputs are not permitted" in str(caught.value)  # Mistral's validation error, made readable
    foreign: Any = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"}]},
    ]
    with pytest.raises(anthropic.BadRequestError) as refused:
        await anthropic_ask(anthropic_client(gw.url), False, model="claude-x", max_tokens=10, tools=[WEATHER_TOOL], messages=foreign)
    assert "Tool call id was toolu_1 but must be a-z, A-Z, 0-9, with a length of 9." in str(refused.value)


# ---- Cerebras -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
async def test_cerebras_takes_reasoning_under_its_own_name(cerebras: FakeCerebras, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(gateway_config("cerebras", preset_provider("cerebras", cerebras)))
    request: Any = {
        "model": "cerebras/gpt-oss-120b",
        "messages": history(reasoning_content="I greeted them."),
        "store": True,
        "metadata": {"a": "b"},
    }
    text, reasoning, _ = await openai_ask(openai_client(gw.url), stream, **request)
    assert text == "Hello!" and reasoning == FakeCerebras.reasoning
    body = cerebras.received[-1].body
    assert not {"store", "metadata"} & body.keys()
    assert body["messages"][2] == {"role": "assistant", "content": "Hello.", "reasoning": "I greeted them."}
    assert body["messages"][1]["name"] == "bob"  # Cerebras takes names


@pytest.mark.parametrize("stream", STREAMS)
async def test_cerebras_reasoning_reaches_an_anthropic_client_as_thinking(
    cerebras: FakeCerebras, gateway_factory: GatewayFactory, stream: bool
) -> None:
    gw = await gateway_factory(gateway_config("cerebras", preset_provider("cerebras", cerebras)))
    message = await anthropic_ask(
        anthropic_client(gw.url), stream, model="claude-x", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == FakeCerebras.reasoning  # type: ignore[union-attr]


async def test_cerebras_without_the_preset_names_the_unsupported_property(cerebras: FakeCerebras, gateway_factory: GatewayFactory) -> None:
    bare = {"base_url": f"{cerebras.url}/v1", "api_keys": [KEY], "models": [cerebras.model]}
    gw = await gateway_factory(gateway_config("cerebras", bare))
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client(gw.url).chat.completions.create(model="cerebras/gpt-oss-120b", messages=history(reasoning_content="r"))
    assert "property 'messages.2.assistant.reasoning_content' is unsupported" in str(caught.value)
