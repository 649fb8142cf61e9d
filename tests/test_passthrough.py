"""Same dialect in and out: the client's body is edited, not rebuilt; unknown fields survive both ways."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from babelgate import tokens
from babelgate.errors import Kind
from tests.conftest import GatewayFactory
from tests.fakes import openai_wire
from tests.fakes.turns import Turn, anthropic_body, anthropic_stream, openai_body
from tests.fakes.upstream import FakeUpstream, Reply
from tests.reliability.conftest import posting


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


# ---- a same-dialect stream: the upstream's bytes, cut anywhere, reach the client as they are ----------------

OPENAI = {"providers": {"oai": {"base_url": "", "api_keys": ["sk-oai-1", "sk-oai-2"], "models": ["gpt-up"]}}, "routing": {"max_wait": 0}}
ASKED = {"model": "oai/gpt-up", "stream": True, "messages": [{"role": "user", "content": "x"}]}


def openai_config(upstream: FakeUpstream) -> dict[str, Any]:
    return {**OPENAI, "providers": {"oai": {**OPENAI["providers"]["oai"], "base_url": f"{upstream.url}/v1"}}}


def cut(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


async def test_openai_stream_relayed_byte_for_byte_wherever_it_is_cut(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    stream = openai_wire.sse(openai_wire.text_stream("caf\u00e9 \u20ac", ' "quoted"\n', "\\", reasoning=("hmm",)))
    for size in (1, 7, len(stream)):
        upstream.push(Reply(chunks=cut(stream, size)))
        status, raw = await post(f"{gw.url}/v1/chat/completions", ASKED)
        assert status == 200 and raw == stream
    tally = gw.gateway.ledger.for_credential("oai#0")
    tally.input_tokens += gw.gateway.ledger.for_credential("oai#1").input_tokens
    tally.output_tokens += gw.gateway.ledger.for_credential("oai#1").output_tokens
    assert (tally.input_tokens, tally.output_tokens) == (3 * 20, 3 * 7)  # the upstream's own counts, each time


async def test_openai_stream_without_usage_gets_the_estimate_from_every_delta(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    pieces, reasoning = ("caf\u00e9 ", "\u20ac\U0001f600", ' "q"\n'), ("thinking\u2026",)
    stream = openai_wire.sse(openai_wire.text_stream(*pieces, reasoning=reasoning, usage=False))
    upstream.push(Reply(chunks=cut(stream, 5)))
    status, raw = await post(f"{gw.url}/v1/chat/completions", ASKED)
    assert status == 200 and raw == stream
    chars = sum(len(p) for p in (*pieces, *reasoning))
    served = gw.gateway.ledger.for_credential("oai#0").output_tokens + gw.gateway.ledger.for_credential("oai#1").output_tokens
    assert served == -(-chars // tokens.CHARS_PER_TOKEN)


async def test_openai_stream_broken_after_its_content_ends_with_the_error_event(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    sent = openai_wire.sse(openai_wire.text_stream("half an ans")[:2], done=False)
    upstream.push(Reply(chunks=[sent[:9], sent[9:], b""], drop_after=2))
    status, raw = await post(f"{gw.url}/v1/chat/completions", ASKED)
    assert status == 200 and raw.startswith(sent)  # what came, as it came
    error = orjson.loads(raw[len(sent) :].split(b"\n\n")[0].removeprefix(b"data: "))
    assert error["error"]["code"] == Kind.UPSTREAM.value and "oai stream broke" in error["error"]["message"]
    assert raw.endswith(b"data: [DONE]\n\n") and len(upstream.received) == 1  # after content: no failover


async def test_openai_stream_failing_before_its_content_is_continued_by_the_next_key(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gate = asyncio.Event()
    first = openai_wire.sse([openai_wire.chunk({"role": "assistant", "content": ""})], done=False)
    overloaded = b'data: {"error": {"message": "Overloaded", "type": "overloaded_error", "code": "529"}}\n\n'
    replies = [Reply(chunks=[first, overloaded], gate=gate, gate_at=1), Reply(chunks=[openai_wire.sse(openai_wire.text_stream("second"))])]
    upstream.script = lambda record: replies.pop(0)
    gw = await gateway_factory(openai_config(upstream))
    async with asyncio.timeout(10), posting(f"{gw.url}/v1/chat/completions", ASKED) as response:
        seen = b""
        while first not in seen:
            seen += await response.content.readany()
        gate.set()  # the client holds the first key's opening: now it fails
        seen += await response.read()
    assert seen.startswith(first) and seen.count(b'"role":"assistant"') == 1  # one opening, the first key's own bytes
    frames = [orjson.loads(f.removeprefix(b"data: ")) for f in seen.strip().split(b"\n\n")[:-1]]
    assert "".join(f["choices"][0]["delta"].get("content") or "" for f in frames if f.get("choices")) == "second"
    assert seen.endswith(b"data: [DONE]\n\n") and len(upstream.received) == 2
    assert upstream.received[0].headers["authorization"] != upstream.received[1].headers["authorization"]
    assert gw.gateway.ledger.for_credential("oai#1").output_tokens + gw.gateway.ledger.for_credential("oai#0").output_tokens == 7


async def test_an_event_cut_by_a_break_is_not_passed_on_half_so_the_error_event_is_readable(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    whole = openai_wire.sse(openai_wire.text_stream("half an ans")[:2], done=False)
    half = b'data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"swe'
    upstream.push(Reply(chunks=[whole, half, b""], drop_after=2))
    status, raw = await post(f"{gw.url}/v1/chat/completions", ASKED)
    assert status == 200 and raw.startswith(whole) and half not in raw
    events = [e.removeprefix(b"data: ") for e in raw.split(b"\n\n") if e]
    assert events[-1] == b"[DONE]"
    parsed = [orjson.loads(e) for e in events[:-1]]  # every event whole: the client's parser reads each
    assert "oai stream broke" in parsed[-1]["error"]["message"]
