"""`babelgate accounts list|add|remove|verify`: the credential pools and their health.

These commands work on the config and the shared store directly, so they need no running
gateway; a running one adopts their changes within seconds (it syncs with the store).
"""

from __future__ import annotations

import asyncio
import math
import time

import typer
from rich.console import Console
from rich.table import Table

from babelgate.cli.load import load_config
from babelgate.config import Config
from babelgate.observe.usage import today
from babelgate.providers.base import Upstream
from babelgate.providers.classify import Reason
from babelgate.providers.verify import verify_all
from babelgate.server.admin import cooldown_text, credential_status
from babelgate.server.gateway import add_stored_credentials, build_upstreams, open_store
from babelgate.store.base import ALL_MODELS, Entry, Store

app = typer.Typer(no_args_is_help=True, help="Credential pools: list, add, remove, verify.")
out = Console()
CONFIG_OPTION = typer.Option(None, "--config", "-c", help="Config file (see `babelgate serve --help`).")


def _config(path: str | None) -> Config:
    return load_config(path, announce=False)


async def _providers(config: Config, store: Store) -> dict[str, Upstream]:
    upstreams = build_upstreams(config)
    await add_stored_credentials(upstreams, store)
    return upstreams


@app.command("list")
def list_accounts(config: str | None = CONFIG_OPTION) -> None:
    """Every credential with its status, cooldowns and usage today."""

    async def run() -> None:
        cfg = _config(config)
        store = open_store(cfg)
        try:
            providers = await _providers(cfg, store)
            entries = await store.load_cooldowns()
            usage = await store.usage_for_day(today())
        finally:
            await store.close()
        now = time.time()
        table = Table("provider", "credential", "key", "status", "cooldowns", "requests", "tokens in", "tokens out")
        for provider in providers.values():
            for credential in provider.credentials:
                status, cooldowns = credential_status(entries, credential.id, now)
                mine = [u for u in usage if u.credential == credential.id]
                table.add_row(
                    provider.name,
                    credential.id,
                    credential.redacted if credential.key else "(none)",
                    status,
                    cooldown_text(cooldowns),
                    str(sum(u.requests for u in mine)),
                    str(sum(u.input_tokens for u in mine)),
                    str(sum(u.output_tokens for u in mine)),
                )
        out.print(table)

    asyncio.run(run())


@app.command()
def add(
    provider: str,
    key: str,
    name: str = typer.Option(..., help="A label for the key, unique within the provider."),
    config: str | None = CONFIG_OPTION,
) -> None:
    """Add a key to a provider's pool (kept in the store; the config file is not edited)."""

    async def run() -> None:
        cfg = _config(config)
        if provider not in cfg.providers:
            out.print(f"[red]error:[/red] no provider {provider!r}; configured: {', '.join(cfg.providers) or '(none)'}")
            raise typer.Exit(2)
        store = open_store(cfg)
        try:
            await store.add_credential(provider, name, key)
        finally:
            await store.close()
        out.print(f"added {provider}#{name}; a running gateway adopts it within seconds (at its next sync with the store)")

    asyncio.run(run())


@app.command()
def remove(provider: str, name: str, config: str | None = CONFIG_OPTION) -> None:
    """Remove a key added with `accounts add` (keys in the config file are removed by editing it)."""

    async def run() -> None:
        cfg = _config(config)
        store = open_store(cfg)
        try:
            removed = await store.remove_credential(provider, name)
            if removed:
                await store.delete_cooldowns(f"{provider}#{name}")
        finally:
            await store.close()
        if not removed:
            out.print(f"[red]error:[/red] no stored key {provider}#{name}; keys from the config file are removed by editing it")
            raise typer.Exit(2)
        out.print(f"removed {provider}#{name}")

    asyncio.run(run())


@app.command()
def verify(provider: str | None = typer.Argument(None, help="Only this provider."), config: str | None = CONFIG_OPTION) -> None:
    """Make a cheap real call with every key; clear the keys that work, bench the ones refused."""

    async def run() -> int:
        cfg = _config(config)
        store = open_store(cfg)
        try:
            upstreams = [p for p in (await _providers(cfg, store)).values() if provider in (None, p.name)]
            try:
                verdicts = await verify_all(upstreams)
            finally:
                for upstream in upstreams:
                    await upstream.close()
            entries = await store.load_cooldowns()
            for verdict in verdicts:
                cred_id = verdict.credential.id
                if verdict.ok:
                    for entry in entries:
                        if entry.credential == cred_id and entry.reason in (Reason.AUTH, Reason.PERMISSION):
                            await store.delete_cooldowns(cred_id, entry.model)
                elif verdict.invalid:
                    reason = Reason.AUTH if verdict.status == 401 else Reason.PERMISSION
                    await store.save_cooldown(Entry(cred_id, ALL_MODELS, reason, math.inf, 1, verdict.status))
        finally:
            await store.close()
        table = Table("provider", "credential", "key", "result", "status", "detail")
        for verdict in verdicts:
            credential = verdict.credential
            result = "[green]ok[/green]" if verdict.ok else ("[red]invalid[/red]" if verdict.invalid else "[yellow]error[/yellow]")
            key = credential.redacted if credential.key else "(none)"
            table.add_row(credential.provider, credential.id, key, result, str(verdict.status or "-"), verdict.detail)
        out.print(table)
        return 0 if all(v.ok for v in verdicts) else 1

    raise typer.Exit(asyncio.run(run()))
