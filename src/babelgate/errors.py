"""One exception tree for everything the gateway answers with an error.

A `GatewayError` carries an HTTP status, a dialect-neutral `kind` and a message meant
for the user; each dialect renders it in its own wire shape (see dialects/*.render_error).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelgate.providers.classify import Failure


class Kind(StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    BILLING = "billing_error"  # a spend cap reached (server/limits.py)
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
    """An upstream answered with an error status (or could not be reached: status 0).

    `failure` is what the failure means for the credential (providers/classify.py), read by the
    attempt loop to cool the credential down and decide whether to fail over. `own_cap`: the request
    never left, every one of the provider's `max_connections` being busy (the upstream is not to blame)."""

    def __init__(
        self,
        provider: str,
        status: int,
        message: str,
        *,
        failure: Failure,
        headers: dict[str, str] | None = None,
        body: Any = None,
        own_cap: bool = False,
    ) -> None:
        client_status = status if status else 502
        kind = kind_for_status(status) if status else Kind.UPSTREAM
        if status >= 500 and status not in (503, 529):
            client_status = 502
        # The upstream's message reaches the client as it was written (clients match phrases in it);
        # which provider said it is a field of its own.
        super().__init__(client_status, kind, message, code="upstream_error", details={"provider": provider})
        self.provider = provider
        self.upstream_status = status
        self.upstream_headers = headers or {}
        self.body = body
        self.failure = failure
        self.own_cap = own_cap
