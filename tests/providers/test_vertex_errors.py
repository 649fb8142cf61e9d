"""Vertex AI's error bodies, Google-shaped and (for Claude models) Anthropic-shaped, classified into cooldowns.

Texts from the Vertex AI docs (error-code-429, model versions) and from errors users reported
verbatim; the shapes are `{"error": {"code", "message", "status", "details"}}` and Anthropic's
`{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from babelgate.providers.classify import Reason, classify
from babelgate.store.base import ALL_MODELS
from tests.conftest import GatewayFactory
from tests.fakes.upstream import Received, Reply
from tests.fakes.vertex import INVALID, VertexFake, google_error
from tests.providers.vertex_setup import CLAUDE, GEMINI, vertex, vertex_config

__all__ = ["vertex"]  # the fixture
RESOURCE = "projects/test-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929"


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


CASES = [
    # (status, body, reason, account-wide)
    (429, google_error(429, "RESOURCE_EXHAUSTED", "Resource exhausted, please try again later."), Reason.CAPACITY, False),
    (
        429,
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource exhausted. Please try again later. "
            "Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
        ),
        Reason.CAPACITY,
        False,
    ),
    (
        429,
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: "
            "anthropic-claude-3-5-sonnet. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
        ),
        Reason.RATE_LIMIT,
        False,
    ),
    (
        429,
        google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_day_per_project_per_base_model "
            "with base model: gemini.",
        ),
        Reason.QUOTA,
        False,
    ),
    (429, google_error(429, "RESOURCE_EXHAUSTED", "Too many requests. Exceeded the Provisioned Throughput."), Reason.RATE_LIMIT, False),
    (401, google_error(401, "UNAUTHENTICATED", INVALID, "ACCESS_TOKEN_EXPIRED"), Reason.AUTH, True),
    (
        403,
        google_error(
            403,
            "PERMISSION_DENIED",
            f"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/{RESOURCE}' (or it may not exist).",
            "IAM_PERMISSION_DENIED",
        ),
        Reason.PERMISSION,
        True,
    ),
    (
        404,
        google_error(404, "NOT_FOUND", f"Publisher Model `{RESOURCE}` was not found or your project does not have access to it."),
        Reason.MODEL_NOT_FOUND,
        False,
    ),
    (
        400,
        google_error(400, "FAILED_PRECONDITION", f"Project `test-project` is not allowed to use Publisher Model `{RESOURCE}`"),
        Reason.MODEL_NOT_FOUND,
        False,
    ),
    (400, google_error(400, "FAILED_PRECONDITION", "Billing account for project '123' is not found or disabled."), Reason.QUOTA, True),
    (400, google_error(400, "INVALID_ARGUMENT", "Please use a valid role: user, model."), Reason.BAD_REQUEST, False),
    (503, google_error(503, "UNAVAILABLE", "The service is currently unavailable."), Reason.CAPACITY, False),
    (500, google_error(500, "INTERNAL", "Internal error encountered."), Reason.SERVER, False),
    (529, anthropic_error("overloaded_error", "Overloaded"), Reason.CAPACITY, False),
    (429, anthropic_error("rate_limit_error", "Number of requests has exceeded your rate limit."), Reason.RATE_LIMIT, False),
    (400, anthropic_error("invalid_request_error", "anthropic_version: Field required"), Reason.BAD_REQUEST, False),
    (400, anthropic_error("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"), Reason.BAD_REQUEST, False),
]


@pytest.mark.parametrize(("status", "body", "reason", "account_wide"), CASES)
def test_vertex_errors_classify(status: int, body: dict[str, Any], reason: Reason, account_wide: bool) -> None:
    failure = classify(status, {}, body, f"vx returned HTTP {status}: {body['error']['message']}")
    assert (failure.reason, failure.account_wide) == (reason, account_wide)
    assert failure.retryable is (reason is not Reason.BAD_REQUEST)


async def test_a_google_429_cools_the_model_and_reaches_the_client_as_429(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    message = "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model"
    vertex.script = lambda record: Reply(429, google_error(429, "RESOURCE_EXHAUSTED", message))
    gw = await gateway_factory(vertex_config(vertex))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)
    with pytest.raises(anthropic.RateLimitError):
        await sdk.messages.create(model="weather", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    entry = gw.gateway.book.blocked("vx#0", GEMINI)
    assert entry is not None and entry.reason is Reason.RATE_LIMIT
    assert gw.gateway.book.blocked("vx#0", CLAUDE) is None and gw.gateway.book.blocked("vx#0", ALL_MODELS) is None


async def test_an_unenabled_claude_model_fails_over_to_gemini(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    def script(record: Received) -> Reply:
        if "/publishers/anthropic/" in record.path:
            text = f"Project `test-project` is not allowed to use Publisher Model `{RESOURCE}`"
            return Reply(400, google_error(400, "FAILED_PRECONDITION", text))
        return VertexFake.default_script(vertex, record)

    vertex.script = script
    config = vertex_config(vertex)
    config["aliases"]["chain"] = [f"vx/{CLAUDE}", f"vx/{GEMINI}"]
    gw = await gateway_factory(config)
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)
    message = await sdk.messages.create(model="chain", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].text == "Hello from Vertex."  # type: ignore[union-attr]
    entry = gw.gateway.book.blocked("vx#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.MODEL_NOT_FOUND


async def test_anthropic_overloaded_on_vertex_stream_is_capacity(vertex: VertexFake, gateway_factory: GatewayFactory) -> None:
    vertex.script = lambda record: Reply(529, anthropic_error("overloaded_error", "Overloaded"))
    gw = await gateway_factory(vertex_config(vertex))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="client-key", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with sdk.messages.stream(model="claude-weather", max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as s:
            await s.get_final_message()
    assert raised.value.status_code == 529
    entry = gw.gateway.book.blocked("vx#0", CLAUDE)
    assert entry is not None and entry.reason is Reason.CAPACITY
