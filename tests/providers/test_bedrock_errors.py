"""Bedrock's error shapes through the gateway: each lands in its cooldown reason; exceptions inside
event streams fail over before the first byte and become the client's error event after it;
"Input is too long." reaches the client exactly; account ids and ARNs do not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import openai
import pytest

from babelgate.providers import bedrock_errors
from babelgate.providers.classify import Reason
from babelgate.store.base import ALL_MODELS
from tests.conftest import GatewayFactory
from tests.fakes import bedrock_wire as wire
from tests.fakes.bedrock import BAD_TOKEN, SIGNATURE_MISMATCH, BedrockReply, FakeBedrock, error, invoke_stream, isolate_aws

CLAUDE = "global.anthropic.claude-opus-4-5-20251101-v1:0"
NOVA = "amazon.nova-lite-v1:0"
KEYS = ["ABSK-first-key-000000000000000000", "ABSK-second-key-00000000000000000"]
DENIED = (
    "User: arn:aws:iam::123456789012:user/ci-runner is not authorized to perform: bedrock:InvokeModel on resource: "
    f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{CLAUDE} "
    "because no identity-based policy allows the bedrock:InvokeModel action"
)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[FakeBedrock]:
    isolate_aws(monkeypatch, tmp_path)
    server = await FakeBedrock(api_keys=set(KEYS)).start()
    yield server
    await server.stop()


def config(fake: FakeBedrock, keys: list[str]) -> dict[str, object]:
    provider = {"type": "bedrock", "base_url": fake.url, "region": fake.region, "api_keys": keys, "models": [CLAUDE, NOVA]}
    return {
        "providers": {"bedrock": provider},
        "aliases": {"claude-*": f"bedrock/{CLAUDE}", "nova": f"bedrock/{NOVA}"},
        "routing": {"max_wait": 0},
    }


def claude(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


async def ask(url: str) -> anthropic.types.Message:
    return await claude(url).messages.create(model="claude-opus-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


SHAPES = [
    ("ThrottlingException", 429, "Too many tokens, please wait before trying again.", Reason.RATE_LIMIT, CLAUDE),
    ("ServiceQuotaExceededException", 400, "Your request exceeds the service quota for your account.", Reason.QUOTA, CLAUDE),
    ("ModelNotReadyException", 429, "The model is not ready to serve inference requests.", Reason.CAPACITY, CLAUDE),
    ("ServiceUnavailableException", 503, "Bedrock is unable to process your request.", Reason.CAPACITY, CLAUDE),
    ("ModelTimeoutException", 408, "Model has timed out in processing the request.", Reason.SERVER, CLAUDE),
    ("InternalServerException", 500, "The server encountered an internal error.", Reason.SERVER, CLAUDE),
    ("ModelErrorException", 424, "The model returned an error.", Reason.SERVER, CLAUDE),
    ("AccessDeniedException", 403, DENIED, Reason.PERMISSION, ALL_MODELS),
    ("AccessDeniedException", 403, "You don't have access to the model with the specified model ID.", Reason.MODEL_NOT_FOUND, CLAUDE),
    ("UnrecognizedClientException", 403, BAD_TOKEN, Reason.AUTH, ALL_MODELS),
    ("InvalidSignatureException", 403, SIGNATURE_MISMATCH, Reason.AUTH, ALL_MODELS),
    ("ExpiredTokenException", 403, "The security token included in the request is expired", Reason.AUTH, ALL_MODELS),
    ("ValidationException", 400, "The provided model identifier is invalid.", Reason.MODEL_NOT_FOUND, CLAUDE),
    (
        "ResourceNotFoundException",
        404,
        "Could not resolve the foundation model from the provided model identifier.",
        Reason.MODEL_NOT_FOUND,
        CLAUDE,
    ),
    ("ValidationException", 400, "Input is too long.", Reason.BAD_REQUEST, None),
]


@pytest.mark.parametrize(("kind", "status", "message", "reason", "scope"), SHAPES, ids=[f"{s[0]}-{s[3].value}" for s in SHAPES])
async def test_each_bedrock_error_lands_in_its_cooldown_reason(
    fake: FakeBedrock, gateway_factory: GatewayFactory, kind: str, status: int, message: str, reason: Reason, scope: str | None
) -> None:
    gw = await gateway_factory(config(fake, KEYS[:1]))
    fake.push(error(status, kind, message))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await ask(gw.url)
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    if scope is None:
        assert entry is None  # the request's fault, not the credential's
    else:
        assert entry is not None and entry.reason is reason and entry.model == scope
    assert "123456789012" not in caught.value.response.text and "arn:aws" not in caught.value.response.text


async def test_input_is_too_long_reaches_the_client_exactly(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake, KEYS[:1]))
    fake.push(error(400, "ValidationException", "Input is too long."))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await ask(gw.url)
    assert {k: v for k, v in caught.value.body.items() if k != "request_id"} == {  # type: ignore[union-attr]
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "Input is too long.", "code": "upstream_error", "provider": "bedrock"},
    }


async def test_a_throttled_stream_fails_over_before_the_first_byte(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake, KEYS))
    throttled = BedrockReply(events=[("throttlingException", {"message": "Too many requests, please wait before trying again."})])
    fake.push(throttled, invoke_stream(wire.anthropic_message([{"type": "text", "text": "second key"}])))
    async with claude(gw.url).messages.stream(
        model="claude-opus-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = await stream.get_final_message()
    assert final.content[0].text == "second key"  # type: ignore[union-attr]
    assert [s.headers["authorization"] for s in fake.received] == [f"Bearer {k}" for k in KEYS]
    entry = gw.gateway.book.blocked("bedrock#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.RATE_LIMIT and entry.model == CLAUDE


async def test_an_exception_after_output_is_the_clients_error_event(fake: FakeBedrock, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(fake, KEYS[:1]))
    events = invoke_stream(wire.anthropic_message([{"type": "text", "text": "partial answer"}])).events or []
    fake.push(
        BedrockReply(events=[*events[:4], ("modelStreamErrorException", {"message": "The model stream broke.", "originalStatusCode": 500})])
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with claude(gw.url).messages.stream(
            model="claude-opus-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            await stream.get_final_message()
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": "modelStreamErrorException: The model stream broke."},
    }


async def test_a_converse_stream_that_breaks_reaches_an_openai_client_as_an_error(
    fake: FakeBedrock, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(config(fake, KEYS[:1]))
    events = wire.converse_events([{"text": "half of it"}])[:3]
    fake.push(BedrockReply(events=[*events, ("internalServerException", {"message": "Internal failure."})], split=4))
    sdk = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="client-key", max_retries=0)
    stream = await sdk.chat.completions.create(model="nova", messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass
    assert "internalServerException: Internal failure." in caught.value.message


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("bedrock stream failed: throttlingException: Too many tokens", Reason.RATE_LIMIT),
        ("bedrock stream failed: serviceUnavailableException: try later", Reason.CAPACITY),
        ("bedrock stream failed: modelStreamErrorException: broke", Reason.SERVER),
        ("bedrock stream failed: validationException: bad input", Reason.BAD_REQUEST),
    ],
)
def test_stream_exceptions_are_classified_by_name(message: str, reason: Reason) -> None:
    assert bedrock_errors.failure(502, {}, None, message).reason is reason


def test_the_error_type_is_read_from_the_header_or_the_body() -> None:
    header = {"X-Amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    assert bedrock_errors.error_type(header, {"message": "x"}) == "ThrottlingException"
    assert bedrock_errors.error_type({}, {"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": BAD_TOKEN}) == (
        "UnrecognizedClientException"
    )
    bad_key = "Authentication failed: Please make sure your API Key is valid."
    assert bedrock_errors.failure(403, {}, {"Message": bad_key}, f"bedrock returned HTTP 403 error: {bad_key}").reason is Reason.AUTH
