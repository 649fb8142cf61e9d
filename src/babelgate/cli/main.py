"""`babelgate` command line: serve, models, config checks."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import typer

from babelgate import __version__
from babelgate import config as config_module
from babelgate.cli import accounts, claude, logs
from babelgate.cli.init import init
from babelgate.cli.load import console, load_config
from babelgate.cli.reload import reload_command
from babelgate.cli.run import EXIT_STARTUP, StartupError, WorkerOptions, check_exposure, configure_logging, run_worker
from babelgate.cli.schema import config_schema
from babelgate.cli.usage import usage
from babelgate.config import Config, ConfigError
from babelgate.routing.models import ModelResolver
from babelgate.server.reload import SUPERVISOR_ENV

app = typer.Typer(add_completion=False, no_args_is_help=True, help="babelgate: any AI client, any model, one port.")
app.add_typer(accounts.app, name="accounts")
app.add_typer(logs.app, name="logs")
app.command("usage")(usage)
app.command("reload")(reload_command)
app.add_typer(claude.app, name="claude-code")
app.command("init")(init)
app.command("config-schema")(config_schema)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"babelgate {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """babelgate: any AI client, any model, one port."""


@app.command("claude", context_settings=claude.PASSTHROUGH, add_help_option=False)
def claude_command(context: typer.Context) -> None:
    """Run Claude Code (`claude`, with all its arguments) through this gateway, starting it in the background if needed."""
    claude.run_claude(list(context.args))


def _print_claude_code_lines(cfg: Config) -> None:
    host = "127.0.0.1" if cfg.server.host in ("0.0.0.0", "::") else cfg.server.host
    lines = [f"ANTHROPIC_BASE_URL=http://{host}:{cfg.server.port}"]
    if cfg.server.api_keys:
        lines.append("ANTHROPIC_AUTH_TOKEN=<one of server.api_keys>")
    listing = ModelResolver(cfg).listing()
    if not any(a.startswith("claude") for a in cfg.aliases) and listing:
        lines.append(f"ANTHROPIC_MODEL={listing[0]}")
    console.print("Point Claude Code at it with:\n  " + " ".join(lines) + " claude", highlight=False)


@app.command()
def serve(
    config: str | None = typer.Option(
        None, "--config", "-c", help="Config file (else $BABELGATE_CONFIG, else ~/.config/babelgate/config.yaml)."
    ),
    host: str | None = typer.Option(None, help="Listen address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Listen port (default 8318)."),
    workers: int = typer.Option(1, min=1, help="Worker processes sharing the port (state shared through the store)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
    log_format: str = typer.Option("text", help="text, or json (one object per line)."),
    drain_seconds: float = typer.Option(60.0, min=0, help="On SIGTERM, how long streams in flight may take to finish."),
    allow_public: bool = typer.Option(False, "--allow-public", help="Serve a non-loopback host without server.api_keys."),
) -> None:
    """Start the gateway."""
    if log_format not in ("text", "json"):
        console.print("[red]error:[/red] --log-format takes text or json", highlight=False)
        raise typer.Exit(2)
    options = WorkerOptions(log_level, log_format, drain_seconds)
    cfg = load_config(config)
    if host is not None:
        cfg.server.host = host
    if port is not None:
        cfg.server.port = port
    try:
        check_exposure(cfg, allow_public)
    except StartupError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(EXIT_STARTUP) from None

    def listening() -> None:
        plural = "s" * (workers > 1)
        console.print(f"babelgate listening on http://{cfg.server.host}:{cfg.server.port} ({workers} worker{plural})", highlight=False)
        _print_claude_code_lines(cfg)

    if workers == 1:
        run_worker(cfg, False, options, listening)
        return
    _supervise(cfg, workers, options, listening)


def _supervise(cfg: Config, workers: int, options: WorkerOptions, listening: Callable[[], None]) -> None:
    """Keep the workers serving (they share the port with SO_REUSEPORT), cli/supervise.py: "listening"
    is printed once every worker listens, and a worker that fails to start stops them all; after that
    a dead worker is replaced, and they all stop with the supervisor, however it stops."""
    from babelgate.cli.supervise import Supervisor

    configure_logging(options.log_level, options.log_format)
    metrics_dir = tempfile.TemporaryDirectory(prefix="babelgate-metrics-")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir.name)  # every worker's counts, read by /metrics on any
    os.environ[SUPERVISOR_ENV] = str(os.getpid())  # a worker asked to reload tells us, and we tell them all (SIGHUP)
    try:
        code = Supervisor(_worker, (cfg, options), workers, options.drain_seconds, listening).run()
    finally:
        metrics_dir.cleanup()
    if code:
        raise typer.Exit(code)


def _worker(cfg: Config, options: WorkerOptions, ready: EventType) -> None:
    run_worker(cfg, True, options, ready.set)  # set once this worker listens


@app.command()
def models(config: str | None = typer.Option(None, "--config", "-c", help="Config file (else as `serve` finds one).")) -> None:
    """List the models clients can ask for, with what each can do and where that came from."""
    from babelgate.cli.models import show

    show(load_config(config, announce=False))


@app.command("check-config")
def check_config(path: Path = typer.Argument(..., exists=False)) -> None:
    """Validate a config file and print what it defines."""
    try:
        cfg = config_module.load(path)
    except ConfigError as error:
        console.print(f"[red]error:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    typer.echo(f"ok: {len(cfg.providers)} providers, {len(cfg.aliases)} aliases")


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app(prog_name="babelgate")


if __name__ == "__main__":
    main()
