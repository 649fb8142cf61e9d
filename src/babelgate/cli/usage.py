"""`babelgate usage`: requests, tokens and cost from the request log, by day, client, provider or model."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from babelgate.cli.load import load_config
from babelgate.cli.logs import CONFIG_OPTION, _query
from babelgate.store.base import RequestFilter

out = Console(soft_wrap=True)
MAX_ROWS = 1_000_000
Group = Literal["day", "client", "provider", "model"]


def _key(row: dict[str, Any], by: Group) -> str:
    if by == "day":
        return datetime.fromtimestamp(row["started"], UTC).strftime("%Y-%m-%d")
    if by == "model":
        return row["target"] or f"({row['model'] or 'none'}, not served)"
    return str(row[by] or "-")


def totals(rows: list[dict[str, Any]], by: Group) -> dict[str, dict[str, float]]:
    groups: dict[str, dict[str, float]] = {}
    for row in rows:
        group = groups.setdefault(_key(row, by), {"requests": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0, "cost": 0.0})
        group["requests"] += 1
        group["errors"] += row["status"] >= 400
        group["input_tokens"] += row["input_tokens"] + row["cache_read_tokens"] + row["cache_write_tokens"]
        group["output_tokens"] += row["output_tokens"]
        group["cost"] += row["cost"]
    return dict(sorted(groups.items()))


def usage(
    config: str | None = CONFIG_OPTION,
    days: float = typer.Option(7, help="How far back (the request log keeps observe.retention.days)."),
    by: str = typer.Option("day", help="Group by day, client, provider or model."),
) -> None:
    """Requests, tokens and cost, from the request log."""
    if by not in ("day", "client", "provider", "model"):
        out.print("[red]--by takes day, client, provider or model[/red]")
        raise typer.Exit(2)
    cfg = load_config(config, announce=False)
    rows = _query(cfg, MAX_ROWS, RequestFilter(since=time.time() - days * 86400))
    table = Table(by, "requests", "errors", "tokens in", "tokens out", "cost $")
    grand = {"requests": 0.0, "errors": 0.0, "input_tokens": 0.0, "output_tokens": 0.0, "cost": 0.0}
    for group, sums in totals(rows, by).items():  # type: ignore[arg-type]
        table.add_row(group, *(f"{sums[k]:.0f}" for k in ("requests", "errors", "input_tokens", "output_tokens")), f"{sums['cost']:.4f}")
        for k in grand:
            grand[k] += sums[k]
    table.add_row("total", *(f"{grand[k]:.0f}" for k in ("requests", "errors", "input_tokens", "output_tokens")), f"{grand['cost']:.4f}")
    out.print(table)
