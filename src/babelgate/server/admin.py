"""`GET /account-limits`: every credential's health, cooldowns and usage today.

JSON by default; `?format=table` gives an aligned text table. Keys are shown redacted. Cooldowns and
usage are the store's: every worker's and every instance's that share it, not only the answering
process's (this process's own writes are made durable first, so nothing it counted is missing).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import orjson
from aiohttp import web

from babelgate.observe.usage import Tally, today
from babelgate.redact import REDACTOR
from babelgate.server.gateway import GATEWAY, Gateway
from babelgate.store.base import ALL_MODELS, Entry
from babelgate.store.shared import SharedStore

log = logging.getLogger("babelgate.admin")


def credential_status(entries: list[Entry], credential_id: str, now: float) -> tuple[str, list[dict[str, Any]]]:
    """A credential's status ("ok", "cooling", or why it is out for every model) and its active cooldowns."""
    cooldowns: list[dict[str, Any]] = [
        {
            "model": "(all models)" if e.model == ALL_MODELS else e.model,
            "reason": e.reason.value,
            "remaining_seconds": None if e.until == math.inf else max(0, math.ceil(e.until - now)),
        }
        for e in entries
        if e.credential == credential_id and e.active(now)
    ]
    blocked_all = next((c for c in cooldowns if c["model"] == "(all models)"), None)
    status: str = blocked_all["reason"] if blocked_all else ("cooling" if cooldowns else "ok")
    return status, cooldowns


def store_health(gateway: Gateway) -> dict[str, Any]:
    """The store's part of `/health`: a shared store says whether it is reachable (and, while not,
    since when, why, and how many writes wait); an embedded one is always up."""
    store = gateway.store
    return store.health() if isinstance(store, SharedStore) else {"type": gateway.config.store.type, "state": "up"}


def cooldown_text(cooldowns: list[dict[str, Any]]) -> str:
    parts = [f"{c['model']}:{c['reason']}" + ("" if c["remaining_seconds"] is None else f" {c['remaining_seconds']}s") for c in cooldowns]
    return ", ".join(parts) or "-"


async def shared_state(gateway: Gateway) -> tuple[list[Entry], dict[str, Tally]]:
    """Every cooldown and today's usage per credential, as the store has them (all workers'); this
    process's own view when the store cannot be read."""
    await gateway.journal.stored()
    try:
        entries = await gateway.store.load_cooldowns()
        rows = await gateway.store.usage_for_day(today())
    except Exception as error:
        log.warning("account limits: the store could not be read (%s); showing this process's view", error)
        ids = [c.id for upstream in gateway.upstreams.values() for c in upstream.credentials]
        return gateway.book.snapshot(), {cid: gateway.ledger.for_credential(cid) for cid in ids}
    usage: dict[str, Tally] = {}
    for row in rows:
        tally = usage.setdefault(row.credential, Tally())
        tally.requests += row.requests
        tally.input_tokens += row.input_tokens
        tally.output_tokens += row.output_tokens
    return entries, usage


async def account_limits(gateway: Gateway) -> list[dict[str, Any]]:
    now = time.time()
    entries, usage_by_credential = await shared_state(gateway)
    providers = []
    for provider in gateway.upstreams.values():
        credentials = []
        for credential in provider.credentials:
            status, cooldowns = credential_status(entries, credential.id, now)
            usage = usage_by_credential.get(credential.id, Tally())
            last = gateway.router.last_error.get(credential.id)
            credentials.append(
                {
                    "id": credential.id,
                    "key": credential.redacted if credential.key else "(none)",
                    "status": status,
                    "cooldowns": cooldowns,
                    "last_error": {"status": last[0], "message": last[1], "seconds_ago": round(now - last[2])} if last else None,
                    "today": {"requests": usage.requests, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
                }
            )
        providers.append({"provider": provider.name, "type": provider.config.type, "credentials": credentials})
    return providers


def table(providers: list[dict[str, Any]]) -> str:
    header = ("PROVIDER", "CREDENTIAL", "KEY", "STATUS", "COOLDOWNS", "REQUESTS", "TOKENS IN", "TOKENS OUT", "LAST ERROR")
    rows = [header]
    for provider in providers:
        for cred in provider["credentials"]:
            last = cred["last_error"]
            rows.append(
                (
                    provider["provider"],
                    cred["id"],
                    cred["key"],
                    cred["status"],
                    cooldown_text(cred["cooldowns"]),
                    str(cred["today"]["requests"]),
                    str(cred["today"]["input_tokens"]),
                    str(cred["today"]["output_tokens"]),
                    f"{last['status']} {last['message'][:60]}" if last else "-",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows) + "\n"


async def account_limits_handler(request: web.Request) -> web.StreamResponse:
    providers = await account_limits(request.app[GATEWAY])
    if request.query.get("format") == "table":
        return web.Response(text=REDACTOR(table(providers)), content_type="text/plain")
    return web.Response(text=REDACTOR(orjson.dumps({"providers": providers}).decode()), content_type="application/json")
