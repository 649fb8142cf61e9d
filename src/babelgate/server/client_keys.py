"""Client keys at the HTTP edge: who is asking, whether the key's limits let the request in, the
usage headers Claude Code reads, and `GET /api/oauth/usage`.

The guard (server/app.py) calls `admit` once a request is authenticated and `settle` once it is
answered; serve.py calls `check_model` once the model is known. What is counted is server/limits.py.
The shapes follow Claude Code's gateway contract, "Usage-limit headers": on each successful
`POST /v1/messages` of a key with a budget, the `anthropic-ratelimit-unified-*` headers say where
it stands (past 75% and 95% the client shows "You've used NN% of your usage credits · resets …");
an upstream's own `anthropic-ratelimit-*` headers never reach the client; an exhausted budget is a
429 `billing_error` with the headers that make the client print its message and not retry.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hmac
import logging
import math

from aiohttp import web

from babelgate.config import Config
from babelgate.config_keys import ClientKey
from babelgate.errors import GatewayError, Kind
from babelgate.observe.records import RequestRecord
from babelgate.server.gateway import GATEWAY
from babelgate.server.limits import Cap, KeyLimits, OverLimit, Standing, surpassed, utilization_text

log = logging.getLogger("babelgate.server")
CLIENT_KEY = web.RequestKey("client_key", ClientKey)
STANDING = web.RequestKey("standing", Standing)
UNMETERED = ("/v1/metrics", "/v1/logs", "/v1/traces", "/admin/", "/api/")  # telemetry and admin: no model work
UNIFIED = "anthropic-ratelimit-unified-"
UPSTREAM_LIMITS = "anthropic-ratelimit-"
DEFAULT_HELP = "ask the gateway's admin to raise the budget"


def identify(given: str | None, config: Config) -> ClientKey | None:
    """The `server.api_keys` entry whose key was sent (compared in constant time)."""
    if given is None:
        return None
    sent = given.encode()
    return next((entry for entry in config.server.api_keys if hmac.compare_digest(sent, entry.key.encode())), None)


def metered(request: web.Request) -> bool:
    """A request the limits count: a POST for model work (not counting tokens, not telemetry, not admin)."""
    path = request.path
    return request.method == "POST" and not path.startswith(UNMETERED) and "count_tokens" not in path and ":countTokens" not in path


def label(key: ClientKey) -> str:
    return repr(key.name) if key.name else "(unnamed)"


async def admit(request: web.Request, given: str | None) -> None:
    """Note who the key is; for model work, count the request against its limits or refuse it."""
    key = identify(given, request.app[GATEWAY].config)
    if key is None:
        return
    request[CLIENT_KEY] = key
    if not key.limited or not metered(request):
        return
    try:
        standing = await KeyLimits(request.app[GATEWAY].store).admit(key)
    except OverLimit as over:
        raise refusal(key, over, request.path.startswith("/v1/messages")) from None
    except Exception:  # the store cannot be read: serve (fail open), as a Redis store does on its local counts
        log.exception("could not read the limits of client key %s; serving the request unchecked", label(key))
        return
    if standing is not None:
        request[STANDING] = standing


def refusal(key: ClientKey, over: OverLimit, messages_api: bool) -> GatewayError:
    """429: rate_limit for requests or tokens per minute, billing_error (Claude Code's shape on the Messages API) for a budget."""
    if over.cap is None:
        message = f"client key {label(key)} is over its {over.message}; retry in {over.retry_after}s"
        return GatewayError(429, Kind.RATE_LIMIT, message, code="client_rate_limit", headers={"Retry-After": str(over.retry_after)})
    cap = over.cap
    help_text = key.budget.help if key.budget and key.budget.help else DEFAULT_HELP
    resets = f"{cap.resets:%b} {cap.resets.day}, {cap.resets:%H:%M} UTC"
    message = f"spend limit reached · the {over.message} of client key {label(key)} is spent · resets {resets} · {help_text}"
    headers = {"retry-after": str(over.retry_after), "x-should-retry": "false"}
    if messages_api:
        reset = str(cap.resets_at)
        headers.update(
            {
                UNIFIED + "status": "rejected",
                UNIFIED + "reset": reset,
                UNIFIED + "overage-reset": reset,
                UNIFIED + "overage-utilization": "1",
                UNIFIED + "overage-surpassed-threshold": "1",
                UNIFIED + "overage-period": cap.period,
                UNIFIED + "overage-disabled-reason": "org_spend_cap_reached",
            }
        )
    return GatewayError(429, Kind.BILLING, message, headers=headers)


def check_model(request: web.Request, model: str) -> None:
    """A key with `models` may ask only for those (globs of the name as sent): 400 on the Messages API
    (as Claude Code's contract asks), else 403, naming what it may use."""
    if may_use(request, model):
        return
    key = request[CLIENT_KEY]
    message = f"model {model!r} is not allowed for client key {label(key)}; it may use {', '.join(key.models)}"
    if request.path.startswith("/v1/messages"):
        raise GatewayError(400, Kind.INVALID_REQUEST, message, code="model_not_allowed")
    raise GatewayError(403, Kind.PERMISSION, message, code="model_not_allowed")


def may_use(request: web.Request, *names: str) -> bool:
    """Whether the request's key may ask for a model under any of `names` (a key without `models` may ask for all)."""
    key = request.get(CLIENT_KEY)
    if key is None or not key.models:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in key.models)


def client_name(request: web.Request) -> str:
    key = request.get(CLIENT_KEY)
    return key.name or "" if key is not None else ""


async def settle(request: web.Request, record: RequestRecord | None) -> None:
    """Add what the request used (tokens, and its cost from the price table) to its key's counters."""
    key = request.get(CLIENT_KEY)
    if key is None or record is None or not metered(request):
        return
    tokens = record.input_tokens + record.output_tokens + record.cache_read_tokens + record.cache_write_tokens
    try:
        await KeyLimits(request.app[GATEWAY].store).settle(key, tokens, record.cost)
    except Exception:  # the answer is out already; a store that fails is logged, not the client's problem
        log.exception("could not count the usage of client key %s", label(key))


async def tag_response(request: web.Request, response: web.StreamResponse) -> None:
    """On a success: no upstream's `anthropic-ratelimit-*` headers, and on the Messages API the key's standing."""
    if response.status >= 400:
        return  # an error of ours: its headers are ours
    for name in {name for name in response.headers if name.lower().startswith(UPSTREAM_LIMITS)}:
        response.headers.popall(name)
    standing = request.get(STANDING)
    cap = standing.described() if standing is not None else None
    if cap is not None and request.path.startswith("/v1/messages"):
        response.headers.update(usage_headers(cap))


def usage_headers(cap: Cap) -> dict[str, str]:
    threshold = surpassed(cap)
    status = "allowed_warning" if threshold is not None else "allowed"
    reset = str(cap.resets_at)
    headers = {
        UNIFIED + "status": status,
        UNIFIED + "representative-claim": "overage",
        UNIFIED + "overage-status": status,
        UNIFIED + "overage-utilization": utilization_text(cap),
        UNIFIED + "reset": reset,
        UNIFIED + "overage-reset": reset,
    }
    if threshold is not None:
        headers[UNIFIED + "overage-surpassed-threshold"] = str(threshold)
    return headers


async def usage(request: web.Request) -> web.StreamResponse:
    """`GET /api/oauth/usage`: the key's spend in cents, and each cap, as Claude Code reads them."""
    key = request.get(CLIENT_KEY)
    if key is None:
        raise GatewayError(404, Kind.NOT_FOUND, "usage is kept per client key (server.api_keys); this request sent none")
    standing = await KeyLimits(request.app[GATEWAY].store).standing(key)
    return web.json_response(usage_body(standing), headers={"Cache-Control": "no-store"})


def usage_body(standing: Standing) -> dict[str, object]:
    active = standing.described()
    if active is None:
        spent = {period: _cents(amount) for period, amount in standing.spent.items()}
        extra: dict[str, object] = {"is_enabled": True, "monthly_limit": None, "used_credits": spent["monthly"], "utilization": None}
        extra["currency"] = "USD"
        for period in ("daily", "weekly"):
            extra[period] = {"limit": None, "used_credits": spent[period], "utilization": None}
        return {"extra_usage": extra, "limits": []}
    percent = round(active.utilization * 100)
    extra = {"is_enabled": True, "monthly_limit": round(active.limit * 100), "used_credits": _cents(active.spent), "utilization": percent}
    extra["currency"] = "USD"
    return {"extra_usage": extra, "limits": [_row(cap, cap is active) for cap in standing.caps]}


def _row(cap: Cap, active: bool) -> dict[str, object]:
    severity = "critical" if cap.exceeded or cap.utilization > 0.95 else "warning" if cap.utilization > 0.75 else "normal"
    resets_at = cap.resets.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    percent = round(cap.utilization * 100)
    return {"kind": "spend", "group": cap.period, "percent": percent, "resets_at": resets_at, "severity": severity, "is_active": active}


def _cents(usd: float) -> int:
    return math.floor(usd * 100 + 1e-9)
