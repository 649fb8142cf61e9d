"""`babelgate claude [ARGS...]` and `babelgate claude-code settings`: Claude Code pointed at the gateway.

`babelgate claude` runs the user's own `claude` (found on PATH, or `$BABELGATE_CLAUDE_BIN`) with
every argument given to it, in an environment that points it at the gateway: the base URL, one
token (and no `ANTHROPIC_API_KEY`, so Claude Code sees one credential and warns of no auth
conflict), and the model variables the config calls for. It writes no file of the user's. When no
gateway answers on the configured address it starts `babelgate serve` in the background first
(its pid and log under `~/.cache/babelgate/`), and leaves it running for the next session.

`babelgate claude-code settings` prints the same variables as the `env` block of
`~/.claude/settings.json`, for users who start `claude` themselves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import typer

from babelgate import config as config_module
from babelgate.cli.load import console, load_config
from babelgate.config import Config
from babelgate.errors import GatewayError
from babelgate.routing.models import ModelResolver

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Claude Code settings for this gateway.")
# The names Claude Code (2.1.328) sends for its three model families when no variable renames them.
FAMILY_NAMES = {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}
STARTUP_SECONDS = 20.0
TOKEN_PLACEHOLDER = "babelgate"  # any token does when the gateway has no server.api_keys
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the gateway is local: never through a proxy
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def base_url(cfg: Config) -> str:
    host = "127.0.0.1" if cfg.server.host in ("0.0.0.0", "::", "") else cfg.server.host
    return f"http://{host}:{cfg.server.port}"


def model_variables(cfg: Config) -> dict[str, str]:
    """`ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL` for the config.

    A family keeps a name the config routes: an alias named after it (`opus`), else Claude Code's
    own name for it when an alias or glob catches that (`claude-*`), else the first model the
    gateway lists. Haiku, Claude Code's small fast model for its helper requests, is always set
    (unset, Claude Code sends those to the main model): to a `haiku` name when the config has a
    `routing.scenarios.background` model, so that scenario catches it.
    """
    resolver = ModelResolver(cfg)
    listing = resolver.listing()
    found: dict[str, str] = {}
    for family, name in FAMILY_NAMES.items():
        if family == "haiku" and cfg.routing.scenarios.background is not None:
            value: str | None = name
        else:
            value = next((n for n in (family, name) if _routes(resolver, n)), listing[0] if listing else None)
        if value is not None:
            found[f"ANTHROPIC_DEFAULT_{family.upper()}_MODEL"] = value
    return found


def _routes(resolver: ModelResolver, name: str) -> bool:
    try:
        resolver.resolve(name)
    except GatewayError:
        return False
    return True


def claude_env(cfg: Config, token: str | None = None) -> dict[str, str]:
    """The variables that point Claude Code at the gateway (`token`: the one to send; default the first client key)."""
    token = token or (cfg.server.api_keys[0].key if cfg.server.api_keys else TOKEN_PLACEHOLDER)
    return {"ANTHROPIC_BASE_URL": base_url(cfg), "ANTHROPIC_AUTH_TOKEN": token, **model_variables(cfg)}


def gateway_answers(url: str) -> bool:
    try:
        with _DIRECT.open(f"{url}/health", timeout=2) as response:
            return bool(json.loads(response.read()).get("status") == "ok")
    except (OSError, ValueError, urllib.error.URLError):
        return False


def start_gateway(cfg: Config, config_path: Path | None) -> None:
    """`babelgate serve` in the background, until its /health answers (or it exits, or STARTUP_SECONDS pass)."""
    folder = Path.home() / ".cache" / "babelgate"
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"serve-{cfg.server.port}.log"
    command = [sys.executable, "-m", "babelgate.cli.main", "serve", "--port", str(cfg.server.port)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    (folder / f"serve-{cfg.server.port}.pid").write_text(f"{process.pid}\n")
    deadline = time.monotonic() + STARTUP_SECONDS
    while not gateway_answers(base_url(cfg)):
        if process.poll() is not None or time.monotonic() > deadline:
            console.print(f"[red]error:[/red] the gateway did not start; see {log_path}", highlight=False)
            raise typer.Exit(1)
        time.sleep(0.2)
    console.print(f"babelgate: started the gateway in the background (pid {process.pid}, log {log_path})", highlight=False)


def run_claude(args: list[str]) -> None:
    """Replace this process with the user's `claude`, pointed at the running (or just started) gateway."""
    path = config_module.find_path(None)
    cfg = load_config(None, announce=False)
    if not gateway_answers(base_url(cfg)):
        start_gateway(cfg, path)
    binary = os.environ.get("BABELGATE_CLAUDE_BIN") or shutil.which("claude")
    if not binary:
        console.print("[red]error:[/red] `claude` is not on PATH; install it: npm install -g @anthropic-ai/claude-code", highlight=False)
        raise typer.Exit(127)
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")}
    env.update(claude_env(cfg))
    os.execve(binary, [binary, *args], env)


@app.command()
def settings(
    config: str | None = typer.Option(None, "--config", "-c", help="Config file (else as `serve` finds one)."),
    with_key: bool = typer.Option(False, "--with-key", help="Write the first of server.api_keys instead of a placeholder."),
) -> None:
    """Print the `env` block of ~/.claude/settings.json that points Claude Code at this gateway."""
    cfg = load_config(config, announce=False)
    token = None if with_key or not cfg.server.api_keys else "<one of server.api_keys>"
    typer.echo(json.dumps({"env": claude_env(cfg, token)}, indent=2))
