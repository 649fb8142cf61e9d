"""Real error bodies and headers of Anthropic, OpenAI and Gemini, classified."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.providers.classify import Failure, Reason, classify

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def run(status: int, body: Any = None, headers: dict[str, str] | None = None, message: str = "") -> Failure:
    return classify(status, headers or {}, body, message, now=NOW)


def anthropic(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}


def openai(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def gemini(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": list(details)}}


def quota_failure(quota_id: str, dimensions: dict[str, str]) -> dict[str, Any]:
    violation = {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": quota_id}
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [{**violation, "quotaDimensions": dimensions, "quotaValue": "50"}],
    }


def retry_info(delay: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


GEMINI_QUOTA_TEXT = (
    "You exceeded your current quota, please check your plan and billing details. "
    "For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)


# Anthropic.


def test_anthropic_rate_limit_with_retry_after() -> None:
    body = anthropic("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit; see the response headers.")
    headers = {
        "retry-after": "17",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2023-11-14T22:14:00Z",
    }
    assert run(429, body, headers) == Failure(Reason.RATE_LIMIT, 17.0, account_wide=False, retryable=True, status=429)


def test_anthropic_organization_rate_limit_is_account_wide() -> None:
    body = anthropic(
        "rate_limit_error", "This request would exceed the rate limit for your organization (abc) of 400,000 input tokens per minute."
    )
    failure = run(429, body)
    assert (failure.reason, failure.account_wide) == (Reason.RATE_LIMIT, True)
    body = anthropic("rate_limit_error", "This request would exceed your account's rate limit. Please try again later.")
    assert run(429, body).account_wide


def test_anthropic_reset_headers_without_retry_after() -> None:
    body = anthropic("rate_limit_error", "Rate limited")
    headers = {"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": "2023-11-14T22:14:00Z"}
    assert run(429, body, headers).reset_after == 40.0


def test_anthropic_overloaded() -> None:
    failure = run(529, anthropic("overloaded_error", "Overloaded"))
    assert (failure.reason, failure.account_wide, failure.retryable) == (Reason.CAPACITY, False, True)


@pytest.mark.parametrize("message", ["invalid x-api-key", "Invalid bearer token"])
def test_anthropic_authentication(message: str) -> None:
    failure = run(401, anthropic("authentication_error", message))
    assert (failure.reason, failure.account_wide, failure.retryable) == (Reason.AUTH, True, True)


def test_anthropic_permission() -> None:
    failure = run(403, anthropic("permission_error", "Your API key does not have permission to use the specified resource."))
    assert (failure.reason, failure.account_wide) == (Reason.PERMISSION, True)


def test_anthropic_model_not_found() -> None:
    assert run(404, anthropic("not_found_error", "model: claude-nope")).reason is Reason.MODEL_NOT_FOUND


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (400, "invalid_request_error", 'messages: roles must alternate between "user" and "assistant"'),
        (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes."),
        (422, "invalid_request_error", "tools.0.input_schema: JSON schema is invalid"),
    ],
)
def test_anthropic_bad_requests_are_not_retryable(status: int, kind: str, message: str) -> None:
    failure = run(status, anthropic(kind, message))
    assert (failure.reason, failure.retryable) == (Reason.BAD_REQUEST, False)


def test_anthropic_low_credit_is_account_wide_quota() -> None:
    body = anthropic(
        "invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade."
    )
    failure = run(400, body)
    assert (failure.reason, failure.account_wide, failure.retryable) == (Reason.QUOTA, True, True)


def test_anthropic_spend_limit_is_quota_with_its_reset() -> None:
    body = anthropic(
        "invalid_request_error", "You have reached your specified API usage limits. You will regain access on 2023-12-01 at 00:00 UTC."
    )
    failure = run(400, body)
    assert (failure.reason, failure.account_wide) == (Reason.QUOTA, True)
    assert failure.reset_after == 1_701_388_800.0 - NOW


def test_anthropic_billing_error() -> None:
    assert run(402, anthropic("billing_error", "Payment required")).reason is Reason.QUOTA


def test_anthropic_api_error_is_server() -> None:
    failure = run(500, anthropic("api_error", "Internal server error"))
    assert (failure.reason, failure.retryable) == (Reason.SERVER, True)


# OpenAI.


def test_openai_insufficient_quota() -> None:
    message = "You exceeded your current quota, please check your plan and billing details."
    failure = run(429, openai(message, "insufficient_quota", "insufficient_quota"))
    assert (failure.reason, failure.account_wide) == (Reason.QUOTA, True)


def test_openai_model_rate_limit_uses_the_exhausted_limit_header() -> None:
    message = (
        "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): "
        "Limit 30000, Used 29000, Requested 2000. Please try again in 2s."
    )
    headers = {
        "x-ratelimit-remaining-requests": "499",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "4s",
    }
    failure = run(429, openai(message, "tokens", "rate_limit_exceeded"), headers)
    assert failure == Failure(Reason.RATE_LIMIT, 4.0, account_wide=False, retryable=True, status=429)


def test_openai_rate_limit_reset_from_the_message() -> None:
    message = (
        "Rate limit reached for gpt-4o in organization org-abc on requests per day (RPD): Limit 200, Used 200. Please try again in 7m12s."
    )
    assert run(429, None, message=message).reset_after == 432.0
    assert run(429, openai(message, "requests", "rate_limit_exceeded")).reset_after == 432.0


def test_openai_organization_limit_without_a_model_is_account_wide() -> None:
    message = "Rate limit reached in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1."
    assert run(429, openai(message, "requests", "rate_limit_exceeded")).account_wide


def test_openai_invalid_api_key() -> None:
    body = openai(
        "Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com.",
        "invalid_request_error",
        "invalid_api_key",
    )
    assert run(401, body).reason is Reason.AUTH


def test_openai_model_not_found() -> None:
    body = openai("The model `gpt-9` does not exist or you do not have access to it.", "invalid_request_error", "model_not_found")
    assert run(404, body).reason is Reason.MODEL_NOT_FOUND


@pytest.mark.parametrize(
    "body",
    [
        openai("Unknown model", "invalid_request_error", "model_not_found"),
        openai("The model `llama-9` does not exist.", "invalid_request_error", None),
        openai("model not found: qwen-9", "invalid_request_error", None),
    ],
)
def test_compatible_servers_report_missing_models_as_400(body: dict[str, Any]) -> None:
    failure = run(400, body)
    assert (failure.reason, failure.retryable) == (Reason.MODEL_NOT_FOUND, True)


def test_a_400_about_something_else_not_existing_is_a_bad_request() -> None:
    assert run(400, openai("The file `file-1` does not exist.", "invalid_request_error", None)).reason is Reason.BAD_REQUEST


def test_openai_overloaded() -> None:
    body = openai("The engine is currently overloaded, please try again later.", "server_error", None)
    assert run(503, body).reason is Reason.CAPACITY
    assert run(429, openai("The server is overloaded.", "server_error", None)).reason is Reason.CAPACITY


def test_openai_bad_gateway_is_server() -> None:
    assert run(502, "<html>Bad gateway</html>").reason is Reason.SERVER


# Gemini.


def test_gemini_per_minute_quota_is_a_model_rate_limit() -> None:
    body = gemini(
        429,
        "RESOURCE_EXHAUSTED",
        GEMINI_QUOTA_TEXT,
        quota_failure("GenerateContentInputTokensPerModelPerMinute-FreeTier", {"location": "global", "model": "gemini-2.5-flash"}),
        retry_info("26s"),
    )
    assert run(429, body) == Failure(Reason.RATE_LIMIT, 26.0, account_wide=False, retryable=True, status=429)


def test_gemini_daily_quota_per_model() -> None:
    body = gemini(
        429,
        "RESOURCE_EXHAUSTED",
        GEMINI_QUOTA_TEXT,
        quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier", {"location": "global", "model": "gemini-2.0-flash"}),
        retry_info("43s"),
    )
    failure = run(429, body)
    assert (failure.reason, failure.account_wide, failure.reset_after) == (Reason.QUOTA, False, 43.0)


def test_gemini_daily_quota_without_a_model_dimension_is_account_wide() -> None:
    body = gemini(
        429, "RESOURCE_EXHAUSTED", GEMINI_QUOTA_TEXT, quota_failure("GenerateRequestsPerDayPerProject-FreeTier", {"location": "global"})
    )
    failure = run(429, body)
    assert (failure.reason, failure.account_wide) == (Reason.QUOTA, True)


def test_gemini_quota_text_without_details_is_quota() -> None:
    help_link = {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}
    assert run(429, gemini(429, "RESOURCE_EXHAUSTED", GEMINI_QUOTA_TEXT, help_link)).reason is Reason.QUOTA


def test_cloud_code_quota_exhausted_with_reset() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "QUOTA_EXHAUSTED",
        "domain": "cloudcode-pa.googleapis.com",
        "metadata": {"model": "gemini-2.5-pro", "quotaResetDelay": "9h22m20s", "quotaResetTimeStamp": "2023-11-15T07:35:40Z"},
    }
    body = gemini(429, "RESOURCE_EXHAUSTED", "Individual quota reached. Resets in 9h22m20s.", info)
    assert run(429, body) == Failure(Reason.QUOTA, 33740.0, account_wide=False, retryable=True, status=429)


@pytest.mark.parametrize(
    "message",
    [
        "Resource has been exhausted (e.g. check quota).",
        "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: x",
    ],
)
def test_gemini_short_window_exhaustion_is_a_rate_limit(message: str) -> None:
    assert run(429, gemini(429, "RESOURCE_EXHAUSTED", message)).reason is Reason.RATE_LIMIT


def test_vertex_shared_pool_exhaustion_is_capacity() -> None:
    """Vertex's pay-as-you-go 429: the shared pool has no room now, not this credential's limit (docs: error-code-429)."""
    assert run(429, gemini(429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later.")).reason is Reason.CAPACITY


def test_gemini_unavailable() -> None:
    assert run(503, gemini(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")).reason is Reason.CAPACITY


def test_cloud_code_model_capacity_exhausted() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "MODEL_CAPACITY_EXHAUSTED",
        "domain": "cloudcode-pa.googleapis.com",
    }
    body = gemini(429, "RESOURCE_EXHAUSTED", "No capacity available for model gemini-2.5-pro on the server", info)
    assert run(429, body).reason is Reason.CAPACITY


def test_gemini_invalid_api_key_is_auth_even_on_400() -> None:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}
    body = gemini(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", info)
    failure = run(400, body)
    assert (failure.reason, failure.retryable, failure.account_wide) == (Reason.AUTH, True, True)


def test_gemini_unauthenticated_and_permission_denied() -> None:
    assert run(401, gemini(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")).reason is Reason.AUTH
    assert run(403, gemini(403, "PERMISSION_DENIED", "Your API key was reported as leaked.")).reason is Reason.PERMISSION


def test_gemini_model_not_found() -> None:
    body = gemini(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta, or is not supported for generateContent.")
    assert run(404, body).reason is Reason.MODEL_NOT_FOUND


def test_gemini_list_wrapped_body() -> None:
    body = [
        gemini(429, "RESOURCE_EXHAUSTED", GEMINI_QUOTA_TEXT, quota_failure("GenerateRequestsPerMinutePerProjectPerModel", {"model": "m"}))
    ]
    assert run(429, body).reason is Reason.RATE_LIMIT


# Transport and generic rules.


def test_unreachable_and_timeouts_are_network() -> None:
    failure = run(0, None, message="Cannot connect to host 127.0.0.1:9")
    assert (failure.reason, failure.retryable, failure.status) == (Reason.NETWORK, True, 0)
    assert run(408).reason is Reason.NETWORK


def test_plain_429_is_a_model_rate_limit() -> None:
    failure = run(429, "Too Many Requests")
    assert (failure.reason, failure.account_wide, failure.reset_after) == (Reason.RATE_LIMIT, False, None)


def test_scope_header_decides_account_wide() -> None:
    assert run(429, None, {"X-RateLimit-Scope": "organization"}).account_wide
    message = "This request would exceed the rate limit for your organization."
    assert not run(429, None, {"x-ratelimit-scope": "model"}, message=message).account_wide


def test_capacity_and_server_failures_are_never_account_wide() -> None:
    assert not run(503, None, {"x-ratelimit-scope": "organization"}, message="organization overloaded").account_wide


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, Reason.AUTH),
        (402, Reason.QUOTA),
        (403, Reason.PERMISSION),
        (404, Reason.MODEL_NOT_FOUND),
        (409, Reason.BAD_REQUEST),
        (429, Reason.RATE_LIMIT),
        (500, Reason.SERVER),
        (503, Reason.CAPACITY),
        (504, Reason.SERVER),
        (529, Reason.CAPACITY),
    ],
)
def test_status_alone(status: int, reason: Reason) -> None:
    failure = run(status)
    assert failure.reason is reason
    assert failure.retryable is (reason is not Reason.BAD_REQUEST)
    assert failure.status == status


def test_reason_values_read_as_statuses() -> None:
    assert str(Reason.AUTH) == "auth_invalid"
    assert f"{Reason.PERMISSION}" == "permission_denied"
