"""Deadlines: a silent, trickling or unreachable upstream fails over within its limit, or errors in the caller's dialect.

Before the first byte reaches the client, a limit is a retryable failure: the next provider
answers and the bad one's last error names the limit that fired. After it, the stream ends with
the dialect's error event. Each test bounds its own wait far below every limit it is not about.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.faulty import FaultyUpstream, endless_headers, overflowing_listener, silence, stall_after, trickle
from tests.fakes.upstream import FakeUpstream
from tests.reliability.conftest import BAD_KEY, CLIENTS, GOOD_TEXT, ask, fallback_config, posting

START = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "first words"})], done=False)
BOUND = 8  # seconds any one test may take: far below every limit it is not about (total is 10 s)


def last_error(gw: object, credential: str = "bad#0") -> str:
    return gw.gateway.router.last_error[credential][1]  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("client", CLIENTS)
async def test_silent_upstream_fails_over_at_first_byte(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, client: str, stream: bool
) -> None:
    faulty.default = silence()
    gw = await gateway_factory(fallback_config(faulty.url, upstream))
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, client, stream) == GOOD_TEXT
        await faulty.wait_finished(1)  # the gateway hung up on the silent upstream
    assert "timeouts.first_byte" in last_error(gw) and "0.4 s" in last_error(gw)
    assert faulty.connections[0].gone.is_set()


@pytest.mark.parametrize("stream", [False, True])
async def test_headers_trickled_forever_are_cut_at_first_byte(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, stream: bool
) -> None:
    faulty.default = endless_headers()  # 5 bytes every 20 ms: a byte-silence timer would never fire
    gw = await gateway_factory(fallback_config(faulty.url, upstream))
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, "anthropic", stream) == GOOD_TEXT
        await faulty.wait_finished(1)
    assert "timeouts.first_byte" in last_error(gw)


async def test_a_per_provider_first_byte_overrides_the_default(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    faulty.default = silence()
    config = fallback_config(faulty.url, upstream, bad={"timeouts": {"first_byte": 0.2}}, timeouts={"first_byte": 30, "total": 30})
    gw = await gateway_factory(config)
    async with asyncio.timeout(BOUND):  # the default (30 s) would outlast the bound
        assert await ask(gw.url, "openai", True) == GOOD_TEXT
    assert "0.2 s (timeouts.first_byte)" in last_error(gw)


async def test_full_accept_queue_fails_over_at_connect(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    async with overflowing_listener() as url:
        gw = await gateway_factory(fallback_config(url, upstream, timeouts={"first_byte": 30, "total": 30}))
        async with asyncio.timeout(BOUND):
            assert await ask(gw.url, "anthropic", True) == GOOD_TEXT
    assert "did not connect within 0.3 s (timeouts.connect)" in last_error(gw)


async def stream_text(url: str, path: str, body: dict[str, object]) -> str:
    async with aiohttp.ClientSession() as session, session.post(url + path, json=body) as response:
        assert response.status == 200
        return await response.text()


ANTHROPIC_STREAM = {"model": "claude-x", "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
CHAT_STREAM = {"model": "gpt-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


async def test_stall_after_the_first_byte_ends_with_the_dialects_error_event(
    faulty: FaultyUpstream, gateway_factory: GatewayFactory
) -> None:
    faulty.default = stall_after(START)
    gw = await gateway_factory(fallback_config(faulty.url, None))
    async with asyncio.timeout(BOUND):
        anthropic_text = await stream_text(gw.url, "/v1/messages", ANTHROPIC_STREAM)
        chat_text = await stream_text(gw.url, "/v1/chat/completions", CHAT_STREAM)
    assert "first words" in anthropic_text and "event: error" in anthropic_text
    assert "sent nothing for 0.4 s (timeouts.idle)" in anthropic_text
    assert "first words" in chat_text and '"error"' in chat_text and "timeouts.idle" in chat_text
    assert chat_text.rstrip().endswith("data: [DONE]")


async def test_a_trickling_stream_is_cut_at_total(faulty: FaultyUpstream, gateway_factory: GatewayFactory) -> None:
    # A comment line every 20 ms keeps any silence timer quiet; only the total limit ends it.
    faulty.default = trickle(b": still here\n", prefix=_stream_head(START))
    gw = await gateway_factory(fallback_config(faulty.url, None, timeouts={"idle": 0.4, "total": 1.0}))
    async with asyncio.timeout(BOUND):
        text = await stream_text(gw.url, "/v1/messages", ANTHROPIC_STREAM)
        await faulty.wait_finished(1)
    assert "first words" in text and "event: error" in text and "was not done within 1 s (timeouts.total)" in text


async def test_silent_only_upstream_is_a_502_in_the_callers_dialect(faulty: FaultyUpstream, gateway_factory: GatewayFactory) -> None:
    faulty.default = silence()
    gw = await gateway_factory(fallback_config(faulty.url, None))
    async with asyncio.timeout(BOUND), posting(gw.url + "/v1/chat/completions", {**CHAT_STREAM, "stream": False}) as response:
        body = await response.json()
    assert response.status == 502 and set(body) == {"error"}
    assert "timeouts.first_byte" in body["error"]["message"] and BAD_KEY not in str(body)


def _stream_head(first: bytes) -> bytes:
    """Response headers for a stream with no framing of its own (read to the close), then `first`."""
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + first
