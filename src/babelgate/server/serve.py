"""Serving one client request: read its JSON body, parse it in its dialect, answer, relay the reply.

Shared by the routes of server/app.py and by the cloud-format routes (server/bedrock_inbound.py,
server/vertex_inbound.py), which speak Anthropic Messages with the model in the URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from babelgate.call import Call
from babelgate.dialects import validate
from babelgate.dialects.base import Dialect
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.routing.counting import Count, count_input_tokens
from babelgate.server.client_keys import check_model
from babelgate.server.gateway import GATEWAY
from babelgate.server.relay import ClientFraming, relay

CALL = web.RequestKey("call", Call)  # the request's way through the gateway, for the log line
RAW_BODY = web.RequestKey("raw_body", bytes)  # the client's body as read, for the request log
MAX_DEPTH = 200  # JSON nesting levels a request body may have
ORJSON_DEPTH = 254  # the most orjson serialises


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, read within `server.client_timeouts.body` seconds."""
    limit = request.app[GATEWAY].config.server.client_timeouts.body
    try:
        if request.content.is_eof():  # the whole body came with the head (most requests): nothing to time
            raw = await request.read()
        else:
            async with asyncio.timeout(limit):
                raw = await request.read()
    except TimeoutError:
        message = f"the request body was not received within {limit:g} s (server.client_timeouts.body)"
        raise GatewayError(408, Kind.TIMEOUT, message) from None
    except HttpProcessingError as error:  # broken chunking, a body shorter than its Content-Length
        raise BadRequest("", f"the request body is malformed: {error.message}") from None
    request[RAW_BODY] = raw
    if not raw:
        raise BadRequest("", "request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            raise BadRequest("", f"request body nests deeper than {MAX_DEPTH} levels, babelgate's limit") from None
        raise BadRequest("", f"request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("", "request body must be a JSON object")
    if raw.count(b"{") + raw.count(b"[") >= MAX_DEPTH:  # fewer brackets than that cannot nest that deep
        check_depth(body)
    return body


def check_depth(body: dict[str, Any]) -> None:
    """A body nested deeper than MAX_DEPTH is refused: what is sent upstream wraps it in a few more
    levels, and orjson writes at most 254. orjson itself measures (fast); the path is found only for the error."""
    wrapped: Any = body
    for _ in range(ORJSON_DEPTH - MAX_DEPTH):
        wrapped = [wrapped]
    try:
        orjson.dumps(wrapped)
    except TypeError:
        raise BadRequest(deepest_path(body), f"nests deeper than {MAX_DEPTH} levels, babelgate's limit for a request body") from None


def deepest_path(value: Any) -> str:
    """The path to the first point deeper than MAX_DEPTH, shortened for a message."""
    stack: list[tuple[Any, list[str]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            return ".".join(path[:6]) + f". … ({len(path)} levels)"
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        stack.extend((child, [*path, str(key)]) for key, child in children if isinstance(child, (dict, list)))
    return ""


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
    validate.check(dialect.name, body, parsed)
    check_model(request, parsed.model)  # a client key's allowed models (server/client_keys.py)
    generation = gateway.current  # held to the last byte: a config reload never changes a request in flight
    call = Call(dialect, parsed, request.headers if headers is None else headers, raw=body, hooks=generation.addons)
    if gateway.observer.wants_bodies():
        call.transcript = bytearray()
    request[CALL] = call
    gateway.observer.begin()
    generation.enter()
    try:
        reply = await generation.answer(call)
        return await relay(request, call, reply, generation.addons, framing)
    finally:
        generation.leave()
        gateway.observer.end()


async def count_call(request: web.Request, call: Call) -> Count:
    """A counting request (count_tokens, countTokens, CountTokens): routed like `call` would be, and counted."""
    request[CALL] = call
    return await count_input_tokens(request.app[GATEWAY].router, call)
