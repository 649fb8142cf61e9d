"""`type: bedrock` through a real gateway: the official anthropic and openai SDKs as clients, a strict
loopback Bedrock (tests/fakes/bedrock.py) that checks every SigV4 signature, Anthropic models
through InvokeModel, Nova through Converse, streamed and not, with tool calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.conftest import GatewayFactory
from tests.fakes import bedrock_wire as wire
from tests.fakes.bedrock import BedrockReply, FakeBedrock, invoke_stream, isolate_aws

CLAUDE = "us.anthropic.claude-sonnet-4-5-v1:0"
NOVA = "amazon.nova-pro-v1:0"
TOKEN = "FwoGZXIvYXdzEFAKEsessionTOKEN//0123456789abcdef"
SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}}
BASH = {"name": "Bash", "description": "Run a shell command", "input_schema": SCHEMA}
OPENAI_BASH = {"type": "function", "function": {"name": "Bash", "description": "Run a shell command", "parameters": BASH["input_schema"]}}


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[FakeBedrock]:
    """A fake Bedrock whose keys are in the environment, as `aws configure export-credentials` would put them."""
    isolate_aws(monkeypatch, tmp_path)
    server = await FakeBedrock(session_token=TOKEN).start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    yield server
    await server.stop()


def config(fake: FakeBedrock, **provider: Any) -> dict[str, Any]:
    settings = {"type": "bedrock", "region": fake.region, "base_url": fake.url, "models": [CLAUDE, NOVA], **provider}
    aliases = {"claude-*": f"bedrock/{CLAUDE}", "nova": f"bedrock/{NOVA}"}
    return {"providers": {"bedrock": settings}, "aliases": aliases, "routing": {"max_wait": 0}}


def claude_client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


def openai_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)


def signed_with_session(seen: Any, fake: FakeBedrock) -> bool:
    scope = f"Credential={fake.access_key}/"
    return seen.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 {scope}") and seen.headers["x-amz-security-token"] == TOKEN


CALL = {"type": "tool_use", "id": "toolu_bdrk_1", "name": "Bash", "input": {"command": "ls"}}
TOOL_TURN = wire.anthropic_message([{"type": "text", "text": "Listing."}, CALL], "tool_use")


async def test_anthropic_sdk_invoke_passes_the_clients_body_through(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    fake.push(BedrockReply(json=TOOL_TURN))
    message = await claude_client(gw.url).messages.create(
        model="claude-sonnet-4-5",
        max_tokens=1024,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        tools=[BASH],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "list files"}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14, request-tags-2026-08-21"},
        extra_body={"tags": {"team": "infra"}},
    )
    assert message.id == "msg_bdrk_01abc" and message.stop_reason == "tool_use"
    tool = message.content[1]
    assert tool.type == "tool_use" and tool.id == "toolu_bdrk_1" and tool.input == {"command": "ls"}
    seen = fake.received[0]
    assert seen.path == f"/model/{CLAUDE}/invoke" and signed_with_session(seen, fake)
    assert "anthropic-beta" not in seen.headers and "anthropic-version" not in seen.headers
    body = seen.body
    assert body["anthropic_version"] == "bedrock-2023-05-31" and body["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert not {"model", "stream", "tags"} & set(body)
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}  # the client's own body, not re-encoded
    assert body["tools"][0]["name"] == "Bash" and body["max_tokens"] == 1024


async def test_anthropic_sdk_invoke_stream_comes_back_as_anthropic_sse(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    thinking = {"type": "thinking", "thinking": "The user wants files.", "signature": "EqQBCkYIBxgCKkD-signed"}
    reply = wire.anthropic_message([thinking, *TOOL_TURN["content"]], "tool_use", output_tokens=42)
    fake.push(invoke_stream(reply, split=7))
    async with claude_client(gw.url).messages.stream(
        model="claude-opus-4-1",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=[BASH],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "list files"}],
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    assert final.content[0].signature == "EqQBCkYIBxgCKkD-signed"  # type: ignore[union-attr]
    assert final.content[2].input == {"command": "ls"}  # type: ignore[union-attr]
    assert final.id == "msg_bdrk_01abc" and final.usage.output_tokens == 42 and final.usage.cache_read_input_tokens == 3
    assert fake.received[0].path == f"/model/{CLAUDE}/invoke-with-response-stream"
    assert fake.received[0].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_openai_sdk_to_an_anthropic_model_through_invoke(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    fake.push(BedrockReply(json=TOOL_TURN), invoke_stream(wire.anthropic_message([{"type": "text", "text": "a.txt b.txt"}]), split=3))
    sdk = openai_client(gw.url)
    first = await sdk.chat.completions.create(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "list"}], tools=[OPENAI_BASH], max_tokens=300
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls" and call.id == "toolu_bdrk_1"
    assert json.loads(call.function.arguments) == {"command": "ls"}  # type: ignore[union-attr]
    history: list[Any] = [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "a.txt b.txt"},
    ]
    stream = await sdk.chat.completions.create(model="claude-sonnet-4-5", messages=history, tools=[OPENAI_BASH], stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "a.txt b.txt"
    encoded = fake.received[1].body
    assert encoded["anthropic_version"] == "bedrock-2023-05-31" and "model" not in encoded and "stream" not in encoded
    assert encoded["messages"][1]["content"][0] == {"type": "tool_use", "id": "toolu_bdrk_1", "name": "Bash", "input": {"command": "ls"}}
    assert encoded["messages"][2]["content"][0]["type"] == "tool_result"


async def test_openai_sdk_to_nova_through_converse_with_a_tool_loop(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    call = {"toolUse": {"toolUseId": "tooluse_nova_1", "name": "Bash", "input": {"command": "ls"}}}
    fake.push(
        BedrockReply(json=wire.converse_response([{"text": "Let me look."}, call], "tool_use")),
        BedrockReply(events=wire.converse_events([{"text": "Two files."}], usage=wire.converse_usage(60, 4)), split=5),
    )
    sdk = openai_client(gw.url)
    first = await sdk.chat.completions.create(
        model="nova",
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "list"}],
        tools=[OPENAI_BASH],
        tool_choice="required",
        temperature=1.5,
        max_tokens=200,
        stop=["END"],
    )
    tool_call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].message.content == "Let me look." and tool_call.id == "tooluse_nova_1"
    assert first.usage is not None and first.usage.prompt_tokens == 30 and first.usage.completion_tokens == 8
    sent = fake.received[0]
    assert sent.path == f"/model/{NOVA}/converse" and signed_with_session(sent, fake)
    assert sent.body["system"] == [{"text": "You are terse."}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 200, "temperature": 1.0, "stopSequences": ["END"]}
    spec = sent.body["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "Bash" and spec["inputSchema"] == {"json": BASH["input_schema"]}
    assert sent.body["toolConfig"]["toolChoice"] == {"any": {}}
    history: list[Any] = [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [tool_call.model_dump()]},
        {"role": "tool", "tool_call_id": "tooluse_nova_1", "content": "a.txt b.txt"},
    ]
    usage = {"include_usage": True}
    stream = await sdk.chat.completions.create(model="nova", messages=history, tools=[OPENAI_BASH], stream=True, stream_options=usage)
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Two files."
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 60
    second = fake.received[1].body
    assert fake.received[1].path == f"/model/{NOVA}/converse-stream"
    assert second["messages"][1]["content"][1] == call
    assert second["messages"][2]["content"] == [{"toolResult": {"toolUseId": "tooluse_nova_1", "content": [{"text": "a.txt b.txt"}]}}]


async def test_anthropic_sdk_to_nova_streams_a_tool_call_through_converse(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    call = {"toolUse": {"toolUseId": "tooluse_nova_2", "name": "Bash", "input": {"command": "echo hi > out.txt"}}}
    fake.push(BedrockReply(events=wire.converse_events([{"text": "Writing."}, call], "tool_use"), split=1))
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    async with claude_client(gw.url).messages.stream(
        model="nova",
        max_tokens=512,
        tools=[BASH],  # type: ignore[list-item]
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "write hi"}]}],
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"] and final.stop_reason == "tool_use"
    assert final.content[1].input == {"command": "echo hi > out.txt"} and final.content[1].id == "tooluse_nova_2"  # type: ignore[union-attr]
    assert final.usage.input_tokens == 30 and final.usage.output_tokens == 8
    content = fake.received[0].body["messages"][0]["content"]
    assert content[0] == {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}} and content[1] == {"text": "write hi"}


async def test_an_inference_profile_arn_is_signed_as_sent(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{CLAUDE}"
    data = config(fake, models=[arn])
    data["aliases"] = {"claude-*": f"bedrock/{arn}"}
    gw = await gateway_factory(data)
    fake.push(BedrockReply(json=wire.anthropic_message([{"type": "text", "text": "ok"}])))
    message = await claude_client(gw.url).messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "ok"  # type: ignore[union-attr]
    assert fake.received[0].path == f"/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2F{CLAUDE}/invoke"
    assert fake.received[0].model == arn


async def test_a_gemini_client_streams_from_nova(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    fake.push(BedrockReply(events=wire.converse_events([{"text": "Bonjour from Nova"}]), split=6))
    client = genai.Client(api_key="client-key", http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="nova", contents="Say hi in French")]
    assert "".join(c.text or "" for c in chunks) == "Bonjour from Nova"
    assert fake.received[0].path == f"/model/{NOVA}/converse-stream"
    assert fake.received[0].body["messages"] == [{"role": "user", "content": [{"text": "Say hi in French"}]}]


async def test_an_image_url_converse_cannot_fetch_is_a_400_for_the_client(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake))
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client(gw.url).chat.completions.create(model="nova", messages=[{"role": "user", "content": [image]}])  # type: ignore[list-item]
    assert "inline (base64) or from s3://" in caught.value.message
    assert fake.received == []
