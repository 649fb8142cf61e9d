"""A stream's opening reaches the client at once, and failover stays possible until its first content.

The fake Anthropic upstream sends `message_start` and a ping, then waits on a gate that only the
test opens: the client must hold the response headers and the opening while the gate is still
shut, so nothing waited for content. A first upstream that fails after its opening but before
any content (an error event, a dropped connection) hands the same client stream to the next
candidate, and the client sees one well-formed stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.reliability.conftest import posting

BOUND = 10
QUESTION = [{"role": "user", "content": "hi"}]


def frame(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def opening(message_id: str = "msg_first") -> bytes:
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": "claude-up",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 9, "output_tokens": 1},
    }
    return frame("message_start", {"type": "message_start", "message": message}) + frame("ping", {"type": "ping"})


def content(text: str) -> bytes:
    return (
        frame("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        + frame("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
        + frame("content_block_stop", {"type": "content_block_stop", "index": 0})
        + frame(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 5}},
        )
        + frame("message_stop", {"type": "message_stop"})
    )


OVERLOADED = frame("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})


def config(upstream: FakeUpstream, keys: int = 2) -> dict[str, Any]:
    api_keys = [f"sk-ant-key-{n}" for n in range(keys)]
    provider = {"type": "anthropic", "base_url": upstream.url, "api_keys": api_keys, "models": ["claude-up"]}
    data: dict[str, Any] = {"providers": {"ant": provider}, "aliases": {"claude-*": "ant/claude-up", "gpt-x": "ant/claude-up"}}
    data["routing"] = {"max_wait": 0}
    data["upstream"] = {"keepalive": 0}
    return data


def in_turn(*replies: Reply) -> Any:
    """Each request gets the next reply, whichever key it carries."""
    queue = list(replies)

    def script(record: Received) -> Reply:
        return queue.pop(0)

    return script


# What each client dialect's opening looks like on the wire, and a request body in it.
OPENINGS = [
    ("/v1/messages", {"model": "claude-x", "max_tokens": 20, "messages": QUESTION}, b"event: message_start"),
    ("/v1/chat/completions", {"model": "gpt-x", "messages": QUESTION}, b'"role":"assistant"'),
    ("/v1/responses", {"model": "gpt-x", "input": "hi"}, b"event: response.created"),
]


@pytest.mark.parametrize(("path", "body", "marker"), OPENINGS)
async def test_headers_and_opening_arrive_before_the_content(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str, body: dict[str, Any], marker: bytes
) -> None:
    gate = asyncio.Event()
    upstream.push(Reply(chunks=[opening(), content("after the gate")], gate=gate, gate_at=1))
    gw = await gateway_factory(config(upstream, keys=1))
    seen = b""
    async with asyncio.timeout(BOUND), posting(gw.url + path, {**body, "stream": True}) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        while marker not in seen:
            seen += await response.content.readany()
        assert not gate.is_set()  # the upstream is still holding its content back
        assert b"after the gate" not in seen
        gate.set()
        seen += await response.read()
    assert seen.count(marker) == 1
    assert seen.index(marker) < seen.index(b"after the gate")


def failing_after_opening(gate: asyncio.Event, dropped: bool = False) -> Reply:
    """The opening, then (once `gate` is set: the client holds the opening) an error event or a dropped connection."""
    if dropped:
        return Reply(chunks=[opening(), content("never sent")], gate=gate, gate_at=1, drop_after=1)
    return Reply(chunks=[opening(), OVERLOADED], gate=gate, gate_at=1)


@pytest.mark.parametrize("dropped", [False, True], ids=["error event", "dropped connection"])
async def test_a_failure_after_the_opening_fails_over_within_the_same_stream(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, dropped: bool
) -> None:
    gate = asyncio.Event()
    upstream.script = in_turn(failing_after_opening(gate, dropped), Reply(chunks=[opening("msg_second"), content("served by the second")]))
    gw = await gateway_factory(config(upstream))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    kinds: list[str] = []
    async with asyncio.timeout(BOUND):
        async with sdk.messages.stream(model="claude-x", max_tokens=20, messages=QUESTION) as stream:  # type: ignore[arg-type]
            async for event in stream:
                kinds.append(event.type)
                if event.type == "message_start":
                    assert len(upstream.received) == 1  # the first upstream's opening, while it holds the rest
                    gate.set()
            message = await stream.get_final_message()
    assert [block.text for block in message.content if block.type == "text"] == ["served by the second"]
    assert message.stop_reason == "end_turn"
    assert kinds.count("message_start") == 1 and kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert len(upstream.received) == 2
    assert upstream.received[0].headers["x-api-key"] != upstream.received[1].headers["x-api-key"]


async def test_a_translated_stream_fails_over_after_its_opening(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gate = asyncio.Event()
    upstream.script = in_turn(failing_after_opening(gate), Reply(chunks=[opening("msg_second"), content("second")]))
    gw = await gateway_factory(config(upstream))
    sdk = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    chunks = []
    async with asyncio.timeout(BOUND):
        stream = await sdk.chat.completions.create(model="gpt-x", messages=QUESTION, stream=True)  # type: ignore[arg-type]
        async for chunk in stream:
            chunks.append(chunk)
            gate.set()  # the opening (the role chunk) is with the client: the first upstream may fail now
    roles = [c.choices[0].delta.role for c in chunks if c.choices and c.choices[0].delta.role]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert roles == ["assistant"] and text == "second"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


async def test_when_every_candidate_fails_after_the_opening_the_stream_ends_with_an_error_event(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gate = asyncio.Event()
    upstream.script = in_turn(failing_after_opening(gate), Reply(chunks=[opening("msg_second") + OVERLOADED]))
    gw = await gateway_factory(config(upstream))
    body = {"model": "claude-x", "max_tokens": 20, "messages": QUESTION, "stream": True}
    async with asyncio.timeout(BOUND), posting(gw.url + "/v1/messages", body) as response:
        assert response.status == 200
        seen = b""
        while b"message_start" not in seen:
            seen += await response.content.readany()
        gate.set()
        seen += await response.read()
    assert seen.count(b"event: message_start") == 1 and b"msg_second" not in seen
    assert seen.rstrip().endswith(b"}") and seen.count(b"event: error") == 1
    last = orjson.loads(seen.strip().split(b"\n")[-1].removeprefix(b"data: "))
    assert last["type"] == "error" and last["error"]["type"] == "overloaded_error"
    assert b"message_stop" not in seen
    assert len(upstream.received) == 2


async def test_after_the_first_content_a_break_is_not_failed_over(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    broken = opening() + content("half")[:200]  # the text block starts, then the connection goes
    upstream.script = in_turn(Reply(chunks=[broken, b""], drop_after=1), Reply(chunks=[opening("msg_second"), content("second")]))
    gw = await gateway_factory(config(upstream))
    body = {"model": "claude-x", "max_tokens": 20, "messages": QUESTION, "stream": True}
    async with asyncio.timeout(BOUND), posting(gw.url + "/v1/messages", body) as response:
        seen = await response.read()
    assert b"content_block_start" in seen and b"event: error" in seen and b"second" not in seen
    assert len(upstream.received) == 1
