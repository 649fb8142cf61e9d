"""`babelgate init`: a starter config written from what this machine has.

It looks where zero-config discovery looks (providers/presets.py): the standard key variables
(and numbered spares such as `OPENAI_API_KEY_2`, which join the pool) and the local servers on
their usual ports. Keys go into the file as `${VARIABLE}` references, never as values; an existing
file is replaced only with `--force` (the old one is kept as `FILE.bak`).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
import yaml

from babelgate import __version__
from babelgate.cli.load import console
from babelgate.config import Config, ConfigError, ModelSpec, ProviderConfig, parse
from babelgate.config_server import DEFAULT_PORT
from babelgate.provider_presets import CLOUD, Preset

LOOPBACK = ("127.0.0.1", "localhost", "::1")
CLIENT_KEY_VARIABLE = "BABELGATE_API_KEY"


@dataclass(slots=True)
class Candidate:
    """A provider init found: its config entry (keys as references), and where it came from."""

    name: str
    entry: dict[str, Any]
    source: str
    capabilities: dict[str, ModelSpec] = field(default_factory=dict)


def key_variables(preset: Preset, env: dict[str, str]) -> list[str]:
    """The variables holding this preset's keys: the first standard one set, then its numbered spares."""
    first = next((name for name in preset.env if env.get(name)), None)
    if first is None:
        return []
    spares = sorted((n for n in env if re.fullmatch(rf"{re.escape(first)}_\d+", n) and env[n]), key=lambda n: int(n.rpartition("_")[2]))
    return [first, *spares]


def cloud_candidates(env: dict[str, str]) -> list[Candidate]:
    found = []
    for preset in CLOUD:
        variables = key_variables(preset, env)
        if variables:
            entry: dict[str, Any] = {"preset": preset.name, "api_keys": [f"${{{v}}}" for v in variables]}
            models = [m for m in dict.fromkeys((preset.big, preset.small)) if m]
            if models:
                entry["models"] = models
            found.append(Candidate(preset.name, entry, ", ".join(f"${v}" for v in variables)))
    return found


async def local_candidates(env: dict[str, str]) -> list[Candidate]:
    from babelgate.providers.local_servers import probe_local

    found = []
    for server in await probe_local(env=env):
        entry = {"type": "openai", "base_url": server.config.base_url, "models": list(server.config.models)}
        found.append(Candidate(server.name, entry, f"a server at {server.config.base_url}", server.models))
    return found


def aliases_for(chosen: list[Candidate]) -> dict[str, str]:
    """Claude Code asks for claude-* names: without an Anthropic key, they go to the first provider with models."""
    from babelgate.providers.presets import default_aliases

    providers = {c.name: ProviderConfig.model_validate({**c.entry, "api_keys": []}) for c in chosen}
    return {alias: str(target) for alias, target in default_aliases(providers).items()}


def capabilities_of(chosen: list[Candidate]) -> dict[str, dict[str, Any]]:
    return {
        f"{c.name}/{model}": spec.model_dump(exclude_none=True)
        for c in chosen
        for model, spec in c.capabilities.items()
        if spec.model_dump(exclude_none=True)
    }


def build(chosen: list[Candidate], host: str, port: int) -> dict[str, Any]:
    server: dict[str, Any] = {"host": host, "port": port}
    if host not in LOOPBACK:
        server["api_keys"] = [f"${{{CLIENT_KEY_VARIABLE}}}"]  # listening beyond this machine: clients must present a key
    data: dict[str, Any] = {"server": server, "providers": {c.name: c.entry for c in chosen}}
    if aliases := aliases_for(chosen):
        data["aliases"] = aliases
    if capabilities := capabilities_of(chosen):
        data["models"] = capabilities
    return data


def validate(data: dict[str, Any]) -> Config:
    """The config as `serve` will read it, with every `${VAR}` standing for a value (set or not)."""
    placeholders = yaml.safe_load(re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}", "placeholder", yaml.safe_dump(data)))
    return parse(placeholders, "the generated config")


def render(data: dict[str, Any]) -> str:
    today = datetime.date.today().isoformat()
    header = [
        f"# babelgate config, written by `babelgate init` ({__version__}) on {today} from what it found on this machine.",
        "# Keys are read from the environment when babelgate starts (${VARIABLE}); no key is stored in this file.",
        "# Every key is in docs/configuration.md; `babelgate config-schema` prints the JSON Schema for editors.",
    ]
    parts = []
    for section, comment in (
        ("server", None),
        ("providers", "# Each provider's name is also a model prefix: ask for `openai/gpt-5`."),
        ("aliases", "# Claude Code asks for claude-* models; these send them to the first provider found."),
        ("models", "# What each local server said of its models when `init` ran; delete an entry to use the shipped table."),
    ):
        if section not in data:
            continue
        dumped = yaml.safe_dump({section: data[section]}, sort_keys=False, default_flow_style=False, allow_unicode=True)
        if section == "providers" and not data[section]:
            dumped += EXAMPLE_PROVIDER
        parts.append((comment + "\n" if comment else "") + dumped)
    return "\n".join(header) + "\n\n" + "\n".join(parts)


EXAMPLE_PROVIDER = """\
# Nothing was found: no key variable set, no local server answering. Add a provider, for example
#   openai:
#     preset: openai
#     api_keys: ["${OPENAI_API_KEY}"]
"""


def write(path: Path, text: str, force: bool) -> Path | None:
    """Write `text` to `path` whole or not at all; an existing file is moved to FILE.bak (with `force`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    backup = None
    if path.exists() and force:
        backup = path.with_name(path.name + ".bak")
        os.replace(path, backup)
    os.replace(temporary, path)
    return backup


def choose(found: list[Candidate], ask: bool) -> list[Candidate]:
    if not ask:
        return found

    def question(c: Candidate) -> str:
        return f"Add {c.name} ({c.source}; {', '.join(c.entry.get('models', [])) or 'any model'})?"

    return [c for c in found if typer.confirm(question(c), default=True)]


def default_path() -> Path:
    given = os.environ.get("BABELGATE_CONFIG")
    return Path(given).expanduser() if given else Path.home() / ".config" / "babelgate" / "config.yaml"


def init(
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Where to write (default: $BABELGATE_CONFIG, else ~/.config/babelgate/config.yaml).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing file (the old one is kept as FILE.bak)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Ask nothing: add every provider found."),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Ask about each provider even when stdin is not a terminal."),
    host: str = typer.Option("127.0.0.1", help="Address the gateway will listen on (beyond loopback, clients need a key)."),
    port: int = typer.Option(DEFAULT_PORT, min=0, max=65535, help="Port the gateway will listen on."),
    local: bool = typer.Option(True, "--local/--no-local", help="Look for Ollama, llama.cpp, LM Studio and vLLM on their usual ports."),
    stdout: bool = typer.Option(False, "--stdout", help="Print the config instead of writing a file."),
) -> None:
    """Write a starter config from the key variables set and the local servers running (keys as ${VAR} references)."""
    path = (output or default_path()).expanduser()
    if not stdout and path.exists() and not force:
        console.print(f"[red]error:[/red] {path} exists; `babelgate init --force` replaces it (keeping {path.name}.bak)", highlight=False)
        raise typer.Exit(1)
    env = dict(os.environ)
    found = cloud_candidates(env) + (asyncio.run(local_candidates(env)) if local else [])
    ask = interactive or (sys.stdin.isatty() and not yes)
    chosen = choose(found, ask)
    if ask:
        port = typer.prompt("Port", default=port, type=int)
    data = build(chosen, host, port)
    try:
        validate(data)
    except ConfigError as error:  # a bug of ours, never the user's: say so plainly
        console.print(f"[red]error:[/red] babelgate init built a config it cannot read:\n{error}", highlight=False)
        raise typer.Exit(2) from None
    text = render(data)
    if stdout:
        typer.echo(text, nl=False)
        return
    backup = write(path, text, force)
    report(path, chosen, data, backup)


def report(path: Path, chosen: list[Candidate], data: dict[str, Any], backup: Path | None) -> None:
    console.print(f"wrote {path}" + (f" (the old one is {backup})" if backup else ""), highlight=False)
    for candidate in chosen:
        console.print(f"  {candidate.name}: from {candidate.source}", highlight=False)
    if not chosen:
        console.print(
            "  [yellow]no provider found[/yellow]: set a key variable (OPENAI_API_KEY, ...) or start a local server, then edit it"
        )
    if CLIENT_KEY_VARIABLE in str(data["server"].get("api_keys", "")):
        console.print(f"  clients must present ${CLIENT_KEY_VARIABLE}: set it before `babelgate serve`", highlight=False)
    option = "" if path == default_path() else f" --config {path}"
    console.print(f"next: babelgate check-config {path} && babelgate serve{option}", highlight=False)
