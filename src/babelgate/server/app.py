"""The aiohttp application: routes, client authentication, errors in each caller's dialect."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from babelgate import __version__, redact
from babelgate.call import Call
from babelgate.config import Config
from babelgate.dialects import anthropic, openai_chat
from babelgate.dialects.base import Dialect
from babelgate.errors import GatewayError, Kind
from babelgate.observe.records import RequestRecord, record_of, request_id, route_header
from babelgate.server import azure_inbound, bedrock_inbound, client_keys, models, observe_routes, vertex_inbound
from babelgate.server.admin import account_limits_handler, store_health
from babelgate.server.errors import as_messages_api, error_response, internal_error
from babelgate.server.gateway import GATEWAY, Gateway
from babelgate.server.serve import CALL, RAW_BODY, count_call, json_body, serve

log = logging.getLogger("babelgate.server")
ADMIN_PATHS = ("/account-limits", "/admin/", "/metrics")
OPEN_PATHS = ("/health", "/", *observe_routes.OPEN_PATHS)  # the dashboard's page and assets: its data needs the admin key
REQUEST_ID = web.RequestKey("request_id", str)
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


def error_writer(path: str, rid: str = "") -> Callable[[GatewayError], web.Response]:
    """How errors are answered on `path`: Bedrock's own shape on its routes, else the path's dialect
    (with the request id in the body)."""
    if bedrock_inbound.owns(path):
        return bedrock_inbound.error_response
    dialect = dialect_for_path(path)
    if path.startswith("/v1/messages"):
        return lambda error: error_response(dialect, as_messages_api(error), rid)
    return lambda error: error_response(dialect, error, rid)


def _client_key(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    headers = request.headers
    return headers.get("x-api-key") or headers.get("api-key") or headers.get("x-goog-api-key") or request.query.get("key")


def _key_problem(request: web.Request) -> str:
    """What is wrong with the client's key, and what to do (the key itself is never repeated)."""
    said = "none was sent" if _client_key(request) is None else "the key sent is not one of this gateway's"
    return (
        f"missing or invalid API key for this gateway ({said}): use a key from server.api_keys (server.admin_key "
        "for admin paths); Claude Code takes it in ANTHROPIC_AUTH_TOKEN or ANTHROPIC_API_KEY"
    )


def _authorized(request: web.Request, keys: list[str]) -> bool:
    given = _client_key(request)
    return given is not None and any(hmac.compare_digest(given.encode(), k.encode()) for k in keys)


def _keys_for(path: str, config: Config) -> list[str]:
    """The keys that open `path`: the admin key for admin paths (or the metrics token for /metrics), else the client keys."""
    server = config.server
    if server.admin_key and path.startswith(ADMIN_PATHS):
        return [server.admin_key, *([server.metrics_token] if server.metrics_token and path == "/metrics" else [])]
    return [entry.key for entry in server.api_keys]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, log one line, record the request, and turn every failure into a 4xx/5xx in the caller's dialect."""
    started = time.perf_counter()
    gateway = request.app[GATEWAY]
    rid = request[REQUEST_ID] = request_id(request.headers.get("x-request-id"))
    keys = _keys_for(request.path, gateway.config)
    failed: GatewayError | None = None
    try:
        if keys and request.path not in OPEN_PATHS and not _authorized(request, keys):
            raise GatewayError(401, Kind.AUTHENTICATION, _key_problem(request))
        await client_keys.admit(request, _client_key(request))  # who the key is; over its limits: a 429
        response = await handler(request)
    except GatewayError as error:
        error.message = redact.REDACTOR(error.message)  # an upstream may echo a key, an address its credentials
        failed = error
    except web.HTTPRequestEntityTooLarge as error:
        failed = GatewayError(413, Kind.TOO_LARGE, f"request body is too large: {error.text}")
    except web.HTTPException as error:
        failed = GatewayError(error.status, Kind.INVALID_REQUEST if error.status < 500 else Kind.UPSTREAM, error.reason)
    except Exception as exc:  # a bug of ours: never a traceback to the client
        failed = internal_error(request, exc)
    if failed is not None:
        response = error_writer(request.path, rid)(failed)
    if response.status == 408:  # the client's body is still unread: this connection is done
        response.force_close()
    call = request.get(CALL)
    elapsed = (time.perf_counter() - started) * 1000
    why = f" ({failed.message[:300]})" if failed is not None else ""
    log.info("%s %s %s %.1fms %s%s [%s]", request.method, request.path, response.status, elapsed, _route(call), why, rid)
    if call is not None or (failed is not None and request.method == "POST"):  # API traffic, not the admin pages
        await client_keys.settle(request, _record(request, response, started, call, failed))
    return response


def _record(
    request: web.Request, response: web.StreamResponse, started: float, call: Call | None, failed: GatewayError | None
) -> RequestRecord:
    observer = request.app[GATEWAY].observer
    record = record_of(request[REQUEST_ID], request.method, request.path, response.status, started, call, failed.message if failed else "")
    record.client = client_keys.client_name(request)
    sent: bytes | None = None
    if observer.wants_bodies():
        sent = bytes(call.transcript) if call is not None and call.transcript else getattr(response, "body", None)
    observer.finish(record, failed.kind.value if failed else "", request.get(RAW_BODY), sent if isinstance(sent, bytes) else None)
    return record


async def _tag_response(request: web.Request, response: web.StreamResponse) -> None:
    """Every response says its request id, and which route served it (`x-babelgate-route`)."""
    rid = request.get(REQUEST_ID)
    if rid:
        response.headers["x-request-id"] = rid
    call = request.get(CALL)
    route = route_header(call) if call is not None else None
    if route:
        response.headers["x-babelgate-route"] = route


def _route(call: Call | None) -> str:
    """Which target and credential served the request (or failed last), for the log line."""
    if call is None:
        return ""
    if call.answered_by:
        return f"{call.request.model} -> answered by the {call.answered_by} addon (no upstream call)"
    attempt = call.served or (call.failures[-1][0] if call.failures else None)
    scenario = f" [{call.notes['routing.scenario']}]" if "routing.scenario" in call.notes else ""  # routing/scenarios.py
    return "" if attempt is None else f"{call.request.model}{scenario} -> {attempt.target} ({attempt.credential.id})"


async def messages(request: web.Request) -> web.StreamResponse:
    return await serve(request, anthropic)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """Anthropic's count_tokens, routed like a request: the upstream's own count, else an offline one (routing/counting.py)."""
    body = await json_body(request)
    counted = await count_call(request, Call(anthropic, anthropic.parse_request(body), request.headers, raw=body))
    return web.json_response({"input_tokens": counted.tokens}, dumps=_dumps)


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
        counted_body = inner if isinstance(inner, dict) else body
        call = Call(_gemini(), _gemini().parse_request(counted_body, model, False), request.headers, raw=counted_body)
        counted = await count_call(request, call)
        return web.json_response({"totalTokens": counted.tokens}, dumps=_dumps)
    if action not in ("generateContent", "streamGenerateContent"):
        raise GatewayError(
            404, Kind.NOT_FOUND, f"unknown method {action!r}; expected generateContent, streamGenerateContent or countTokens"
        )
    return await serve(request, _gemini(), model, action == "streamGenerateContent")


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def list_gemini_models(request: web.Request) -> web.StreamResponse:
    names = request.app[GATEWAY].router.resolver.listing()
    methods = ["generateContent", "streamGenerateContent", "countTokens"]
    models = [{"name": f"models/{n}", "displayName": n, "supportedGenerationMethods": methods} for n in names]
    return web.json_response({"models": models}, dumps=_dumps)


async def health(request: web.Request) -> web.StreamResponse:
    """Liveness for anyone ("ok", or "degraded" while a shared store is down: still serving on local state,
    so still 200); the version, the store and the providers only for the admin key (`server.admin_key`)."""
    gateway = request.app[GATEWAY]
    store = store_health(gateway)
    status = "ok" if store["state"] == "up" else "degraded"
    admin_key = gateway.config.server.admin_key
    if not admin_key or not _authorized(request, [admin_key]):
        return web.json_response({"status": status}, dumps=_dumps)
    providers = [upstream.describe() for upstream in gateway.upstreams.values()]
    for provider in providers:
        if isinstance(provider.get("base_url"), str):
            provider["base_url"] = redact.url(provider["base_url"])
    body = {"status": status, "version": __version__, "store": store, "providers": providers}
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
    app.on_response_prepare.append(_tag_response)
    app.on_response_prepare.append(client_keys.tag_response)
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
    router.add_get("/v1/models", models.list_models)
    router.add_get("/v1/models/{model_id}", models.get_model)
    router.add_get("/health", health)
    router.add_get("/", root)
    router.add_get("/account-limits", account_limits_handler)
    router.add_get("/api/oauth/usage", client_keys.usage)
    observe_routes.add_routes(router)
    bedrock_inbound.add_routes(router)
    vertex_inbound.add_routes(router)
    azure_inbound.add_routes(router)
    router.add_route("*", "/{tail:.*}", not_found)
    return app
