"""What an upstream failure means for the credential that met it.

`classify(status, headers, body, message)` reads the status, the error body of any of the three
big formats and the message, and answers a `Failure`: why it failed, when the upstream says the
limit resets, whether the limit covers the whole account (all models of the credential) and
whether another credential or a later retry may succeed.

The formats it knows (from the providers' API references):

- Anthropic `{"type": "error", "error": {"type": "rate_limit_error", "message": ...}}`, types
  authentication_error (401), permission_error (403), not_found_error (404), billing_error (402),
  rate_limit_error (429), api_error (500), overloaded_error (529); spend limits and an empty
  credit balance come back as 400 invalid_request_error with a billing message.
- OpenAI `{"error": {"message", "type", "param", "code"}}`, codes invalid_api_key,
  insufficient_quota, rate_limit_exceeded, model_not_found.
- Gemini `{"error": {"code", "message", "status", "details": [...]}}`, statuses UNAUTHENTICATED,
  PERMISSION_DENIED, NOT_FOUND, RESOURCE_EXHAUSTED, UNAVAILABLE, with `google.rpc.QuotaFailure`
  violations (`quotaId` such as GenerateRequestsPerDayPerProjectPerModel-FreeTier,
  `quotaDimensions` with or without a `model`) and `google.rpc.ErrorInfo` reasons
  (API_KEY_INVALID, QUOTA_EXHAUSTED, RATE_LIMIT_EXCEEDED, MODEL_CAPACITY_EXHAUSTED).
- Vertex AI, in the same Google shape: a 429 "Resource exhausted, please try again later." is
  the shared pay-as-you-go pool running dry (capacity); "Quota exceeded for
  aiplatform.googleapis.com/<metric> with base model: <m>" is a per-minute quota of that model
  unless the metric is daily; 400 FAILED_PRECONDITION "Project ... is not allowed to use
  Publisher Model ..." means the model is not enabled for the project.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from babelgate.providers import resets


class Reason(StrEnum):
    """Why a credential failed. The value doubles as the status shown to users."""

    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    CAPACITY = "capacity"
    AUTH = "auth_invalid"
    PERMISSION = "permission_denied"
    MODEL_NOT_FOUND = "model_not_found"
    BAD_REQUEST = "bad_request"
    SERVER = "server_error"
    NETWORK = "network_error"
    UNSTABLE = "unstable"  # failures, timeouts or broken streams in a row: benched (routing/cooldown.py)


@dataclass(frozen=True, slots=True)
class Failure:
    reason: Reason
    reset_after: float | None = None  # seconds from the failure, when the upstream said
    account_wide: bool = False  # the limit covers every model of the credential
    retryable: bool = True  # another credential or a later retry may succeed
    status: int = 0  # the upstream HTTP status (0 = unreachable), kept for reporting


_AUTH_CODES = frozenset({"authentication_error", "invalid_api_key", "unauthenticated", "api_key_invalid", "invalid_authentication"})
_PERMISSION_CODES = frozenset({"permission_error", "permission_denied"})
_BILLING_CODES = frozenset({"insufficient_quota", "billing_error", "billing_hard_limit_reached", "billing_not_active"})
_QUOTA_CODES = frozenset({"quota_exhausted"})  # Gemini / Cloud Code ErrorInfo reason
_CAPACITY_CODES = frozenset({"overloaded_error", "unavailable", "model_capacity_exhausted", "server_overloaded"})
_MODEL_CODES = frozenset({"model_not_found"})

_AUTH_TEXT = re.compile(r"invalid (?:x-)?api[ -]?key|incorrect api key|api key not valid|api key (?:has )?expired", re.I)
_BILLING_TEXT = re.compile(
    r"insufficient_quota|billing|credit balance|spend(?:ing)? limit|specified api usage limits|payment required", re.I
)
_QUOTA_TEXT = re.compile(r"exceeded your current quota|quota (?:exceeded|exhausted|reached|will reset)|out of quota|usage limit", re.I)
_SHORT_WINDOW_TEXT = re.compile(r"per[ _-]?(?:min(?:ute)?|second)(?![a-z])|\b[rt]pm\b", re.I)
_CAPACITY_TEXT = re.compile(r"overloaded|capacity|resource exhausted[,.]? please try again later", re.I)
_MODEL_TEXT = re.compile(
    r"model[_ ]not[_ ]found|model\b.*\b(?:does not exist|not found)|not found for api version|not allowed to use publisher model", re.I
)
_VERTEX_METRIC = re.compile(r"aiplatform\.googleapis\.com/(\w+)", re.I)  # Vertex names the quota it hit
_ACCOUNT_TEXT = re.compile(r"\b(?:organi[sz]ation|account|project)(?:'s)?\b", re.I)
_OPENAI_MODEL_LIMIT = re.compile(r"rate limit reached for (?!requests\b|tokens\b)\S+ in (?:organization|project)", re.I)
_DAILY_QUOTA = re.compile(r"per[_ ]?day|daily|per[_ ]?month|monthly|spend", re.I)
_SCOPE_HEADERS = ("x-ratelimit-scope", "ratelimit-scope")


@dataclass(frozen=True, slots=True)
class _Signals:
    """Everything `classify` looks at, read once from the raw failure."""

    status: int
    codes: frozenset[str]  # error type / code / status / ErrorInfo reasons, lower-case
    text: str  # the message and the body's own message
    quota_ids: tuple[str, ...]  # Gemini QuotaFailure quotaId / quotaMetric values
    model_dimension: bool | None  # Gemini: does the quota name a model? None when it does not say
    scope_header: str | None


def classify(status: int, headers: Mapping[str, str], body: Any, message: str, *, now: float | None = None) -> Failure:
    """Classify one upstream failure (status 0 = the connection failed or timed out)."""
    signals = _read(status, headers, body, message)
    reason = _reason(signals)
    at = time.time() if now is None else now
    reset = resets.reset_after(headers, body, at)
    if reset is None:
        reset = resets.from_text(message, at)
    return Failure(reason, reset, _account_wide(reason, signals), reason is not Reason.BAD_REQUEST, status)


def _reason(s: _Signals) -> Reason:
    if s.status == 0 or s.status == 408:
        return Reason.NETWORK
    if s.status == 401 or s.codes & _AUTH_CODES or _AUTH_TEXT.search(s.text):
        return Reason.AUTH
    if s.status == 403 or s.codes & _PERMISSION_CODES:
        return Reason.PERMISSION
    quota = _quota_reason(s)
    if quota is not None:
        return quota
    if s.status in (503, 529) or s.codes & _CAPACITY_CODES or ((s.status == 429 or s.status >= 500) and _CAPACITY_TEXT.search(s.text)):
        return Reason.CAPACITY
    if s.status == 429:
        return Reason.RATE_LIMIT
    if s.status == 404 or s.codes & _MODEL_CODES or (s.status == 400 and _MODEL_TEXT.search(s.text)):
        return Reason.MODEL_NOT_FOUND
    if 400 <= s.status < 500:
        return Reason.BAD_REQUEST
    return Reason.SERVER


def _quota_reason(s: _Signals) -> Reason | None:
    """QUOTA for money or a long-window quota, RATE_LIMIT for a short-window one, None otherwise."""
    if s.status == 402 or s.codes & (_BILLING_CODES | _QUOTA_CODES):
        return Reason.QUOTA
    if s.status not in (400, 429):
        return None
    if s.quota_ids and s.status == 429:  # Gemini says "exceeded your current quota" for per-minute limits too
        return Reason.QUOTA if any(_DAILY_QUOTA.search(quota_id) for quota_id in s.quota_ids) else Reason.RATE_LIMIT
    if _BILLING_TEXT.search(s.text):
        return Reason.QUOTA
    if s.status == 429 and _QUOTA_TEXT.search(s.text):
        metric = _VERTEX_METRIC.search(s.text)
        if metric is not None:  # Vertex's generative AI quotas are per minute unless the metric says otherwise
            return Reason.QUOTA if _DAILY_QUOTA.search(metric.group(1)) else Reason.RATE_LIMIT
        return Reason.RATE_LIMIT if _SHORT_WINDOW_TEXT.search(s.text) else Reason.QUOTA
    return None


def _account_wide(reason: Reason, s: _Signals) -> bool:
    """Does the limit cover every model of the credential? Most specific evidence first."""
    if reason in (Reason.AUTH, Reason.PERMISSION):
        return True
    if reason not in (Reason.QUOTA, Reason.RATE_LIMIT):
        return False
    if s.scope_header is not None:
        return s.scope_header not in ("model", "per-model")
    if s.model_dimension is not None:
        return not s.model_dimension
    if s.status == 402 or s.codes & _BILLING_CODES or _BILLING_TEXT.search(s.text):
        return True
    if _OPENAI_MODEL_LIMIT.search(s.text):  # "Rate limit reached for gpt-4o in organization org-x ..."
        return False
    return bool(_ACCOUNT_TEXT.search(s.text))


# Reading the raw failure.


def _read(status: int, headers: Mapping[str, str], body: Any, message: str) -> _Signals:
    error = resets.error_object(body) or {}
    codes = {value.lower() for key in ("type", "code", "status") if isinstance(value := error.get(key), str)}
    quota_ids: list[str] = []
    model_dimension: bool | None = None
    for detail in _details(error):
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.ErrorInfo"):
            if isinstance(detail.get("reason"), str):
                codes.add(detail["reason"].lower())
            metadata = detail.get("metadata")
            if isinstance(metadata, dict) and "model" in metadata:
                model_dimension = True
        elif kind.endswith("google.rpc.QuotaFailure"):
            ids, named = _violations(detail.get("violations"))
            quota_ids += ids
            model_dimension = bool(model_dimension) or named
    body_message = error.get("message")
    text = f"{message}\n{body_message}" if isinstance(body_message, str) and body_message not in message else message
    scope = next((value.strip().lower() for key, value in headers.items() if key.lower() in _SCOPE_HEADERS), None)
    return _Signals(status, frozenset(codes), text, tuple(quota_ids), model_dimension, scope)


def _details(error: dict[str, Any]) -> list[dict[str, Any]]:
    details = error.get("details")
    return [item for item in details if isinstance(item, dict)] if isinstance(details, list) else []


def _violations(violations: Any) -> tuple[list[str], bool]:
    """Quota ids of Gemini QuotaFailure violations, and whether any of them is per model."""
    ids: list[str] = []
    per_model = False
    for violation in violations if isinstance(violations, list) else []:
        if not isinstance(violation, dict):
            continue
        quota_id = " ".join(str(violation.get(key, "")) for key in ("quotaId", "quotaMetric", "subject", "description"))
        ids.append(quota_id)
        dimensions = violation.get("quotaDimensions")
        per_model = per_model or (isinstance(dimensions, dict) and "model" in dimensions) or "permodel" in quota_id.lower()
    return ids, per_model
