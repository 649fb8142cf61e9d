"""Serving one client request: read its JSON body, parse it in its dialect, answer, relay the reply.

Shared by the routes of server/app.py and by the cloud-format routes (server/bedrock_inbound.py,
server/vertex_inbound.py), which speak Anthropic Messages with the model in the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from babelgate.call import Call
from babelgate.dialects.base import Dialect
from babelgate.errors import BadRequest
from babelgate.routing.counting import Count, count_input_tokens
from babelgate.server.gateway import GATEWAY
from babelgate.server.relay import ClientFraming, relay

CALL = web.RequestKey("call", Call)  # the request's way through the gateway, for the log line
RAW_BODY = web.RequestKey("raw_body", bytes)  # the client's body as read, for the request log


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    request[RAW_BODY] = raw
    if not raw:
        raise BadRequest("", "request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest("", f"request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("", "request body must be a JSON object")
    return body


async def serve(
    request: web.Request,
    dialect: Dialect,
    model: str | None = None,
    stream: bool | None = None,
    *,
    body: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    framing: ClientFraming | None = None,
) -> web.StreamResponse:
    """`body` and `headers` default to the request's own; `framing` re-frames a stream's bytes."""
    gateway = request.app[GATEWAY]
    body = await json_body(request) if body is None else body
    parsed = dialect.parse_request(body, model, stream)
    call = Call(dialect, parsed, request.headers if headers is None else headers, raw=body, hooks=gateway.addons)
    if gateway.observer.wants_bodies():
        call.transcript = bytearray()
    request[CALL] = call
    gateway.observer.begin()
    try:
        reply = await gateway.answer(call)
        return await relay(request, call, reply, gateway.addons, framing)
    finally:
        gateway.observer.end()


async def count_call(request: web.Request, call: Call) -> Count:
    """A counting request (count_tokens, countTokens, CountTokens): routed like `call` would be, and counted."""
    request[CALL] = call
    return await count_input_tokens(request.app[GATEWAY].router, call)
