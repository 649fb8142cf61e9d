"""Bedrock InvokeModel served to clients: anthropic's AnthropicBedrock -> babelgate -> any upstream.

The SDK signs with dummy AWS credentials (the gateway does not check signatures) and reads the
streams with its own decoder, which is botocore's event-stream parser.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from botocore.eventstream import EventStreamBuffer

from babelgate import tokens
from babelgate.dialects import anthropic as anthropic_dialect
from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.tool_turns import ASK, BASH_TOOL, anthropic_config, anthropic_turn, openai_turn
from tests.fakes.upstream import FakeUpstream, Reply

PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{PROFILE}"


def bedrock(url: str, **extra: Any) -> anthropic.AsyncAnthropicBedrock:
    return anthropic.AsyncAnthropicBedrock(
        aws_access_key="AKIDEXAMPLE", aws_secret_key="dummy-secret", aws_region="us-east-1", base_url=url, max_retries=0, **extra
    )


async def test_invoke_to_openai_upstream_with_tool_call(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.script = openai_turn
    message = await bedrock(gw.url).messages.create(model=PROFILE, max_tokens=512, tools=[BASH_TOOL], messages=ASK)
    assert [b.type for b in message.content] == ["text", "tool_use"]
    tool = message.content[1]
    assert tool.type == "tool_use" and tool.id == "call_b1" and tool.input == {"command": "echo hi > out.txt"}
    assert message.stop_reason == "tool_use"
    sent = upstream.received[0]
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "gpt-5" and not sent.body.get("stream")
    assert sent.headers["authorization"] == "Bearer sk-test-secret-key-1"  # the upstream's key, not the client's signature


async def test_stream_to_openai_upstream_with_tool_call(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.script = openai_turn
    async with bedrock(gw.url).messages.stream(model=ARN, max_tokens=512, tools=[BASH_TOOL], messages=ASK) as stream:
        texts = [event.text async for event in stream if event.type == "text"]
        final = await stream.get_final_message()
    assert "".join(texts) == "Running it."
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[1].input == {"command": "echo hi > out.txt"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 7
    assert upstream.received[0].body["stream"] is True


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_upstream_gets_messages_api_shape(upstream: FakeUpstream, gateway_factory: GatewayFactory, stream: bool) -> None:
    gw = await gateway_factory(anthropic_config(upstream))
    upstream.script = anthropic_turn  # refuses anthropic_version / anthropic_beta in the body
    client = bedrock(gw.url)
    betas = {"anthropic-beta": "context-management-2025-06-27"}
    extra: Any = {"anthropic_beta": ["interleaved-thinking-2025-05-14"]}
    if stream:
        async with client.messages.stream(
            model=PROFILE, max_tokens=512, tools=[BASH_TOOL], messages=ASK, extra_headers=betas, extra_body=extra
        ) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(model=PROFILE, max_tokens=512, tools=[BASH_TOOL], messages=ASK, extra_headers=betas)
    assert message.content[1].type == "tool_use" and message.content[1].id == "toolu_b1"
    sent = upstream.received[0]
    assert sent.path == "/v1/messages" and sent.body["model"] == "claude-up" and sent.body.get("stream", False) is stream
    assert "anthropic_version" not in sent.body and "anthropic_beta" not in sent.body
    expected = "context-management-2025-06-27,interleaved-thinking-2025-05-14" if stream else "context-management-2025-06-27"
    assert sent.headers["anthropic-beta"] == expected and sent.headers["anthropic-version"] == "2023-06-01"


async def test_provider_model_names_route_too(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.script = openai_turn
    message = await bedrock(gw.url).messages.create(model="up/gpt-5-mini", max_tokens=8, messages=ASK)  # sent as up%2Fgpt-5-mini
    assert message.content[0].text == "Running it."  # type: ignore[union-attr]
    assert upstream.received[0].body["model"] == "gpt-5-mini"


async def raw_post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with aiohttp.ClientSession() as session, session.post(url, data=data, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.read()


def decode(raw: bytes) -> list[Any]:
    """Every message of an event-stream body, read (and its checksums checked) by botocore."""
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return list(buffer)


async def test_event_stream_frames_read_by_botocore(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.push(wire.stream_reply(wire.text_stream("Hel", "lo"), split=5))
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": ASK}
    status, headers, raw = await raw_post(f"{gw.url}/model/{PROFILE}/invoke-with-response-stream", body)
    assert status == 200 and headers["Content-Type"] == "application/vnd.amazon.eventstream"
    messages = decode(raw)
    assert all(m.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"} for m in messages)
    events = [json.loads(base64.b64decode(json.loads(m.payload)["bytes"])) for m in messages]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    assert "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta") == "Hello"


async def test_failure_after_the_first_byte_is_an_exception_message(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.push(Reply(chunks=[wire.sse(wire.text_stream("partial"))[:400]], drop_after=None))  # cut before finish_reason
    body = {"max_tokens": 64, "messages": ASK}
    status, _, raw = await raw_post(f"{gw.url}/model/{PROFILE}/invoke-with-response-stream", body)
    assert status == 200
    last = decode(raw)[-1]
    assert last.headers[":message-type"] == "exception" and last.headers[":exception-type"] == "modelStreamErrorException"
    assert "stream" in json.loads(last.payload)["message"]
    upstream.push(Reply(chunks=[wire.sse(wire.text_stream("partial"))[:400]]))
    with pytest.raises(anthropic.APIError, match="stream"):
        async with bedrock(gw.url).messages.stream(model=PROFILE, max_tokens=64, messages=ASK) as stream:
            await stream.get_final_message()


async def test_bad_input_answers_in_bedrock_shape(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    cases = [
        ("/model/mistral.large-v1:0/invoke", {"max_tokens": 8, "messages": ASK}, 404, "ResourceNotFoundException", "mistral.large-v1:0"),
        (f"/model/{PROFILE}/invoke", b"{not json", 400, "ValidationException", "not valid JSON"),
        (f"/model/{PROFILE}/invoke", {"max_tokens": 8}, 400, "ValidationException", "messages"),
        (f"/model/{PROFILE}/invoke", {"messages": ASK, "anthropic_beta": "x"}, 400, "ValidationException", "anthropic_beta"),
        (f"/model/{PROFILE}/converse", {"messages": []}, 400, "ValidationException", "Converse"),
        (f"/model/{PROFILE}/invoke-async", {"messages": ASK}, 404, "ResourceNotFoundException", "unknown operation"),
        (f"/model/{PROFILE}/count-tokens", {"input": {"converse": {}}}, 400, "ValidationException", "invokeModel"),
        ("/model/x", {}, 404, "ResourceNotFoundException", "no route"),
    ]
    for path, body, status, kind, text in cases:
        got, headers, raw = await raw_post(gw.url + path, body)
        assert (got, headers.get("x-amzn-ErrorType")) == (status, kind), (path, raw)
        assert text in json.loads(raw)["message"], (path, raw)
    assert not upstream.received
    with pytest.raises(anthropic.NotFoundError, match="is not configured"):
        await bedrock(gw.url).messages.create(model="meta.llama3-70b-instruct-v1:0", max_tokens=8, messages=ASK)


async def test_gateway_key_is_checked(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": ["gw-key-1"]}))
    upstream.push(Reply(json=wire.completion("hi")))
    with pytest.raises(anthropic.PermissionDeniedError, match="API key for this gateway"):
        await bedrock(gw.url).messages.create(model=PROFILE, max_tokens=8, messages=ASK)  # signed, but no gateway key
    client = anthropic.AsyncAnthropicBedrock(api_key="gw-key-1", aws_region="us-east-1", base_url=gw.url, max_retries=0)
    message = await client.messages.create(model=PROFILE, max_tokens=8, messages=ASK)  # a Bedrock API key: Bearer
    assert message.content[0].text == "hi"  # type: ignore[union-attr]
    upstream.push(Reply(json=wire.completion("hi again")))
    signed = bedrock(gw.url, default_headers={"x-api-key": "gw-key-1"})  # SigV4 and the gateway key beside it
    assert (await signed.messages.create(model=PROFILE, max_tokens=8, messages=ASK)).content[0].text == "hi again"  # type: ignore[union-attr]


async def test_count_tokens_and_inference_profiles(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream))
    invoke_body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": [{"role": "user", "content": "x" * 400}]}
    counted = {"input": {"invokeModel": {"body": base64.b64encode(orjson.dumps(invoke_body)).decode()}}}
    status, _, raw = await raw_post(f"{gw.url}/model/anthropic.claude-opus-5-5/count-tokens", counted)
    ask = anthropic_dialect.parse_request({"model": "m", "messages": invoke_body["messages"]})
    assert status == 200 and json.loads(raw)["inputTokens"] == tokens.offline_count(ask, "openai")  # a Chat upstream: counted offline
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/inference-profiles?type=SYSTEM_DEFINED") as response:
            assert response.status == 200 and await response.json() == {"inferenceProfileSummaries": []}
        async with session.get(f"{gw.url}/inference-profiles/us.anthropic.claude-opus-5-5") as response:
            profile = await response.json()
            assert response.status == 200 and profile["models"][0]["modelArn"].endswith("/claude-opus-5-5")
        async with session.get(f"{gw.url}/inference-profiles/us.meta.llama3-70b") as response:
            assert response.status == 404 and response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert not upstream.received
