"""`babelgate reload`: ask the running gateway to read its config file again (POST /admin/api/reload).

The gateway validates the file itself and answers what changed, or refuses an invalid file with its
key paths and keeps running on the config it has; this command prints either. The gateway's address
and admin key come from the same config file (read as far as it can be when it is invalid), or from
`--url` and `--admin-key`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from babelgate import config as config_module
from babelgate.cli.load import console
from babelgate.config import ConfigError
from babelgate.config_server import DEFAULT_PORT

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the gateway is local: never through a proxy
TIMEOUT = 60.0
out = Console(soft_wrap=True)


def _setting(server: dict[str, Any], key: str) -> Any:
    try:
        return config_module.interpolate(server.get(key), f"server.{key}")
    except ConfigError:
        return None


def _address(path: Path) -> tuple[str, str | None]:
    """The gateway's URL and admin key from the file, even one that is not valid as a whole."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        data = None
    server = data.get("server") if isinstance(data, dict) else None
    server = server if isinstance(server, dict) else {}
    host = _setting(server, "host") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    port = _setting(server, "port") or DEFAULT_PORT
    admin = _setting(server, "admin_key")
    return f"http://{host}:{port}", admin if isinstance(admin, str) else None


def _message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("message")) if isinstance(error, dict) else str(data)


def reload_command(
    config: str | None = typer.Option(None, "--config", "-c", help="The config file the gateway runs from (as `serve` finds it)."),
    url: str | None = typer.Option(None, help="The gateway's address (default: server.host and server.port of the config)."),
    admin_key: str | None = typer.Option(None, envvar="BABELGATE_ADMIN_KEY", help="The admin key (default: server.admin_key)."),
) -> None:
    """Make the running gateway read its config file again: providers, aliases, keys and limits change without a restart."""
    path = config_module.find_path(config)
    if path is None:
        console.print("[red]error:[/red] no config file found (--config, $BABELGATE_CONFIG, ~/.config/babelgate/config.yaml)")
        raise typer.Exit(2)
    found_url, found_key = _address(path)
    target = (url or found_url).rstrip("/")
    key = admin_key or found_key
    request = urllib.request.Request(f"{target}/admin/api/reload", method="POST", data=b"")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with _DIRECT.open(request, timeout=TIMEOUT) as response:
            outcome = json.loads(response.read())
    except urllib.error.HTTPError as error:
        console.print(f"[red]error:[/red] {_message(error.read())}", highlight=False)
        raise typer.Exit(2 if error.code == 422 else 1) from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        console.print(f"[red]error:[/red] no gateway answered at {target} ({reason})", highlight=False)
        try:
            config_module.load(path)
        except ConfigError as invalid:
            console.print(f"and the file would be refused: {invalid}", highlight=False)
        raise typer.Exit(1) from None
    if outcome["status"] == "unchanged":
        out.print(f"{path}: unchanged; the gateway at {target} keeps its config", highlight=False)
        return
    out.print(f"reloaded {path} at {target}", highlight=False)
    for change in outcome["changes"] or ["no effective change"]:
        out.print(f"  {change}", highlight=False)
    if outcome["restart_needed"]:
        out.print(f"  needs a restart (kept as running): {', '.join(outcome['restart_needed'])}", highlight=False)
