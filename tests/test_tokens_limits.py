"""max_tokens as each upstream takes it, on the translated path and on the same-dialect pass-through.

The upstreams (tests/fakes/counting.py) refuse what the real APIs refuse: OpenAI Responses a
`max_output_tokens` under 16, a gpt-5-class Chat model `max_tokens`, Anthropic a `max_tokens`
over the model's output limit. Every request here would be refused if babelgate forwarded the
client's number or field as it came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.conftest import GatewayFactory
from tests.fakes.counting import CountingUpstream

ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, CountingUpstream]]:
    started = {kind: await CountingUpstream(kind).start() for kind in ("anthropic", "openai", "openai-responses", "gemini")}
    yield started
    for fake in started.values():
        await fake.stop()


def config(fakes: dict[str, CountingUpstream], **providers: dict[str, Any]) -> dict[str, Any]:
    base = {
        "claude": {"type": "anthropic", "base_url": fakes["anthropic"].url, "models": ["claude-up"]},
        "chat": {
            "type": "openai",
            "base_url": f"{fakes['openai'].url}/v1",
            "models": ["gpt-5"],
            "max_tokens_field": "max_completion_tokens",
        },
        "resp": {"type": "openai-responses", "base_url": f"{fakes['openai-responses'].url}/v1", "models": ["gpt-5"]},
        "gem": {"type": "gemini", "base_url": fakes["gemini"].url, "models": ["gemini-up"]},
    }
    for name, extra in providers.items():
        base[name] = {**base[name], **extra}
    return {"providers": base}


def last(fake: CountingUpstream) -> dict[str, Any]:
    assert fake.refused == [], fake.refused
    body: dict[str, Any] = fake.generations[-1].body
    return body


async def test_claude_codes_model_probe_reaches_responses_with_its_minimum(
    fakes: dict[str, CountingUpstream], gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(config(fakes))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    message = await client.messages.create(model="resp/gpt-5", max_tokens=1, messages=ASK)  # type: ignore[arg-type]  # /model's probe
    assert message.content[0].text == "ok"  # type: ignore[union-attr]
    assert last(fakes["openai-responses"])["max_output_tokens"] == 16
    async with client.messages.stream(model="resp/gpt-5", max_tokens=1, messages=ASK) as stream:  # type: ignore[arg-type]
        assert (await stream.get_final_text()) == "ok"
    assert last(fakes["openai-responses"])["max_output_tokens"] == 16


async def test_a_responses_client_gets_the_minimum_on_the_pass_through(
    fakes: dict[str, CountingUpstream], gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(config(fakes))
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    response = await client.responses.create(model="resp/gpt-5", input="hi", max_output_tokens=1)
    assert response.output_text == "ok"
    assert last(fakes["openai-responses"])["max_output_tokens"] == 16


async def test_max_tokens_field_on_chat_pass_through_and_translated(
    fakes: dict[str, CountingUpstream], gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(config(fakes))
    async with aiohttp.ClientSession() as session:  # the SDK's max_tokens, as older clients send it
        body = {"model": "chat/gpt-5", "max_tokens": 100, "messages": ASK}
        async with session.post(f"{gw.url}/v1/chat/completions", json=body) as response:
            assert response.status == 200, await response.text()
    sent = last(fakes["openai"])
    assert sent["max_completion_tokens"] == 100 and "max_tokens" not in sent
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    await client.messages.create(model="chat/gpt-5", max_tokens=100, messages=ASK)  # type: ignore[arg-type]
    sent = last(fakes["openai"])
    assert sent["max_completion_tokens"] == 100 and "max_tokens" not in sent


async def test_caps_are_written_into_pass_through_bodies(fakes: dict[str, CountingUpstream], gateway_factory: GatewayFactory) -> None:
    capped = {"max_tokens": 4096}
    gw = await gateway_factory(config(fakes, chat=capped, resp=capped, gem=capped, claude={"max_tokens": 64000}))
    chat = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    await chat.chat.completions.create(model="chat/gpt-5", messages=ASK, max_completion_tokens=100000)  # type: ignore[arg-type]
    assert last(fakes["openai"])["max_completion_tokens"] == 4096
    await chat.responses.create(model="resp/gpt-5", input="hi")  # no limit sent: the provider's fills it in
    assert last(fakes["openai-responses"])["max_output_tokens"] == 4096
    gemini = genai.Client(api_key="k", http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
    await gemini.aio.models.generate_content(model="gem/gemini-up", contents="hi")
    assert last(fakes["gemini"])["generationConfig"]["maxOutputTokens"] == 4096
    claude = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    async with claude.messages.stream(model="claude/claude-up", max_tokens=128000, messages=ASK) as stream:  # type: ignore[arg-type]
        assert (await stream.get_final_text()) == "ok"
    assert last(fakes["anthropic"])["max_tokens"] == 64000


async def test_the_model_table_clamps_the_pass_through_too(fakes: dict[str, CountingUpstream], gateway_factory: GatewayFactory) -> None:
    fakes["anthropic"].output_limit = 32000
    data = config(fakes)
    data["models"] = {"claude-up": {"max_output": 32000}}
    gw = await gateway_factory(data)
    claude = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    async with claude.messages.stream(model="claude/claude-up", max_tokens=128000, messages=ASK) as stream:  # type: ignore[arg-type]
        assert (await stream.get_final_text()) == "ok"
    assert last(fakes["anthropic"])["max_tokens"] == 32000
