"""The reliability suite's parts: a faulty upstream, a healthy one behind it, and real SDK clients.

A gateway here has two providers for every model, `bad` (the faulty upstream, or whatever a test
points it at) first and `good` (a strict OpenAI-compatible fake) as its fallback, with limits of
fractions of a second, so every fault resolves quickly. Each test bounds its own wait.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.fakes import openai_wire as wire
from tests.fakes.faulty import FaultyUpstream
from tests.fakes.upstream import FakeUpstream, Received, Reply

BAD_KEY = "sk-bad-provider-key-0001"
GOOD_KEY = "sk-good-provider-key-0002"
FAST = {"connect": 0.3, "first_byte": 0.4, "idle": 0.4, "total": 10}
GOOD_TEXT = "answered by the good upstream"
CLIENTS = ["anthropic", "openai", "gemini"]


@pytest.fixture
async def faulty() -> AsyncIterator[FaultyUpstream]:
    fake = await FaultyUpstream().start()
    yield fake
    await fake.stop()


def healthy(record: Received) -> Reply:
    """The good upstream: a real-shaped OpenAI answer, streamed when asked."""
    if isinstance(record.body, dict) and record.body.get("stream"):
        return wire.stream_reply(wire.text_stream("answered by ", "the good upstream"))
    return Reply(json=wire.completion(GOOD_TEXT))


def fallback_config(bad_url: str, good: FakeUpstream | None, *, bad: dict[str, Any] | None = None, **upstream: Any) -> dict[str, Any]:
    """`bad` first, `good` as the fallback (None: `bad` alone), with FAST timeouts over `upstream.timeouts`."""
    timeouts = {**FAST, **upstream.pop("timeouts", {})}
    providers: dict[str, Any] = {
        "bad": {"type": "openai", "base_url": f"{bad_url}/v1", "api_keys": [BAD_KEY], "models": ["gpt-5"], **(bad or {})}
    }
    targets = ["bad/gpt-5"]
    if good is not None:
        good.script = healthy
        providers["good"] = {"type": "openai", "base_url": f"{good.url}/v1", "api_keys": [GOOD_KEY], "models": ["gpt-5"]}
        targets.append("good/gpt-5")
    return {
        "providers": providers,
        "aliases": {"claude-*": targets, "gpt-x": targets, "gemini-x": targets},
        "routing": {"max_wait": 0},
        "upstream": {"timeouts": timeouts, "keepalive": 0, **upstream},
    }


async def ask(url: str, client: str, stream: bool) -> str:
    """The text of one answer, asked through the official SDK of `client`'s dialect."""
    if client == "anthropic":
        sdk = anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0, timeout=30)
        request: Any = {"model": "claude-sonnet-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            async with sdk.messages.stream(**request) as events:
                message = await events.get_final_message()
        else:
            message = await sdk.messages.create(**request)
        return "".join(block.text for block in message.content if block.type == "text")
    if client == "openai":
        oai = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="k", max_retries=0, timeout=30)
        messages: Any = [{"role": "user", "content": "hi"}]
        if not stream:
            completion = await oai.chat.completions.create(model="gpt-x", messages=messages)
            return completion.choices[0].message.content or ""
        pieces = [
            c.choices[0].delta.content or ""
            async for c in await oai.chat.completions.create(model="gpt-x", messages=messages, stream=True)
            if c.choices
        ]
        return "".join(pieces)
    gem = genai.Client(api_key="k", http_options=gtypes.HttpOptions(base_url=url, api_version="v1beta", timeout=30_000))
    if not stream:
        return (await gem.aio.models.generate_content(model="gemini-x", contents="hi")).text or ""
    return "".join([chunk.text or "" async for chunk in await gem.aio.models.generate_content_stream(model="gemini-x", contents="hi")])


@contextlib.asynccontextmanager
async def posting(url: str, body: Any) -> AsyncIterator[aiohttp.ClientResponse]:
    """One raw POST of JSON with aiohttp, for reading exactly what the gateway wrote."""
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        yield response
