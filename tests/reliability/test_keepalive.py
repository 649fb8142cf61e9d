"""Keepalive: while the upstream is silent mid-stream, the client hears its dialect's ping, and the answer then completes.

The upstream holds its stream at a gate that opens only once the client has seen a ping, so each
test proves the ping came during the silence (and that it did not break the client's stream).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.reliability.conftest import posting

BOUND = 8
PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def held_stream(upstream: FakeUpstream) -> asyncio.Event:
    gate = asyncio.Event()
    start = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "before "})], done=False)
    rest = wire.sse([wire.chunk({"content": "and after"}), wire.chunk({}, "stop"), wire.usage_chunk()])
    upstream.push(Reply(chunks=[start, rest], gate=gate, gate_at=1))
    return gate


def config(upstream: FakeUpstream) -> dict[str, Any]:
    data = openai_config(upstream, aliases={"claude-*": "up/gpt-5", "gpt-x": "up/gpt-5"})
    data["upstream"] = {"keepalive": 0.05, "timeouts": {"idle": 5, "total": 10}}
    return data


@pytest.mark.parametrize(
    ("path", "body", "ping"),
    [
        (
            "/v1/messages",
            {"model": "claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]},
            b'event: ping\ndata: {"type": "ping"}\n\n',
        ),
        ("/v1/chat/completions", {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}, b"\n: keepalive\n\n"),
        ("/v1/responses", {"model": "gpt-x", "input": "hi"}, b"\n: keepalive\n\n"),
    ],
)
async def test_pings_fill_a_silent_gap(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str, body: dict[str, Any], ping: bytes
) -> None:
    gate = held_stream(upstream)
    gw = await gateway_factory(config(upstream))
    seen = b""
    async with asyncio.timeout(BOUND), posting(gw.url + path, {**body, "stream": True}) as response:
        while ping not in seen:
            seen += await response.content.readany()
        gate.set()
        seen += await response.read()
    assert seen.index(b"before") < seen.index(ping) < seen.index(b"and after")
    assert b"event: error" not in seen and b"response.failed" not in seen and b'"error":{' not in seen


async def test_bedrock_clients_get_pings_as_event_stream_chunks(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gate = held_stream(upstream)
    gw = await gateway_factory(config(upstream))
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    events: list[str] = []
    decoder = EventStreamBuffer()
    async with asyncio.timeout(BOUND), posting(f"{gw.url}/model/{PROFILE}/invoke-with-response-stream", body) as response:
        assert response.status == 200
        async for data in response.content.iter_any():
            decoder.add_data(data)
            for message in decoder:
                payload = orjson.loads(message.payload)
                events.append(orjson.loads(base64.b64decode(payload["bytes"]))["type"])
                if events[-1] == "ping":
                    gate.set()
    assert "ping" in events and events[-1] == "message_stop"
    assert events.index("ping") > events.index("message_start")
