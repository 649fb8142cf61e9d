"""Usage where clients read it: message_start's input tokens on translated streams, cache figures everywhere.

Real Anthropic streams carry the prompt count in `message_start` and the final figures in
`message_delta`; Claude Code reads the context size from the first. Gemini counts the prompt in
every chunk, so its count is there at once; OpenAI (Chat and Responses) and Bedrock Converse
count only at the end, so message_start carries the estimate. Cache reads map from every
family's field to every client's, streaming too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from babelgate import tokens
from babelgate.dialects import anthropic as anthropic_dialect
from tests.conftest import GatewayFactory
from tests.fakes import turns
from tests.fakes.turns import UPSTREAM_KINDS, Turn
from tests.fakes.upstream import FakeUpstream, Reply

TURN = Turn(text="hello there", input_tokens=21, output_tokens=9, cached_tokens=5)
ASK = [{"role": "user", "content": "Say hello, please."}]
BASE = {"openai": "/v1", "openai-responses": "/v1", "anthropic": "", "gemini": ""}


def gemini_stream_counting_every_chunk() -> bytes:
    """Gemini as it streams: usageMetadata (the prompt count, the output so far) in every chunk."""
    usage = {"promptTokenCount": 21, "cachedContentTokenCount": 5}
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello "}]}}], "usageMetadata": {**usage, "totalTokenCount": 22}},
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "there"}]}, "finishReason": "STOP"}],
            "usageMetadata": {**usage, "candidatesTokenCount": 9, "totalTokenCount": 30},
            "modelVersion": "gemini-up",
            "responseId": "r1",
        },
    ]
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)


@pytest.fixture
async def fake() -> AsyncIterator[FakeUpstream]:
    upstream = await FakeUpstream().start()
    yield upstream
    await upstream.stop()


async def gateway(fake: FakeUpstream, kind: str, gateway_factory: GatewayFactory) -> str:
    provider = {"type": kind, "base_url": fake.url + BASE[kind], "api_keys": ["sk-up"], "models": ["up-model"]}
    fake.script = lambda record: turns.reply(kind, TURN, True)
    return (await gateway_factory({"providers": {"up": provider}, "aliases": {"claude-*": "up/up-model"}})).url


async def anthropic_events(url: str) -> list[dict[str, Any]]:
    body = {"model": "claude-x", "max_tokens": 100, "stream": True, "messages": ASK}
    async with aiohttp.ClientSession() as session, session.post(f"{url}/v1/messages", json=body) as response:
        raw = await response.text()
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("kind", ["openai", "openai-responses", "gemini"])
async def test_message_start_carries_the_prompt_count(kind: str, fake: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    url = await gateway(fake, kind, gateway_factory)
    if kind == "gemini":
        fake.script = lambda record: Reply(chunks=[gemini_stream_counting_every_chunk()])
    events = await anthropic_events(url)
    start, delta = events[0]["message"]["usage"], next(e for e in events if e["type"] == "message_delta")["usage"]
    if kind == "gemini":  # known before the first content event: the upstream's own figures
        assert start["input_tokens"] == 16 and start["cache_read_input_tokens"] == 5
    else:  # counted only at the end: the estimate now, the exact count in message_delta
        assert start["input_tokens"] == tokens.estimate(anthropic_dialect.parse_request({"model": "m", "messages": ASK})) > 0
    assert delta == {"input_tokens": 16, "output_tokens": 9, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 0}
    client = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    async with client.messages.stream(model="claude-x", max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
        final = await stream.get_final_message()
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (16, 9, 5)


@pytest.mark.parametrize("kind", UPSTREAM_KINDS)
async def test_cache_reads_reach_every_client_streaming(kind: str, fake: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    url = await gateway(fake, kind, gateway_factory)
    claude = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    async with claude.messages.stream(model="claude-x", max_tokens=100, messages=ASK) as stream:  # type: ignore[arg-type]
        usage = (await stream.get_final_message()).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens) == (16, 5)  # Anthropic's input excludes the cache reads

    chat = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0)
    chunks = [
        c
        async for c in await chat.chat.completions.create(
            model="claude-x", messages=ASK, stream=True, stream_options={"include_usage": True}
        )
    ]  # type: ignore[arg-type]
    counted = chunks[-1].usage
    assert counted is not None and counted.prompt_tokens == 21 and counted.prompt_tokens_details.cached_tokens == 5  # type: ignore[union-attr]

    events = [e async for e in await chat.responses.create(model="claude-x", input="Say hello, please.", stream=True)]
    done = next(e for e in events if e.type == "response.completed").response.usage  # type: ignore[union-attr]
    assert done is not None and done.input_tokens == 21 and done.input_tokens_details.cached_tokens == 5

    gemini = genai.Client(api_key="k", http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta"))
    last = [c async for c in await gemini.aio.models.generate_content_stream(model="claude-x", contents="Say hello, please.")][-1]
    assert last.usage_metadata is not None
    assert last.usage_metadata.prompt_token_count == 21 and last.usage_metadata.cached_content_token_count == 5
