"""Model discovery: `GET /v1/models` (with `limit`, `after_id`, `before_id`) and `GET /v1/models/{id}`.

A caller that sends `anthropic-version` (or no `Authorization`, as Claude Code's discovery does
not when it uses `x-api-key`) gets Anthropic's shape: every routable name under an id that passes
Claude Code's filter and routes back (routing/published.py), a readable `display_name`, a
`description` naming the real upstream and its context window, and `max_input_tokens` /
`max_tokens` from the capability table (capabilities.py: the shipped table, discovery, the
config's `models:`). Other callers get OpenAI's list of the gateway's own names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from babelgate.capabilities import Capabilities
from babelgate.errors import BadRequest, GatewayError, Kind
from babelgate.routing.published import with_window, without_window
from babelgate.server.client_keys import may_use
from babelgate.server.gateway import GATEWAY, Gateway

CREATED_AT = "2025-01-01T00:00:00Z"  # the gateway knows no release dates; Anthropic's shape wants one
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000  # as Anthropic's API
_UPPER = {"gpt": "GPT", "oss": "OSS", "glm": "GLM", "qwq": "QwQ", "vl": "VL"}


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    name: str  # the gateway's own name for it (an alias or provider/model)
    target: str  # where it goes first: provider/model
    family: str  # the provider's type
    capabilities: Capabilities

    def anthropic(self) -> dict[str, Any]:
        caps = self.capabilities
        return {
            "type": "model",
            "id": self.id,
            "display_name": display_name(self.name, self.target),
            "created_at": CREATED_AT,
            "description": describe(self),
            "max_input_tokens": caps.context_window,
            "max_tokens": caps.max_output,
            "babelgate_route": self.name,
        }


def display_name(name: str, target: str) -> str:
    """`up/gpt-5-mini` -> `GPT-5 Mini (up)`; an alias keeps its own name, with its target's model."""
    provider, _, model = target.partition("/")
    model = model.rsplit("/", 1)[-1]
    words = [_UPPER.get(w.lower(), w[:1].upper() + w[1:]) for w in model.replace("_", "-").split("-") if w]
    shown = f"{' '.join(words).replace('GPT ', 'GPT-', 1)} ({provider})"
    return shown if "/" in name else f"{name}: {shown}"


def tokens(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    return f"{count // 1000}K" if count >= 1000 else str(count)


def describe(entry: Entry) -> str:
    caps = entry.capabilities
    window = f"{tokens(caps.context_window)} context" if caps.context_window else "context window unknown"
    output = f", {tokens(caps.max_output)} output" if caps.max_output else ""
    return f"{entry.target} via babelgate ({entry.family}) · {window}{output}"


def entries(gateway: Gateway, request: web.Request) -> list[Entry]:
    """The published models the request's client key may use (server/client_keys.py)."""
    resolver, catalog = gateway.router.resolver, gateway.router.catalog
    out: list[Entry] = []
    for model_id, name in resolver.published.items():
        try:
            targets, _ = resolver.resolve(name)
        except GatewayError:
            continue
        if not may_use(request, model_id, name):
            continue
        first = targets[0]
        caps = catalog.lookup(first.provider, first.model)
        family = gateway.config.providers[first.provider].type
        out.append(Entry(with_window(model_id, caps.context_window), name, str(first), family, caps))
    return out


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def page(items: list[dict[str, Any]], request: web.Request) -> dict[str, Any]:
    """Anthropic's cursor paging: `after_id` or `before_id` (an id of this list), then `limit` items."""
    limit = _limit(request)
    ids = [item["id"] for item in items]
    after, before = request.query.get("after_id"), request.query.get("before_id")
    for cursor, field in ((after, "after_id"), (before, "before_id")):
        if cursor is not None and cursor not in ids:
            raise BadRequest(field, f"{cursor!r} is not a model id of this list")
    if before is not None:
        end = ids.index(before)
        chosen, more = items[max(0, end - limit) : end], end - limit > 0
    else:
        start = ids.index(after) + 1 if after is not None else 0
        chosen, more = items[start : start + limit], start + limit < len(items)
    first = chosen[0]["id"] if chosen else None
    last = chosen[-1]["id"] if chosen else None
    return {"data": chosen, "has_more": more, "first_id": first, "last_id": last}


def _anthropic_caller(request: web.Request) -> bool:
    return "anthropic-version" in request.headers or "authorization" not in request.headers


async def list_models(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    if _anthropic_caller(request):
        return _json(page([e.anthropic() for e in entries(gateway, request)], request))
    names = [name for name in gateway.router.resolver.listing() if may_use(request, name)]
    owned = [{"id": n, "object": "model", "created": 0, "owned_by": n.split("/")[0] if "/" in n else "babelgate"} for n in names]
    return _json({"object": "list", "data": owned})


async def get_model(request: web.Request) -> web.StreamResponse:
    wanted = request.match_info["model_id"]
    for entry in entries(request.app[GATEWAY], request):
        if wanted in (entry.id, without_window(entry.id), entry.name):
            return _json(entry.anthropic())
    raise GatewayError(404, Kind.NOT_FOUND, f"model {wanted!r} is not published by this gateway; GET /v1/models lists them")


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")
