"""When does an upstream say its limit resets? Every form the providers use, in seconds from now.

`reset_after(headers, body, now)` reads headers and the error body; `from_text(text, now)` reads a
free-text message. Both return seconds (never negative, at most `MAX_RESET`) or None when the
upstream said nothing.

Which value applies, when several are given (first tier that says anything wins):

1. Explicit instructions for this failure: `retry-after-ms`, `Retry-After` (seconds or HTTP date),
   Gemini `google.rpc.RetryInfo.retryDelay`, and `quotaResetDelay` / `quotaResetTimeStamp` in
   `google.rpc.ErrorInfo.metadata`. Several of them: the longest.
2. Per-limit resets (OpenAI `x-ratelimit-reset-{requests,tokens}`, Anthropic
   `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`). Only the limits whose
   `remaining` header is 0 apply; when no remaining header says which one ran out, all do. Of those,
   the longest that is still in the future (waiting for the longest exhausted limit is the only
   wait that is sure to let the next request through).
3. The generic `x-ratelimit-reset` / `ratelimit-reset` (epoch seconds, epoch ms or seconds).
4. Text in the error body: "try again in 20s", "reset after 2h21m25.83s", "retry after 5 seconds",
   "regain access on 2026-04-01 at 00:00 UTC", then any multi-unit Go duration ("9h22m20s").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

MAX_RESET = 32 * 86400.0  # a monthly spend limit is the longest wait any provider reports
_EPOCH_SECONDS = 1e9  # numbers above this are timestamps, not durations (2001-09-09)
_EPOCH_MILLIS = 1e12

_DIGIT = re.compile(r"\d")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}
_GO_PART = r"\d+(?:\.\d+)?(?:ms|us|µs|μs|ns|h|m|s)"
_GO_DURATION = re.compile(rf"(?:{_GO_PART})+")
_GO_PARTS = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|μs|ns|h|m|s)")
_GO_MULTI = re.compile(rf"(?<![\w.])(?:{_GO_PART}){{2,}}(?!\w)")

_WORD_UNITS = {"millisecond": 1e-3, "second": 1.0, "sec": 1.0, "minute": 60.0, "min": 60.0, "hour": 3600.0, "hr": 3600.0}
_WORDS = r"milliseconds?|seconds?|secs?|minutes?|mins?|hours?|hrs?"
_CUE_DURATION = re.compile(
    rf"(?:try again|retry|retrying|resets?|wait|available again)\s+(?:in|after)\s+"
    rf"(?:(?P<go>(?:{_GO_PART})+)(?!\w)|(?P<num>\d+(?:\.\d+)?)\s*(?P<word>{_WORDS})\b)",
    re.IGNORECASE,
)
_CUE_DATE = re.compile(
    r"(?:regain access on|resets?\s+(?:at|on)|available again (?:at|on)|until)\s*:?\s*"
    r"(?P<date>\d{4}-\d{2}-\d{2})(?:(?:T|\s+at\s+|\s+)(?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?"
    r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2})?",
    re.IGNORECASE,
)

_PER_LIMIT = (  # (reset header, remaining header)
    ("x-ratelimit-reset-requests", "x-ratelimit-remaining-requests"),
    ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"),
    ("anthropic-ratelimit-requests-reset", "anthropic-ratelimit-requests-remaining"),
    ("anthropic-ratelimit-tokens-reset", "anthropic-ratelimit-tokens-remaining"),
    ("anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-input-tokens-remaining"),
    ("anthropic-ratelimit-output-tokens-reset", "anthropic-ratelimit-output-tokens-remaining"),
)
_GENERIC = ("x-ratelimit-reset", "ratelimit-reset")


def reset_after(headers: Mapping[str, str], body: Any, now: float) -> float | None:
    """Seconds until the upstream says the failed limit resets, or None if it does not say."""
    lowered = {key.lower(): value for key, value in headers.items()}
    error = error_object(body)
    for source in _SOURCES:
        found = source(lowered, error, body, now)
        if found is not None:
            return _clamp(found)
    return None


def from_text(text: str, now: float) -> float | None:
    """Seconds until the reset a free-text message mentions, or None."""
    if not text or not _DIGIT.search(text):  # every hint has a number; the cue patterns cost ~0.3 µs a character
        return None
    cued = [_cue_duration(match) for match in _CUE_DURATION.finditer(text)]
    cued += [_cue_date(match, now) for match in _CUE_DATE.finditer(text)]
    found = [value for value in cued if value is not None]
    if not found:
        loose = [parse_duration(match.group()) for match in _GO_MULTI.finditer(text)]
        found = [value for value in loose if value is not None]
    return _clamp(max(found)) if found else None


# Value parsers: each returns None for anything it does not recognise.


def parse_duration(value: str) -> float | None:
    """A Go / OpenAI style duration ("1s", "6m0s", "20ms", "2h21m25.83s") or bare seconds, in seconds."""
    text = value.strip()
    if _GO_DURATION.fullmatch(text):
        return sum(float(number) * _UNITS[unit] for number, unit in _GO_PARTS.findall(text))
    return _number(text)


def parse_timestamp(value: str) -> float | None:
    """An RFC 3339 / ISO 8601 timestamp or an HTTP date, as epoch seconds (naive means UTC)."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_when(value: str, now: float) -> float | None:
    """Seconds from now for a value that may be a duration, an epoch (s or ms) or a date."""
    number = _number(value)
    if number is not None:
        if number >= _EPOCH_MILLIS:
            return number / 1000.0 - now
        return number - now if number >= _EPOCH_SECONDS else number
    duration = parse_duration(value)
    if duration is not None:
        return duration
    moment = parse_timestamp(value)
    return None if moment is None else moment - now


def _retry_after(value: str, now: float) -> float | None:
    number = _number(value)
    if number is not None:
        return number
    moment = parse_timestamp(value)
    return None if moment is None else moment - now


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clamp(seconds: float) -> float:
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), MAX_RESET)


# Sources, in order of authority (see the module docstring).


def _explicit(headers: dict[str, str], error: dict[str, Any] | None, body: Any, now: float) -> float | None:
    found: list[float | None] = []
    if "retry-after-ms" in headers:
        millis = _number(headers["retry-after-ms"])
        found.append(None if millis is None else millis / 1000.0)
    if "retry-after" in headers:
        found.append(_retry_after(headers["retry-after"], now))
    for detail in _details(error):
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.RetryInfo"):
            found.append(_proto_duration(detail.get("retryDelay")))
        elif kind.endswith("google.rpc.ErrorInfo"):
            found.extend(_quota_reset(detail.get("metadata"), now))
    values = [value for value in found if value is not None]
    return max(values) if values else None


def _per_limit(headers: dict[str, str], error: dict[str, Any] | None, body: Any, now: float) -> float | None:
    limits: list[tuple[float, bool]] = []
    for reset_name, remaining_name in _PER_LIMIT:
        reset = _parse_when(headers[reset_name], now) if reset_name in headers else None
        if reset is not None:
            limits.append((reset, _number(headers.get(remaining_name, "")) == 0))
    if not limits:
        return None
    exhausted = [reset for reset, spent in limits if spent]
    applicable = exhausted or [reset for reset, _ in limits]
    return max(applicable)


def _generic(headers: dict[str, str], error: dict[str, Any] | None, body: Any, now: float) -> float | None:
    for name in _GENERIC:
        if name in headers:
            return _parse_when(headers[name], now)
    return None


def _textual(headers: dict[str, str], error: dict[str, Any] | None, body: Any, now: float) -> float | None:
    texts = [error.get("message")] if error else []
    if isinstance(body, str | bytes) and error is None:
        texts.append(body.decode(errors="replace") if isinstance(body, bytes) else body)
    found = [from_text(text, now) for text in texts if isinstance(text, str)]
    values = [value for value in found if value is not None]
    return max(values) if values else None


_SOURCES: tuple[Callable[[dict[str, str], dict[str, Any] | None, Any, float], float | None], ...] = (
    _explicit,
    _per_limit,
    _generic,
    _textual,
)


# Body helpers.


def error_object(body: Any) -> dict[str, Any] | None:
    """The `error` object of an Anthropic / OpenAI / Gemini error body (JSON text, list or dict)."""
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, list) and body:  # Gemini streaming and OpenAI-compatible endpoints wrap it
        body = body[0]
    if not isinstance(body, dict):
        return None
    inner = body.get("error")
    return inner if isinstance(inner, dict) else body


def _details(error: dict[str, Any] | None) -> list[dict[str, Any]]:
    details = error.get("details") if error else None
    return [item for item in details if isinstance(item, dict)] if isinstance(details, list) else []


def _proto_duration(value: Any) -> float | None:
    """A protobuf Duration in its JSON form ("1.5s") or as an object ({"seconds": 30, "nanos": 0})."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, dict):
        return float(value.get("seconds", 0) or 0) + float(value.get("nanos", 0) or 0) / 1e9
    return None


def _quota_reset(metadata: Any, now: float) -> list[float | None]:
    if not isinstance(metadata, dict):
        return []
    found: list[float | None] = []
    if isinstance(metadata.get("quotaResetDelay"), str):
        found.append(parse_duration(metadata["quotaResetDelay"]))
    if isinstance(metadata.get("quotaResetTimeStamp"), str):
        moment = parse_timestamp(metadata["quotaResetTimeStamp"])
        found.append(None if moment is None else moment - now)
    return found


def _cue_duration(match: re.Match[str]) -> float | None:
    if match.group("go"):
        return parse_duration(match.group("go"))
    return float(match.group("num")) * _WORD_UNITS[match.group("word").lower().rstrip("s")]


def _cue_date(match: re.Match[str], now: float) -> float | None:
    tz = (match.group("tz") or "UTC").upper()
    offset = "+00:00" if tz in ("Z", "UTC", "GMT") else tz
    stamp = parse_timestamp(f"{match.group('date')}T{match.group('time') or '00:00'}{offset}")
    return None if stamp is None else stamp - now
