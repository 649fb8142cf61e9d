"""Bounded everything: huge bodies, gzip bombs, endless SSE lines and connection floods cost their limit, no more.

The faulty upstream generates its bodies block by block and counts what it got to write, so a
test can tell that the gateway stopped reading at its limit instead of draining the body.
"""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from babelgate.providers.http import ERROR_TEXT_LIMIT
from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.faulty import FaultyUpstream, answer, gzip_bomb, huge, json_error_blocks, silence, trickle, zeros
from tests.fakes.upstream import FakeUpstream
from tests.reliability.conftest import CLIENTS, GOOD_TEXT, ask, fallback_config

MB = 1024 * 1024
BOUND = 8
CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}


def last_error(gw: object) -> str:
    return gw.gateway.router.last_error["bad#0"][1]  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_64_mb_error_body_is_not_read_whole(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, client: str
) -> None:
    faulty.default = huge(500, json_error_blocks(64 * MB), length=64 * MB)
    gw = await gateway_factory(fallback_config(faulty.url, upstream))
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, client, False) == GOOD_TEXT
        await faulty.wait_finished(1)
    assert faulty.connections[0].sent < 32 * MB  # the gateway hung up long before the end
    assert "the server had an error" in last_error(gw) and len(last_error(gw)) <= ERROR_TEXT_LIMIT


async def test_an_error_body_alone_is_a_short_502(faulty: FaultyUpstream, gateway_factory: GatewayFactory) -> None:
    faulty.default = huge(500, json_error_blocks(64 * MB, "x" * 10_000))
    gw = await gateway_factory(fallback_config(faulty.url, None))
    async with (
        asyncio.timeout(BOUND),
        aiohttp.ClientSession() as session,
        session.post(gw.url + "/v1/chat/completions", json=CHAT) as response,
    ):
        raw = await response.read()
    assert response.status == 502 and len(raw) < 4 * ERROR_TEXT_LIMIT
    assert set(orjson.loads(raw)) == {"error"}


@pytest.mark.parametrize("declared", [True, False])
async def test_an_answer_over_max_response_mb_fails_over(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, declared: bool
) -> None:
    faulty.default = huge(200, zeros(64 * MB), length=64 * MB if declared else None)
    gw = await gateway_factory(fallback_config(faulty.url, upstream, max_response_mb=1))
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, "openai", False) == GOOD_TEXT
        await faulty.wait_finished(1)
    assert "over 1 MB (max_response_mb)" in last_error(gw)
    assert faulty.connections[0].sent < 32 * MB


@pytest.mark.parametrize("status", [200, 500])
async def test_a_gzip_bomb_is_cut_while_inflating(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory, status: int
) -> None:
    bomb = gzip_bomb(256 * MB)  # about 250 KB on the wire
    faulty.default = answer(status, bomb, extra={"Content-Encoding": "gzip"})
    gw = await gateway_factory(fallback_config(faulty.url, upstream, max_response_mb=1))
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, "anthropic", False) == GOOD_TEXT
    message = last_error(gw)
    assert ("max_response_mb" in message) if status == 200 else (len(message) <= ERROR_TEXT_LIMIT)  # the bomb's zeros, cut


async def test_an_endless_sse_line_before_the_first_event_fails_over(
    faulty: FaultyUpstream, upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    line = b"data: {" + b'"x": 1, ' * (8 * MB // 8)  # 8 MB and no line end, then it stays open
    faulty.default = huge(200, lambda: iter([line[i : i + 65536] for i in range(0, len(line), 65536)]), "text/event-stream")
    gw = await gateway_factory(fallback_config(faulty.url, upstream, max_event_mb=1))
    async with asyncio.timeout(BOUND):
        assert await ask(gw.url, "anthropic", True) == GOOD_TEXT
    assert "max_event_mb" in last_error(gw)


async def test_an_endless_sse_line_mid_stream_is_the_dialects_error(faulty: FaultyUpstream, gateway_factory: GatewayFactory) -> None:
    start = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "first words"})], done=False)
    prefix = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + start + b"data: "
    faulty.default = trickle(b"x" * 65536, step=65536, every=0.001, prefix=prefix)
    gw = await gateway_factory(fallback_config(faulty.url, None, max_event_mb=1))
    body = {**CHAT, "stream": True}
    async with (
        asyncio.timeout(BOUND),
        aiohttp.ClientSession() as session,
        session.post(gw.url + "/v1/chat/completions", json=body) as response,
    ):
        text = await response.text()
    assert "first words" in text and "max_event_mb" in text and text.rstrip().endswith("data: [DONE]")


async def test_connections_per_provider_are_capped(faulty: FaultyUpstream, gateway_factory: GatewayFactory) -> None:
    faulty.default = silence()
    gw = await gateway_factory(fallback_config(faulty.url, None, bad={"max_connections": 2}))
    async with asyncio.timeout(BOUND), aiohttp.ClientSession() as session:

        async def one() -> tuple[int, str]:
            async with session.post(gw.url + "/v1/chat/completions", json=CHAT) as response:
                return response.status, (await response.json())["error"]["message"]

        answers = await asyncio.gather(*(one() for _ in range(6)))
    assert [status for status, _ in answers] == [502] * 6  # every one bounded by first_byte, those waiting for a connection too
    assert faulty.most_open <= 2
    # Those that never had a connection name the cap, not the upstream: at least the two beyond the
    # four that could have had one (a slot freed by a timed-out request may go to one still waiting).
    waited = [message for _, message in answers if "max_connections" in message]
    assert len(waited) >= 2, answers
    assert all(
        "all busy (raise providers.bad.max_connections or upstream.max_connections)" in m and "Check that it is running" not in m
        for m in waited
    )
    assert sum("Check that it is running" in message for _, message in answers) == 6 - len(waited)
