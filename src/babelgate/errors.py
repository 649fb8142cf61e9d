"""One exception tree for everything the gateway answers with an error.

A `GatewayError` carries an HTTP status, a dialect-neutral `kind` and a message meant
for the user; each dialect renders it in its own wire shape (see dialects/*.render_error).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    UPSTREAM = "api_error"
    TIMEOUT = "timeout"


STATUS_KIND: dict[int, Kind] = {
    400: Kind.INVALID_REQUEST,
    401: Kind.AUTHENTICATION,
    403: Kind.PERMISSION,
    404: Kind.NOT_FOUND,
    408: Kind.TIMEOUT,
    413: Kind.TOO_LARGE,
    422: Kind.INVALID_REQUEST,
    429: Kind.RATE_LIMIT,
    503: Kind.OVERLOADED,
    529: Kind.OVERLOADED,
}


def kind_for_status(status: int) -> Kind:
    if status in STATUS_KIND:
        return STATUS_KIND[status]
    return Kind.INVALID_REQUEST if 400 <= status < 500 else Kind.UPSTREAM


class GatewayError(Exception):
    """An error answered to the client. `code` is a short machine-readable reason."""

    def __init__(
        self,
        status: int,
        kind: Kind,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.details = details or {}


class BadRequest(GatewayError):
    """The client's body is malformed; `path` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        text = f"{path}: {message}" if path else message
        super().__init__(400, Kind.INVALID_REQUEST, text, code="invalid_request")
        self.path = path


class UpstreamError(GatewayError):
    """An upstream answered with an error status (or could not be reached: status 0)."""

    def __init__(
        self,
        provider: str,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        client_status = status if status else 502
        kind = kind_for_status(status) if status else Kind.UPSTREAM
        if status >= 500 and status not in (503, 529):
            client_status = 502
        super().__init__(client_status, kind, message, code="upstream_error")
        self.provider = provider
        self.upstream_status = status
        self.upstream_headers = headers or {}
        self.body = body


_OVERFLOW = (
    # OpenAI and most compatible servers
    re.compile(r"maximum context length is (?P<max>\d+) tokens.*?(?:requested|resulted in|you requested) (?P<got>\d+)", re.I | re.S),
    # Gemini
    re.compile(r"input token count \(?(?P<got>\d+)\)? exceeds the maximum number of tokens allowed \(?(?P<max>\d+)", re.I),
    # Anthropic, and gateways that already speak its phrase
    re.compile(r"prompt is too long: (?P<got>\d+) tokens > (?P<max>\d+) maximum", re.I),
)
_OVERFLOW_WORDS = re.compile(r"context_length_exceeded|context length|context window|prompt is too long|too many tokens", re.I)


def context_overflow(message: str) -> str | None:
    """Anthropic's phrase for a prompt over the model's window, if `message` says so in any dialect.

    Claude Code compacts the conversation when it reads "prompt is too long"; other clients get
    the same plain statement.
    """
    for pattern in _OVERFLOW:
        match = pattern.search(message)
        if match:
            return f"prompt is too long: {match['got']} tokens > {match['max']} maximum"
    if _OVERFLOW_WORDS.search(message):
        return "prompt is too long for this model's context window"
    return None
