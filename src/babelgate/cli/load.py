"""The config every command starts from: the config file if there is one, else what
discovery finds in the environment and on local ports."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

from babelgate import config as config_module
from babelgate import redact
from babelgate.config import Config, ConfigError

console = Console(stderr=True, soft_wrap=True)


def load_config(path_option: str | None, *, announce: bool = True) -> Config:
    path = config_module.find_path(path_option)
    if path is not None:
        try:
            return config_module.load(path)
        except ConfigError as error:
            console.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
            raise typer.Exit(2) from None
    from babelgate.providers.presets import discover

    found = asyncio.run(discover())
    if announce:
        _announce_discovery(found)
    return found


def _announce_discovery(found: Config) -> None:
    console.print("No config file found; using providers found in the environment and on local ports.")
    if not found.providers:
        console.print(
            "  [yellow]none found[/yellow]: set OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, OPENROUTER_API_KEY, "
            "DEEPSEEK_API_KEY, ... or start Ollama / llama.cpp / LM Studio / vLLM, or write ~/.config/babelgate/config.yaml "
            "(see docs/configuration.md)."
        )
    for name, provider in found.providers.items():
        models = ", ".join(provider.models) or "any model as " + name + "/<model>"
        console.print(f"  {name}: {provider.type} at {redact.url(provider.base_url)} ({models})", highlight=False)
    for alias, target in found.aliases.items():
        console.print(f"  alias {alias} -> {target}", highlight=False)
