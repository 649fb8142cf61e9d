"""`babelgate logs tail|show|replay` and `babelgate usage`: the request log, read from the store.

Like `accounts`, these read the shared store directly and need no running gateway, except
`replay`, which sends a captured request to the running gateway again (optionally to another
model) and prints what came back.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import typer
from rich.console import Console
from rich.table import Table

from babelgate.cli.load import load_config
from babelgate.config import Config
from babelgate.server.gateway import open_store
from babelgate.store.base import LoggedRequest, RequestFilter

app = typer.Typer(no_args_is_help=True, help="The request log: tail, show, replay.")
out = Console(soft_wrap=True)
CONFIG_OPTION = typer.Option(None, "--config", "-c", help="Config file (see `babelgate serve --help`).")
FOLLOW_POLL = 1.0  # seconds between looks at the store with --follow
REPLAY_TIMEOUT = 600.0


def _when(started: float) -> str:
    return datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("time (UTC)", "id", "status", "client", "dialect", "model → served", "attempts", "ms", "tokens in/out", "cost $")
    for row in reversed(rows):
        served = row["target"] or "-"
        table.add_row(
            _when(row["started"]),
            row["id"],
            str(row["status"]),
            row["client"] or "-",
            row["dialect"] or "-",
            f"{row['model'] or '-'} → {served}",
            str(len(row["attempts"]) + (1 if row["target"] else 0)),
            f"{row['latency_ms']:.0f}",
            f"{row['input_tokens']}/{row['output_tokens']}",
            f"{row['cost']:.4f}",
        )
    return table


def _query(config: Config, limit: int, where: RequestFilter) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        store = open_store(config)
        try:
            return await store.recent_requests(limit, where)
        finally:
            await store.close()

    return asyncio.run(run())


def _one(config: Config, request_id: str) -> LoggedRequest:
    async def run() -> LoggedRequest | None:
        store = open_store(config)
        try:
            return await store.logged_request(request_id)
        finally:
            await store.close()

    row = asyncio.run(run())
    if row is None:
        out.print(f"[red]no request {request_id!r} in the log[/red] (the gateway writes it within a few seconds)")
        raise typer.Exit(1)
    return row


@app.command()
def tail(
    config: str | None = CONFIG_OPTION,
    lines: int = typer.Option(20, "-n", help="How many of the newest requests."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new requests."),
    model: str | None = typer.Option(None, help="Only this model (asked for, or provider/model served)."),
    provider: str | None = typer.Option(None, help="Only this provider."),
    status: int | None = typer.Option(None, help="Only this status (or 2, 4, 5 for a class)."),
) -> None:
    """The newest requests, oldest first."""
    cfg = load_config(config, announce=False)
    rows = _query(cfg, lines, RequestFilter(model=model, provider=provider, status=status))
    out.print(_table(rows))
    seen = {row["id"] for row in rows}
    since = max((row["started"] for row in rows), default=time.time() - 1)
    while follow:
        time.sleep(FOLLOW_POLL)  # a CLI's own loop: nothing else waits on it
        fresh = [
            r for r in _query(cfg, 500, RequestFilter(model=model, provider=provider, status=status, since=since)) if r["id"] not in seen
        ]
        if fresh:
            out.print(_table(fresh))
            seen.update(r["id"] for r in fresh)
            since = max(r["started"] for r in fresh)


@app.command()
def show(request_id: str, config: str | None = CONFIG_OPTION) -> None:
    """One request: its route trace, and its bodies when they were captured."""
    row = _one(load_config(config, announce=False), request_id)
    summary = row.summary
    out.print(_table([summary]))
    for attempt in summary["attempts"]:
        out.print(
            f"  failed: {attempt['target']} via {attempt['credential']}: {attempt['status']} {attempt['reason']} {attempt['message']}"
        )
    if summary["error"]:
        out.print(f"  error: {summary['error']}")
    for title, body in (("request", row.request_body), ("response", row.response_body)):
        if body is not None:
            out.rule(title)
            out.print(body.decode("utf-8", "replace"), markup=False, highlight=False)
    if row.request_body is None:
        out.print("(bodies not captured: set observe.capture to errors or all)")


@app.command()
def replay(
    request_id: str,
    config: str | None = CONFIG_OPTION,
    to: str | None = typer.Option(None, "--to", help="Send it to this model instead (e.g. openai/gpt-5)."),
    url: str | None = typer.Option(None, help="The gateway's URL (default: the config's host and port)."),
    key: str | None = typer.Option(None, envvar="BABELGATE_API_KEY", help="A client key, when server.api_keys is set."),
) -> None:
    """Send a captured request to the running gateway again, and print the answer."""
    cfg = load_config(config, announce=False)
    row = _one(cfg, request_id)
    if row.request_body is None:
        out.print("[red]that request's body was not captured[/red] (set observe.capture to errors or all)")
        raise typer.Exit(1)
    path, body = row.summary["path"], row.request_body
    if to is not None:
        path, body = _retarget(path, body, row.summary["model"], to)
    base = url or f"http://{'127.0.0.1' if cfg.server.host in ('0.0.0.0', '::') else cfg.server.host}:{cfg.server.port}"
    client_key = key or (cfg.server.api_keys[0].key if cfg.server.api_keys else "replay")
    status, answer, route = asyncio.run(_send(base + path, body, client_key))
    out.print(f"{status} {route or ''}".strip())
    out.print(answer.decode("utf-8", "replace"), markup=False, highlight=False)
    raise typer.Exit(0 if status < 400 else 1)


def _retarget(path: str, body: bytes, model: str, to: str) -> tuple[str, bytes]:
    """The same request for model `to`: in the body, or in the URL for the formats that carry it there."""
    if model and (f"/{model}:" in path or path.endswith(f"/{model}")):
        return path.replace(f"/{model}", f"/{to}", 1), body
    data = orjson.loads(body)
    data["model"] = to
    return path, orjson.dumps(data)


async def _send(url: str, body: bytes, key: str) -> tuple[int, bytes, str | None]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}
    timeout = aiohttp.ClientTimeout(total=REPLAY_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.post(url, data=body, headers=headers) as response:
        return response.status, await response.read(), response.headers.get("x-babelgate-route")
