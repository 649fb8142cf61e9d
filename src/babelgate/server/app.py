"""The aiohttp application: routes, client authentication, errors in each caller's dialect."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from babelgate import __version__, redact, tokens
from babelgate.call import Call
from babelgate.config import Config
from babelgate.dialects import anthropic, openai_chat
from babelgate.dialects.base import Dialect
from babelgate.errors import GatewayError, Kind
from babelgate.server import azure_inbound, bedrock_inbound, vertex_inbound
from babelgate.server.admin import account_limits_handler
from babelgate.server.errors import error_response, internal_error
from babelgate.server.gateway import GATEWAY, Gateway
from babelgate.server.serve import CALL, json_body, serve

log = logging.getLogger("babelgate.server")
ADMIN_PATHS = ("/account-limits",)
# How the server runs its handlers: a client that disconnects cancels its handler, and with it
# the upstream request (no tokens generated for nobody). One line per request is logged by `guard`.
RUNNER_OPTIONS: dict[str, Any] = {"handler_cancellation": True, "access_log": None}
# Connections waiting to be accepted. aiohttp's default (128) overflows under a burst of clients, and
# on Linux an overflowing connection is not refused: it stalls in retransmits for seconds to minutes.
ACCEPT_BACKLOG = 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _gemini() -> Dialect:
    from babelgate.dialects import gemini

    return gemini


def _responses() -> Dialect:
    from babelgate.dialects import openai_responses

    return openai_responses


def dialect_for_path(path: str) -> Dialect:
    if azure_inbound.owns(path):
        return _responses() if path.endswith("/responses") else openai_chat
    if path.startswith("/v1/chat/completions"):
        return openai_chat
    if path.startswith("/v1/responses"):
        return _responses()
    if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
        return _gemini()
    return anthropic


def error_writer(path: str) -> Callable[[GatewayError], web.Response]:
    """How errors are answered on `path`: Bedrock's own shape on its routes, else the path's dialect."""
    if bedrock_inbound.owns(path):
        return bedrock_inbound.error_response
    dialect = dialect_for_path(path)
    return lambda error: error_response(dialect, error)


def _client_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    headers = request.headers
    return headers.get("x-api-key") or headers.get("api-key") or headers.get("x-goog-api-key") or request.query.get("key")


def _authorized(request: web.Request, keys: list[str]) -> bool:
    given = _client_key(request)
    return given is not None and any(hmac.compare_digest(given.encode(), k.encode()) for k in keys)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, log one line, and turn every failure into a 4xx/5xx in the caller's dialect."""
    started = time.perf_counter()
    server = request.app[GATEWAY].config.server
    keys = [server.admin_key] if server.admin_key and request.path.startswith(ADMIN_PATHS) else server.api_keys
    try:
        if keys and request.path not in ("/health", "/") and not _authorized(request, keys):
            raise GatewayError(401, Kind.AUTHENTICATION, "missing or invalid API key for this gateway (server.api_keys / server.admin_key)")
        response = await handler(request)
    except GatewayError as error:
        error.message = redact.REDACTOR(error.message)  # an upstream may echo a key, an address its credentials
        response = error_writer(request.path)(error)
    except web.HTTPRequestEntityTooLarge as error:
        response = error_writer(request.path)(GatewayError(413, Kind.TOO_LARGE, f"request body is too large: {error.text}"))
    except web.HTTPException as error:
        kind = Kind.INVALID_REQUEST if error.status < 500 else Kind.UPSTREAM
        response = error_writer(request.path)(GatewayError(error.status, kind, error.reason))
    except Exception as exc:  # a bug of ours: never a traceback to the client
        response = error_writer(request.path)(internal_error(request, exc))
    if response.status == 408:  # the client's body is still unread: this connection is done
        response.force_close()
    elapsed = (time.perf_counter() - started) * 1000
    log.info("%s %s %s %.1fms %s", request.method, request.path, response.status, elapsed, _route(request.get(CALL)))
    return response


def _route(call: Call | None) -> str:
    """Which target and credential served the request (or failed last), for the log line."""
    if call is None:
        return ""
    attempt = call.served or (call.failures[-1][0] if call.failures else None)
    return "" if attempt is None else f"{call.request.model} -> {attempt.target} ({attempt.credential.id})"


async def messages(request: web.Request) -> web.StreamResponse:
    return await serve(request, anthropic)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    parsed = anthropic.parse_request(await json_body(request))
    request.app[GATEWAY].router.resolver.resolve(parsed.model)
    return web.json_response({"input_tokens": tokens.estimate(parsed)}, dumps=_dumps)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await serve(request, openai_chat)


async def responses(request: web.Request) -> web.StreamResponse:
    return await serve(request, _responses())


async def gemini_action(request: web.Request) -> web.StreamResponse:
    model, _, action = request.match_info["target"].rpartition(":")
    model = model.removeprefix("models/")
    if action == "countTokens":
        body = await json_body(request)
        inner = body.get("generateContentRequest")  # countTokens may wrap a whole request
        parsed = _gemini().parse_request(inner if isinstance(inner, dict) else body, model, False)
        return web.json_response({"totalTokens": tokens.estimate(parsed)}, dumps=_dumps)
    if action not in ("generateContent", "streamGenerateContent"):
        raise GatewayError(
            404, Kind.NOT_FOUND, f"unknown method {action!r}; expected generateContent, streamGenerateContent or countTokens"
        )
    return await serve(request, _gemini(), model, action == "streamGenerateContent")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def list_models(request: web.Request) -> web.StreamResponse:
    names = request.app[GATEWAY].router.resolver.listing()
    if "anthropic-version" in request.headers or "authorization" not in request.headers:
        data = [{"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"} for n in names]
        body = {"data": data, "has_more": False, "first_id": names[0] if names else None, "last_id": names[-1] if names else None}
        return web.json_response(body, dumps=_dumps)
    owned = [{"id": n, "object": "model", "created": 0, "owned_by": n.split("/")[0] if "/" in n else "babelgate"} for n in names]
    return web.json_response({"object": "list", "data": owned}, dumps=_dumps)


async def list_gemini_models(request: web.Request) -> web.StreamResponse:
    names = request.app[GATEWAY].router.resolver.listing()
    methods = ["generateContent", "streamGenerateContent", "countTokens"]
    models = [{"name": f"models/{n}", "displayName": n, "supportedGenerationMethods": methods} for n in names]
    return web.json_response({"models": models}, dumps=_dumps)


async def health(request: web.Request) -> web.StreamResponse:
    """Liveness for anyone; the version and the providers only for the admin key (`server.admin_key`)."""
    gateway = request.app[GATEWAY]
    admin_key = gateway.config.server.admin_key
    if not admin_key or not _authorized(request, [admin_key]):
        return web.json_response({"status": "ok"}, dumps=_dumps)
    providers = [upstream.describe() for upstream in gateway.upstreams.values()]
    for provider in providers:
        if isinstance(provider.get("base_url"), str):
            provider["base_url"] = redact.url(provider["base_url"])
    body = {"status": "ok", "version": __version__, "providers": providers}
    return web.Response(text=redact.REDACTOR(_dumps(body)), content_type="application/json")


async def _learn_secrets(app: web.Application) -> None:
    """The config's secrets and every pool's keys (the store's too, loaded by now) join the redactor."""
    gateway = app[GATEWAY]
    redact.REDACTOR.add(redact.config_secrets(gateway.config))
    redact.REDACTOR.add(c.key for upstream in gateway.upstreams.values() for c in upstream.credentials)


async def root(request: web.Request) -> web.StreamResponse:
    return web.json_response({"name": "babelgate", "version": __version__}, dumps=_dumps)


async def not_found(request: web.Request) -> web.StreamResponse:
    log.warning("no route for %s %s", request.method, request.path)
    raise GatewayError(404, Kind.NOT_FOUND, f"no route for {request.method} {request.path}")


def build_app(config: Config, gateway: Gateway | None = None) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=int(config.server.max_body_mb * 1024 * 1024))
    app[GATEWAY] = gateway or Gateway(config)
    app.on_startup.append(lambda a: a[GATEWAY].start())
    app.on_startup.append(_learn_secrets)
    app.on_cleanup.append(lambda a: a[GATEWAY].stop())
    router = app.router
    router.add_post("/v1/messages", messages)
    router.add_post("/v1/messages/count_tokens", count_tokens)
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_post("/v1/responses", responses)
    router.add_post("/v1beta/models/{target:.+}", gemini_action)
    router.add_post("/v1/models/{target:.+}", gemini_action)
    router.add_get("/v1beta/models", list_gemini_models)
    router.add_get("/v1/models", list_models)
    router.add_get("/health", health)
    router.add_get("/", root)
    router.add_get("/account-limits", account_limits_handler)
    bedrock_inbound.add_routes(router)
    vertex_inbound.add_routes(router)
    azure_inbound.add_routes(router)
    router.add_route("*", "/{tail:.*}", not_found)
    return app
