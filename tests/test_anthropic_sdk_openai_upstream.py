"""The official anthropic SDK -> babelgate -> a loopback OpenAI-compatible upstream."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream

BASH_TOOL = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
        "additionalProperties": False,
    },
}


def client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


async def test_non_streaming_text_and_usage(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.push(wire.Reply(json=wire.completion("Hi there", prompt=30, completion_tokens=4, cached=10)))
    message = await client(gw.url).messages.create(
        model="claude-sonnet-5-5",
        max_tokens=1024,
        system=[{"type": "text", "text": "x-anthropic-billing-header: cc_version=1;"}, {"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": "hello"}],
        stop_sequences=["END"],
        extra_body={"temperature": 0.2},
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hi there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 20 and message.usage.cache_read_input_tokens == 10 and message.usage.output_tokens == 4
    sent = upstream.received[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-secret-key-1"
    assert sent.body["model"] == "gpt-5"
    assert sent.body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    assert sent.body["stop"] == ["END"] and sent.body["temperature"] == 0.2 and sent.body["max_tokens"] == 1024


async def test_tool_loop_round_trip_non_streaming(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    call = {"id": "call_9", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}
    upstream.push(wire.Reply(json=wire.completion(None, tool_calls=[call], finish="tool_calls")), wire.Reply(json=wire.completion("done")))
    sdk = client(gw.url)
    first = await sdk.messages.create(model="opus", max_tokens=100, tools=[BASH_TOOL], messages=[{"role": "user", "content": "list"}])  # type: ignore[list-item]
    assert first.stop_reason == "tool_use"
    tool_use = first.content[-1]
    assert tool_use.type == "tool_use" and tool_use.id == "call_9" and tool_use.input == {"command": "ls"}
    second = await sdk.messages.create(
        model="opus",
        max_tokens=100,
        tools=[BASH_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        messages=[
            {"role": "user", "content": "list"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "call_9", "name": "Bash", "input": {"command": "ls"}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_9", "content": [{"type": "text", "text": "a.txt"}], "is_error": False},
                    {"type": "text", "text": "what now?"},
                ],
            },
        ],
    )
    assert second.content[0].text == "done"  # type: ignore[union-attr]
    body = upstream.received[1].body
    assert body["tools"][0]["function"]["name"] == "Bash"
    assert body["tool_choice"] == "required" and body["parallel_tool_calls"] is False
    assert body["messages"][1]["tool_calls"][0]["id"] == "call_9"
    assert json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {"command": "ls"}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_9", "content": "a.txt"}
    assert body["messages"][3] == {"role": "user", "content": "what now?"}


@pytest.mark.parametrize("split", [None, 1, 7])
async def test_stream_helper_with_reasoning_tool_call_and_usage(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, split: int | None
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    chunks = wire.text_stream(reasoning=("Let me ", "think."), usage=False)[:-1]  # role, reasoning; no finish yet
    chunks += wire.tool_stream("Bash", '{"command": "echo hi > out.txt"}', call_id="call_abc", text="Running it.")[1:]
    upstream.push(wire.stream_reply(chunks, split=split))
    async with client(gw.url).messages.stream(
        model="claude-opus-5-5",
        max_tokens=128000,
        tools=[BASH_TOOL],
        messages=[{"role": "user", "content": "make a file"}],  # type: ignore[list-item]
    ) as stream:
        final = await stream.get_final_message()
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[0].thinking == "Let me think."  # type: ignore[union-attr]
    assert final.content[1].text == "Running it."  # type: ignore[union-attr]
    tool = final.content[2]
    assert tool.id == "call_abc" and tool.name == "Bash" and tool.input == {"command": "echo hi > out.txt"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.input_tokens == 16 and final.usage.cache_read_input_tokens == 4 and final.usage.output_tokens == 7
    assert upstream.received[0].body["stream_options"] == {"include_usage": True}


async def test_parallel_tool_calls_stream(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    chunks = [
        wire.chunk({"role": "assistant"}),
        wire.chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "Bash", "arguments": '{"comm'}}]}),
        wire.chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'and": "a"}'}}]}),
        wire.chunk({"tool_calls": [{"index": 1, "id": "c2", "type": "function", "function": {"name": "Bash", "arguments": ""}}]}),
        wire.chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"command": "b"}'}}]}),
        wire.chunk({}, "tool_calls"),
        wire.usage_chunk(),
    ]
    upstream.push(wire.stream_reply(chunks))
    async with client(gw.url).messages.stream(
        model="opus", max_tokens=10, tools=[BASH_TOOL], messages=[{"role": "user", "content": "x"}]
    ) as stream:  # type: ignore[list-item]
        final = await stream.get_final_message()
    inputs = [(b.id, b.input) for b in final.content if b.type == "tool_use"]
    assert inputs == [("c1", {"command": "a"}), ("c2", {"command": "b"})]


async def test_images_and_documents_reach_upstream(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.push(wire.Reply(json=wire.completion("a cat")))
    await client(gw.url).messages.create(
        model="opus",
        max_tokens=10,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                    {"type": "text", "text": "what is it?"},
                ],
            }
        ],
    )
    content: list[dict[str, Any]] = upstream.received[0].body["messages"][0]["content"]
    assert content[0] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assert content[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    assert content[2] == {"type": "text", "text": "what is it?"}


async def test_max_tokens_clamped_to_configured_cap(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(
        openai_config(upstream, provider={"max_tokens": {"gpt-5*": 16384}, "max_tokens_field": "max_completion_tokens"})
    )
    upstream.push(wire.Reply(json=wire.completion("ok")))
    await client(gw.url).messages.create(model="opus", max_tokens=20000, messages=[{"role": "user", "content": "x"}])
    assert upstream.received[0].body["max_completion_tokens"] == 16384
    assert "max_tokens" not in upstream.received[0].body


async def test_stop_reason_mapping(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    sdk = client(gw.url)
    for finish, expected in (("length", "max_tokens"), ("content_filter", "refusal"), ("stop", "end_turn")):
        upstream.push(wire.Reply(json=wire.completion("x", finish=finish)))
        message = await sdk.messages.create(model="opus", max_tokens=10, messages=[{"role": "user", "content": "x"}])
        assert message.stop_reason == expected


async def test_error_after_stream_started_is_an_error_event(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    body = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "partial "})], done=False)
    upstream.push(wire.Reply(chunks=[body, b'data: {"choices": [{"index": 0, "delta": {"content": "more"}}]}\n\n'], drop_after=1))
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client(gw.url).messages.stream(model="opus", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as stream:
            await stream.get_final_message()
    assert "stream" in str(caught.value.message)
