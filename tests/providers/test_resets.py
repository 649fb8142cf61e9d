"""Every form of "when does the limit reset" the providers send, parsed to seconds from now."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from babelgate.providers.resets import MAX_RESET, from_text, parse_duration, parse_timestamp, reset_after

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def rfc3339(seconds_from_now: float) -> str:
    return (datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=seconds_from_now)).isoformat().replace("+00:00", "Z")


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + seconds_from_now, UTC), usegmt=True)


def gemini(*details: dict[str, Any], message: str = "You exceeded your current quota.") -> dict[str, Any]:
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": list(details)}}


# Durations and timestamps.


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("2h21m25.83s", 8485.83),
        ("1.5s", 1.5),
        ("33740.910400305s", 33740.910400305),
        ("500us", 0.0005),
        ("7", 7.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1x", "s", "1s2", "soon"])
def test_parse_duration_rejects_other_text(text: str) -> None:
    assert parse_duration(text) is None


def test_parse_timestamp_reads_rfc3339_and_http_dates() -> None:
    assert parse_timestamp("2023-11-14T22:13:20Z") == NOW
    assert parse_timestamp("2023-11-14T22:13:20.5+00:00") == NOW + 0.5
    assert parse_timestamp("2023-11-14T23:13:20+01:00") == NOW
    assert parse_timestamp("Tue, 14 Nov 2023 22:13:20 GMT") == NOW
    assert parse_timestamp("2023-11-14T22:13:20") == NOW  # naive means UTC
    assert parse_timestamp("next tuesday") is None


# Headers.


def test_retry_after_seconds() -> None:
    assert reset_after({"Retry-After": "30"}, None, NOW) == 30.0
    assert reset_after({"retry-after": "1.5"}, None, NOW) == 1.5


def test_retry_after_http_date() -> None:
    assert reset_after({"Retry-After": http_date(90)}, None, NOW) == pytest.approx(90.0)


def test_headers_are_case_insensitive() -> None:
    assert reset_after({"RETRY-AFTER": "7"}, None, NOW) == 7.0
    assert reset_after({"X-RateLimit-Reset-Tokens": "6m0s"}, None, NOW) == 360.0


def test_retry_after_ms() -> None:
    assert reset_after({"retry-after-ms": "1500"}, None, NOW) == 1.5


def test_explicit_headers_take_the_longest() -> None:
    assert reset_after({"retry-after-ms": "1500", "retry-after": "2"}, None, NOW) == 2.0


@pytest.mark.parametrize(("value", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("2h21m25.83s", 8485.83)])
def test_openai_reset_headers(value: str, seconds: float) -> None:
    assert reset_after({"x-ratelimit-reset-requests": value}, None, NOW) == pytest.approx(seconds)
    assert reset_after({"x-ratelimit-reset-tokens": value}, None, NOW) == pytest.approx(seconds)


def test_openai_uses_the_exhausted_limit() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "149000",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert reset_after(headers, None, NOW) == 1.0
    headers["x-ratelimit-remaining-tokens"] = "0"
    assert reset_after(headers, None, NOW) == 360.0


def test_without_remaining_headers_the_longest_limit_applies() -> None:
    assert reset_after({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}, None, NOW) == 360.0


@pytest.mark.parametrize("kind", ["requests", "tokens", "input-tokens", "output-tokens"])
def test_anthropic_reset_headers(kind: str) -> None:
    headers = {f"anthropic-ratelimit-{kind}-reset": rfc3339(42)}
    assert reset_after(headers, None, NOW) == pytest.approx(42.0)


def test_anthropic_uses_the_exhausted_limit_and_ignores_past_resets() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": rfc3339(5),
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": rfc3339(40),
        "anthropic-ratelimit-output-tokens-remaining": "0",
        "anthropic-ratelimit-output-tokens-reset": rfc3339(-3),
    }
    assert reset_after(headers, None, NOW) == pytest.approx(40.0)


def test_anthropic_retry_after_beats_the_per_limit_resets() -> None:
    headers = {"retry-after": "12", "anthropic-ratelimit-tokens-remaining": "0", "anthropic-ratelimit-tokens-reset": rfc3339(50)}
    assert reset_after(headers, None, NOW) == 12.0


def test_resets_all_in_the_past_mean_now() -> None:
    assert reset_after({"anthropic-ratelimit-requests-reset": rfc3339(-30)}, None, NOW) == 0.0


@pytest.mark.parametrize(("value", "seconds"), [("1700000045", 45.0), ("12", 12.0), ("1700000045000", 45.0), (rfc3339(8), 8.0)])
def test_generic_x_ratelimit_reset(value: str, seconds: float) -> None:
    assert reset_after({"x-ratelimit-reset": value}, None, NOW) == pytest.approx(seconds)


def test_per_limit_headers_beat_the_generic_reset() -> None:
    assert reset_after({"x-ratelimit-reset": "100", "x-ratelimit-reset-requests": "3s"}, None, NOW) == 3.0


# Gemini bodies.


@pytest.mark.parametrize(("delay", "seconds"), [("1.5s", 1.5), ("30s", 30.0), ({"seconds": 30, "nanos": 500000000}, 30.5)])
def test_gemini_retry_info(delay: Any, seconds: float) -> None:
    body = gemini({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    assert reset_after({}, body, NOW) == seconds


def test_gemini_error_info_quota_reset_delay() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "QUOTA_EXHAUSTED",
        "metadata": {"model": "gemini-2.5-pro", "quotaResetDelay": "2h21m25.83s"},
    }
    assert reset_after({}, gemini(info), NOW) == pytest.approx(8485.83)


def test_gemini_error_info_quota_reset_timestamp() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "QUOTA_EXHAUSTED",
        "metadata": {"quotaResetTimeStamp": rfc3339(3600)},
    }
    assert reset_after({}, gemini(info), NOW) == pytest.approx(3600.0)


def test_gemini_body_as_json_text_or_list() -> None:
    body = gemini({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"})
    assert reset_after({}, json.dumps(body), NOW) == 26.0
    assert reset_after({}, [body], NOW) == 26.0
    assert reset_after({}, json.dumps([body]).encode(), NOW) == 26.0


def test_gemini_details_beat_the_message() -> None:
    body = gemini({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}, message="Please retry in 1.2s.")
    assert reset_after({}, body, NOW) == 26.0


# Free text.


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Rate limit hit, reset after 30s", 30.0),
        ("Rate limit reached for gpt-4o ... Please try again in 20s.", 20.0),
        ("Please retry in 1.2s.", 1.2),
        ("Too many requests, retry after 5 seconds", 5.0),
        ("Please try again in 6ms.", 0.006),
        ("Please try again in 7m12s.", 432.0),
        ("try again in 1.5 minutes", 90.0),
        ("retry after 2 hours", 7200.0),
        ("Your quota will reset after 161h39m41s.", 581981.0),
        ("Individual quota reached. Resets in 9h22m20s.", 33740.0),
        ("exhausted; 2h21m25.83s until the window ends", 8485.83),
        ("You will regain access on 2023-11-15 at 00:00 UTC.", 6400.0),
        ("limit resets at: 2023-11-14T22:20:00+0000", 400.0),
    ],
)
def test_from_text(text: str, seconds: float) -> None:
    assert from_text(text, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "Overloaded", "model gpt-4 has 30s latency", "status 429"])
def test_from_text_without_a_reset(text: str) -> None:
    assert from_text(text, NOW) is None


@pytest.mark.parametrize(
    "body",
    [
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Please try again in 20s."}},
        {"error": {"message": "Please try again in 20s.", "type": "requests", "code": "rate_limit_exceeded"}},
        "upstream said: try again in 20s",
    ],
)
def test_text_in_the_body(body: Any) -> None:
    assert reset_after({}, body, NOW) == 20.0


def test_headers_beat_text() -> None:
    body = {"error": {"message": "Please try again in 20s."}}
    assert reset_after({"x-ratelimit-reset-tokens": "3s"}, body, NOW) == 3.0


# Bounds.


def test_nothing_said_is_none() -> None:
    assert reset_after({}, None, NOW) is None
    assert reset_after({"content-type": "application/json"}, {"error": {"message": "nope"}}, NOW) is None
    assert reset_after({"retry-after": "whenever"}, None, NOW) is None


def test_never_negative() -> None:
    assert reset_after({"retry-after": "-5"}, None, NOW) == 0.0
    assert reset_after({"retry-after": http_date(-60)}, None, NOW) == 0.0
    assert from_text("You will regain access on 2020-01-01 at 00:00 UTC.", NOW) == 0.0


def test_capped() -> None:
    assert reset_after({"retry-after": "99999999"}, None, NOW) == MAX_RESET
    assert reset_after({"retry-after": "nan"}, None, NOW) is None
