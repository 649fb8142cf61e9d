"""Bedrock's wire: the fake answers AWS's own client (botocore) as Bedrock does, and the gateway's
event-stream framing decodes what the fake sends, cut anywhere, and refuses what is corrupt."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from botocore.session import Session

from babelgate.providers.bedrock_invoke import AnthropicSSE
from babelgate.providers.eventstream import EventStreamFraming
from tests.fakes import bedrock_wire as wire
from tests.fakes.bedrock import SIGNATURE_MISMATCH, BedrockReply, FakeBedrock, invoke_stream

MODEL = "us.anthropic.claude-sonnet-4-5-v1:0"
REPLY = wire.anthropic_message([{"type": "text", "text": "Hello from Bedrock"}])


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrock]:
    server = await FakeBedrock(session_token="FwoGZXIvYXdzEFAKE//session-token").start()
    yield server
    await server.stop()


def runtime(fake: FakeBedrock, secret: str | None = None) -> Any:
    """botocore's own bedrock-runtime client, signing with the fake's keys (or a wrong secret)."""
    session = Session()
    return session.create_client(
        "bedrock-runtime",
        region_name=fake.region,
        endpoint_url=fake.url,
        aws_access_key_id=fake.access_key,
        aws_secret_access_key=secret or fake.secret_key,
        aws_session_token=fake.session_token,
        config=BotoConfig(retries={"max_attempts": 1}),
    )


async def test_botocore_invokes_the_fake_and_decodes_its_event_stream(fake: FakeBedrock) -> None:
    body = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    fake.push(BedrockReply(json=REPLY), invoke_stream(REPLY, split=5))
    client = runtime(fake)
    whole = await asyncio.to_thread(client.invoke_model, modelId=MODEL, body=body)
    assert orjson.loads(whole["body"].read())["content"][0]["text"] == "Hello from Bedrock"
    streamed = await asyncio.to_thread(client.invoke_model_with_response_stream, modelId=MODEL, body=body)
    events = await asyncio.to_thread(lambda: [orjson.loads(e["chunk"]["bytes"]) for e in streamed["body"]])
    assert [e["type"] for e in events][:2] == ["message_start", "content_block_start"]
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == "Hello from Bedrock"
    assert fake.received[0].path == "/model/us.anthropic.claude-sonnet-4-5-v1%3A0/invoke"  # botocore escapes ':'


async def test_botocore_converse_stream_and_a_wrong_secret(fake: FakeBedrock) -> None:
    content = [{"text": "Nova here"}, {"toolUse": {"toolUseId": "tooluse_1", "name": "Bash", "input": {"command": "ls"}}}]
    fake.push(BedrockReply(events=wire.converse_events(content, "tool_use"), split=3))
    client = runtime(fake)
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    streamed = await asyncio.to_thread(client.converse_stream, modelId="amazon.nova-pro-v1:0", messages=messages)
    events = await asyncio.to_thread(lambda: list(streamed["stream"]))
    assert next(iter(events[0])) == "messageStart"
    assert events[-2]["messageStop"]["stopReason"] == "tool_use" and events[-1]["metadata"]["usage"]["totalTokens"] == 38
    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(runtime(fake, secret="not-the-secret").converse, modelId="amazon.nova-pro-v1:0", messages=messages)
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["Error"]["Message"] == SIGNATURE_MISMATCH
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_the_fake_refuses_an_invoke_body_as_bedrock_does(fake: FakeBedrock) -> None:
    body = orjson.dumps({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(runtime(fake).invoke_model, modelId=MODEL, body=body)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"] == (
        "Malformed input request: #: required key [anthropic_version] not found, #: extraneous key [model] is not permitted, "
        "please reformat your input and try again."
    )


STREAM = b"".join(wire.chunk(e) for e in wire.anthropic_events(REPLY)) + wire.event("throttlingException", {"message": "Too many tokens"})


def test_framing_decodes_messages_split_at_every_byte() -> None:
    framing = EventStreamFraming()
    payloads = [p for i in range(len(STREAM)) for p in framing.feed(STREAM[i : i + 1])] + framing.flush()
    frames = [orjson.loads(p) for p in payloads]
    assert [next(iter(f)) for f in frames][-2:] == ["chunk", "throttlingException"]
    first = orjson.loads(base64.b64decode(frames[0]["chunk"]["bytes"]))
    assert first["type"] == "message_start" and frames[0]["chunk"]["p"] == "abcdefg"
    assert frames[-1] == {"throttlingException": {"message": "Too many tokens"}}


@pytest.mark.parametrize("where", ["prelude", "payload"])
def test_framing_refuses_a_bad_checksum(where: str) -> None:
    one = bytearray(wire.chunk({"type": "ping"}))
    one[5 if where == "prelude" else len(one) - 8] ^= 0x01
    with pytest.raises(ValueError, match="bad event-stream message"):
        EventStreamFraming().feed(bytes(one))


def test_framing_refuses_a_stream_cut_inside_a_message() -> None:
    framing = EventStreamFraming()
    assert framing.feed(STREAM[:-9]) != []
    with pytest.raises(ValueError, match="ended inside an event-stream message"):
        framing.flush()


def test_invoke_stream_becomes_anthropic_sse() -> None:
    recode = AnthropicSSE()
    sse = b"".join([recode.feed(STREAM[i : i + 11]) for i in range(0, len(STREAM), 11)]) + recode.flush()
    frames = sse.split(b"\n\n")[:-1]
    assert frames[0].startswith(b"event: message_start\ndata: {")
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "throttlingException: Too many tokens"}}
    assert frames[-1] == b"event: error\ndata: " + orjson.dumps(error)


def test_invoke_stream_with_a_corrupt_message_ends_in_an_api_error() -> None:
    corrupt = bytearray(STREAM)
    corrupt[20] ^= 0xFF
    recode = AnthropicSSE()
    sse = recode.feed(bytes(corrupt)) + recode.feed(STREAM) + recode.flush()
    assert sse.startswith(b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"the upstream sent an unreadable')
