"""What the gateway shows about itself: `/metrics` for Prometheus, the admin API the dashboard reads
(`/admin/api/...`, admin key), and the dashboard's page and assets (open: it asks for the key).

  GET /metrics                      Prometheus text format (admin key or server.metrics_token)
  GET /admin/api/overview           per-minute requests, errors, latency, TTFT, tokens and cost, last hour
  GET /admin/api/requests           the request log, newest first (?model=&provider=&status=&before=&limit=)
  GET /admin/api/requests/{id}      one request: its summary, route trace and any captured bodies
  GET /admin/api/providers          credentials (redacted) with health, cooldowns and usage today
  GET /admin/api/config             the effective config, secrets redacted
  GET /admin/api/events             a live stream (SSE) of finished requests and, every second, provider state
  GET /admin/api/sessions           Claude Code sessions: their telemetry (server/telemetry.py) beside their requests here
  POST /admin/api/reload            read the config file again (server/reload.py); 422 with the key paths when invalid
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from babelgate.errors import GatewayError, Kind
from babelgate.observe.metrics import CONTENT_TYPE
from babelgate.observe.redact import redact
from babelgate.observe.series import overview
from babelgate.server import reload, telemetry
from babelgate.server.admin import account_limits
from babelgate.server.gateway import GATEWAY, Gateway
from babelgate.store.base import RequestFilter

ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
# The dashboard's page and assets, and the OTLP intake (which answers 200 to all and keeps what a client key sent).
OPEN_PATHS = ("/dashboard", *(f"/dashboard/{name}" for name in ASSETS), *telemetry.PATHS)
MAX_LIMIT = 500
TICK = 1.0  # seconds between provider-state updates on the live stream
OVERVIEW_ROWS = 20_000


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def metrics(request: web.Request) -> web.StreamResponse:
    body = request.app[GATEWAY].observer.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def _filter(query: Any) -> RequestFilter:
    try:
        status = int(query["status"]) if query.get("status") else None
        before = float(query["before"]) if query.get("before") else None
    except ValueError:
        raise GatewayError(400, Kind.INVALID_REQUEST, "status and before must be numbers") from None
    return RequestFilter(model=query.get("model") or None, provider=query.get("provider") or None, status=status, before=before)


async def requests(request: web.Request) -> web.StreamResponse:
    try:
        limit = min(int(request.query.get("limit", "100")), MAX_LIMIT)
    except ValueError:
        raise GatewayError(400, Kind.INVALID_REQUEST, "limit must be a number") from None
    gateway = request.app[GATEWAY]
    await gateway.observer.flush(gateway.store)  # the newest, not yet synced, included
    rows = await gateway.store.recent_requests(limit, _filter(request.query))
    return _json({"requests": rows})


async def one_request(request: web.Request) -> web.StreamResponse:
    row = await request.app[GATEWAY].store.logged_request(request.match_info["id"])
    if row is None:  # still waiting for the next sync, perhaps
        recent = next((s for s in request.app[GATEWAY].observer.recent if s["id"] == request.match_info["id"]), None)
        if recent is None:
            raise GatewayError(404, Kind.NOT_FOUND, f"no request {request.match_info['id']!r} in the log")
        return _json({**recent, "request_body": None, "response_body": None})
    return _json({**row.summary, "request_body": _text(row.request_body), "response_body": _text(row.response_body)})


def _text(body: bytes | None) -> str | None:
    return body.decode("utf-8", "replace") if body is not None else None


async def overview_handler(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    await gateway.observer.flush(gateway.store)
    since = time.time() - 3600
    rows = await gateway.store.recent_requests(OVERVIEW_ROWS, RequestFilter(since=since))
    return _json(overview(rows, since))


async def _provider_state(gateway: Gateway) -> dict[str, Any]:
    return {"providers": await account_limits(gateway), "in_flight": gateway.observer.in_flight, "now": time.time()}


async def providers(request: web.Request) -> web.StreamResponse:
    return _json(await _provider_state(request.app[GATEWAY]))


async def config_handler(request: web.Request) -> web.StreamResponse:
    return _json(redact(request.app[GATEWAY].config.model_dump(mode="json")))


async def events(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    out = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await out.prepare(request)
    queue = gateway.observer.subscribe()
    try:
        next_tick = 0.0
        while True:
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + TICK
                await out.write(b"event: providers\ndata: " + orjson.dumps(await _provider_state(gateway)) + b"\n\n")
            try:
                summary = await asyncio.wait_for(queue.get(), max(next_tick - time.monotonic(), 0.01))
            except TimeoutError:
                continue
            await out.write(b"event: request\ndata: " + orjson.dumps(summary) + b"\n\n")
    finally:
        gateway.observer.unsubscribe(queue)


async def reload_handler(request: web.Request) -> web.StreamResponse:
    outcome = await request.app[GATEWAY].reloader.reload("babelgate reload")
    if outcome.status == "refused":
        raise GatewayError(422, Kind.INVALID_REQUEST, f"config reload refused; the running config stays: {outcome.error}")
    if outcome.status == "reloaded":
        reload.tell_siblings()
    return _json(outcome.as_json())


async def page(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("asset", "index.html")
    kind = ASSETS.get(name, "text/html") if name != "index.html" else "text/html"
    if name != "index.html" and name not in ASSETS:
        raise GatewayError(404, Kind.NOT_FOUND, f"no dashboard asset {name!r}")
    body = resources.files("babelgate").joinpath("dashboard", name).read_bytes()
    return web.Response(body=body, content_type=kind, headers={"Cache-Control": "no-cache", "X-Frame-Options": "DENY"})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/metrics", metrics)
    router.add_get("/admin/api/overview", overview_handler)
    router.add_get("/admin/api/requests", requests)
    router.add_get("/admin/api/requests/{id}", one_request)
    router.add_get("/admin/api/providers", providers)
    router.add_get("/admin/api/config", config_handler)
    router.add_get("/admin/api/events", events)
    router.add_post("/admin/api/reload", reload_handler)
    telemetry.add_routes(router)
    router.add_get("/dashboard", page)
    router.add_get("/dashboard/{asset}", page)
