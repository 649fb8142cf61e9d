"""count_tokens, countTokens and CountTokens: the upstream's own count through its counting endpoint, else offline.

The upstreams are tests/fakes/counting.py: each refuses a counting body its real API would refuse
(a `max_tokens` on Anthropic's count_tokens, a `max_output_tokens` on OpenAI's input_tokens, a
`systemInstruction` outside Gemini's generateContentRequest, an inference profile on Bedrock) and
counts with a rule of its own, so the number a client gets says who counted.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from babelgate import tokens
from babelgate.dialects import anthropic as anthropic_dialect
from babelgate.providers import counting
from tests.conftest import GatewayFactory
from tests.fakes.counting import CountingUpstream, fake_count
from tests.fakes.upstream import Reply

SYSTEM = "You are a careful assistant."
TOOLS = [
    {"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}
]
MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "Read the notes, please."},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "notes.md"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Buy milk. Call Ann."}]},
]
# The provider of each kind, and the model it serves (the Bedrock ones: InvokeModel and Converse).
KINDS: dict[str, tuple[str, str, str]] = {
    "anthropic": ("anthropic", "", "claude-up"),
    "openai-responses": ("openai-responses", "/v1", "gpt-up"),
    "gemini": ("gemini", "", "gemini-up"),
    "bedrock-invoke": ("bedrock", "", "us.anthropic.claude-up-v1:0"),
    "bedrock-converse": ("bedrock", "", "meta.llama-up-v1:0"),
}


def provider(fake: CountingUpstream, kind: str) -> dict[str, Any]:
    type_, suffix, model = KINDS[kind]
    return {"type": type_, "base_url": fake.url + suffix, "api_keys": ["sk-up-1"], "models": [model]}


@pytest.fixture
async def make_fake() -> AsyncIterator[Callable[[str], Any]]:
    started: list[CountingUpstream] = []

    async def make(kind: str) -> CountingUpstream:
        fake = await CountingUpstream(kind).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        await fake.stop()


def sdk(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


def ir_request() -> Any:
    return anthropic_dialect.parse_request({"model": "m", "system": SYSTEM, "messages": MESSAGES, "tools": TOOLS})


@pytest.mark.parametrize("kind", list(KINDS))
async def test_anthropic_count_tokens_asks_the_upstreams_counting_endpoint(
    kind: str, make_fake: Callable[[str], Any], gateway_factory: GatewayFactory
) -> None:
    fake = await make_fake("bedrock" if kind.startswith("bedrock") else kind)
    model = KINDS[kind][2]
    gw = await gateway_factory({"providers": {"up": provider(fake, kind)}, "aliases": {"claude-*": f"up/{model}"}})
    counted = await sdk(gw.url).messages.count_tokens(model="claude-sonnet-4-5", system=SYSTEM, messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]
    assert fake.refused == [] and len(fake.counts) == 1
    sent = fake.counts[0]
    assert counted.input_tokens == fake.answers[0]  # the upstream's own number
    text = orjson.dumps(sent.body).decode()
    if kind == "bedrock-invoke":
        assert sent.path == "/model/anthropic.claude-up-v1:0/count-tokens"  # the foundation model: profiles are not counted
        text = base64.b64decode(sent.body["input"]["invokeModel"]["body"]).decode()
    for needed in ("careful assistant", "read_file", "notes.md", "Buy milk"):  # system, tools, tool call, tool result
        assert needed in text
    assert counted.input_tokens != tokens.offline_count(ir_request(), "anthropic")


async def test_gemini_count_tokens_passes_its_own_body_to_gemini(make_fake: Callable[[str], Any], gateway_factory: GatewayFactory) -> None:
    fake = await make_fake("gemini")
    gw = await gateway_factory({"providers": {"up": provider(fake, "gemini")}})
    client = genai.Client(api_key="client-key", http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
    contents = [gtypes.Content(role="user", parts=[gtypes.Part(text="How many tokens is this?")])]
    counted = await client.aio.models.count_tokens(model="up/gemini-up", contents=contents)  # type: ignore[arg-type]
    assert fake.refused == [] and len(fake.counts) == 1
    sent = fake.counts[0].body["generateContentRequest"]
    assert sent["model"] == "models/gemini-up" and sent["contents"][0]["parts"][0]["text"] == "How many tokens is this?"
    assert counted.total_tokens == fake_count([None, sent["contents"], None])


async def test_a_failed_count_is_counted_offline_and_cools_nothing(
    make_fake: Callable[[str], Any], gateway_factory: GatewayFactory
) -> None:
    fake = await make_fake("anthropic")
    fake.down = True
    gw = await gateway_factory({"providers": {"up": provider(fake, "anthropic")}, "aliases": {"claude-*": "up/claude-up"}})
    client = sdk(gw.url)
    counted = await client.messages.count_tokens(model="claude-x", system=SYSTEM, messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]
    assert counted.input_tokens == tokens.offline_count(ir_request(), "anthropic")
    message = await client.messages.create(model="claude-x", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "ok"  # type: ignore[union-attr]  # the credential was not cooled down by the count


async def test_a_slow_count_is_cut_short(
    make_fake: Callable[[str], Any], gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counting, "COUNT_SECONDS", 0.2)
    fake = await make_fake("openai-responses")
    never = asyncio.Event()
    fake.script = lambda record: Reply(json={"input_tokens": 1}, gate=never)  # answers only once the test ends
    gw = await gateway_factory({"providers": {"up": provider(fake, "openai-responses")}, "aliases": {"claude-*": "up/gpt-up"}})
    counted = await sdk(gw.url).messages.count_tokens(model="claude-x", system=SYSTEM, messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]
    never.set()
    assert counted.input_tokens == tokens.offline_count(ir_request(), "openai")


async def test_without_tiktoken_the_estimate_answers(
    make_fake: Callable[[str], Any], gateway_factory: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "cl100k", lambda: None)
    fake = await make_fake("openai")
    gw = await gateway_factory(
        {"providers": {"up": provider(fake, "openai-responses") | {"type": "openai"}}, "aliases": {"claude-*": "up/gpt-up"}}
    )
    counted = await sdk(gw.url).messages.count_tokens(model="claude-x", system=SYSTEM, messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]
    assert counted.input_tokens == tokens.estimate(ir_request())
    assert fake.received == []  # an OpenAI-compatible server has no counting endpoint


async def test_cloud_formats_count_through_the_upstream(make_fake: Callable[[str], Any], gateway_factory: GatewayFactory) -> None:
    fake = await make_fake("anthropic")
    gw = await gateway_factory({"providers": {"up": provider(fake, "anthropic")}, "aliases": {"claude-*": "up/claude-up"}})
    invoke = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": MESSAGES, "tools": TOOLS}
    counted = {"input": {"invokeModel": {"body": base64.b64encode(orjson.dumps(invoke)).decode()}}}
    vertex = {"anthropic_version": "vertex-2023-10-16", "model": "claude-sonnet-4-5", "messages": MESSAGES}
    path = "/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/model/anthropic.claude-sonnet-4-5-v1:0/count-tokens", json=counted) as response:
            bedrock_count = (await response.json())["inputTokens"]
        async with session.post(gw.url + path, json=vertex) as response:
            vertex_count = (await response.json())["input_tokens"]
    assert fake.refused == [] and len(fake.counts) == 2  # neither anthropic_version nor max_tokens reached count_tokens
    assert bedrock_count == fake_count([None, MESSAGES, TOOLS]) and vertex_count == fake_count([None, MESSAGES, None])


async def test_an_unknown_model_is_an_error_in_the_callers_dialect(
    make_fake: Callable[[str], Any], gateway_factory: GatewayFactory
) -> None:
    fake = await make_fake("anthropic")
    gw = await gateway_factory({"providers": {"up": provider(fake, "anthropic")}})
    with pytest.raises(anthropic.BadRequestError):  # 400 on the Messages API's paths, as the gateway contract says
        await sdk(gw.url).messages.count_tokens(model="nobody/none", messages=MESSAGES)  # type: ignore[arg-type]
    assert fake.received == []
