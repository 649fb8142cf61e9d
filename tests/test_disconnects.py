"""A client that goes away cancels the upstream request: nothing keeps generating for nobody."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply

REQUEST = {"model": "opus", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}


async def wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_client_leaving_mid_stream_cancels_upstream(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    gate = asyncio.Event()  # never set: the upstream would hold the stream open forever
    first = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "first words"})], done=False)
    upstream.push(Reply(chunks=[first, wire.sse([wire.chunk({}, "stop")])], gate=gate, gate_at=1))
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{gw.url}/v1/messages", json={**REQUEST, "stream": True})
        seen = b""
        while b"first words" not in seen:
            seen += await response.content.readany()
        response.close()  # the client goes away
    assert await wait_for(lambda: upstream.cancelled == 1)


async def test_client_leaving_while_waiting_cancels_upstream(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.push(Reply(json=wire.completion("too late"), gate=asyncio.Event()))
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(session.post(f"{gw.url}/v1/messages", json=REQUEST))
        assert await wait_for(lambda: len(upstream.received) == 1)
        task.cancel()
    assert await wait_for(lambda: upstream.cancelled == 1)
