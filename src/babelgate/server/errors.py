"""Answering errors in the caller's own dialect, whatever went wrong, with the headers that end retry storms.

Claude Code's gateway contract (its Errors table) decides the headers: `x-should-retry: false`
on 401 and 501, so the client shows the message at once instead of backing off for minutes;
`Retry-After` on every 429. On the Messages API a model the gateway does not serve is
`400 invalid_request_error` (its "Available: …" list kept) and an upstream at capacity is `529`.
"""

from __future__ import annotations

import logging
import math

import orjson
from aiohttp import web

from babelgate.dialects.base import Dialect
from babelgate.errors import GatewayError, Kind, UpstreamError
from babelgate.providers.classify import Reason

log = logging.getLogger("babelgate.server")
NO_RETRY_STATUSES = (401, 501)
DEFAULT_RETRY_AFTER = 30  # seconds, for a 429 whose upstream said nothing of when


def error_response(dialect: Dialect, error: GatewayError, request_id: str = "") -> web.Response:
    body = dialect.render_error(error)
    if request_id and dialect.name == "anthropic":
        body["request_id"] = request_id  # where Anthropic's own errors carry it; the other formats have it in x-request-id only
    return web.Response(
        status=error.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=retry_headers(error),
    )


def retry_headers(error: GatewayError) -> dict[str, str]:
    headers = dict(error.headers)
    if error.status in NO_RETRY_STATUSES:
        headers.setdefault("x-should-retry", "false")
    if error.status == 429 and not any(name.lower() == "retry-after" for name in headers):
        headers["Retry-After"] = str(_retry_after(error))
    return headers


def _retry_after(error: GatewayError) -> int:
    if isinstance(error, UpstreamError):
        given = {k.lower(): v for k, v in error.upstream_headers.items()}.get("retry-after", "")
        if given.isdigit():
            return int(given)
        if error.failure.reset_after is not None:
            return max(1, math.ceil(error.failure.reset_after))
    return DEFAULT_RETRY_AFTER


def as_messages_api(error: GatewayError) -> GatewayError:
    """The statuses Claude Code's contract asks of `/v1/messages`: an unknown model 400, capacity 529."""
    if error.code == "model_not_found" and not isinstance(error, UpstreamError):
        error.status, error.kind = 400, Kind.INVALID_REQUEST
    elif isinstance(error, UpstreamError) and error.failure.reason is Reason.CAPACITY and error.status in (502, 503):
        error.status, error.kind = 529, Kind.OVERLOADED
    return error


def internal_error(request: web.Request, exc: BaseException) -> GatewayError:
    """A bug of ours: logged with its traceback, answered without one."""
    log.exception("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    return GatewayError(500, Kind.UPSTREAM, f"babelgate hit an internal error ({type(exc).__name__}); see the gateway log")
