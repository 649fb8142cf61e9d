"""Answering errors in the caller's own dialect, whatever went wrong."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from babelgate.dialects.base import Dialect
from babelgate.errors import GatewayError, Kind

log = logging.getLogger("babelgate.server")


def error_response(dialect: Dialect, error: GatewayError, request_id: str = "") -> web.Response:
    headers = dict(error.headers)
    body = dialect.render_error(error)
    if request_id and dialect.name == "anthropic":
        body["request_id"] = request_id  # where Anthropic's own errors carry it; the other formats have it in x-request-id only
    return web.Response(
        status=error.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def internal_error(request: web.Request, exc: BaseException) -> GatewayError:
    """A bug of ours: logged with its traceback, answered without one."""
    log.exception("unexpected error on %s %s", request.method, request.path, exc_info=exc)
    return GatewayError(500, Kind.UPSTREAM, f"babelgate hit an internal error ({type(exc).__name__}); see the gateway log")
