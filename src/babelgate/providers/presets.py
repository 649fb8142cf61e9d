"""Well-known providers: what `babelgate serve` builds when there is no config file.

Cloud providers come from the standard key variables, each as `preset: NAME` (the settings its
API needs are in babelgate/provider_presets.py); local servers are found on their usual ports
(providers/local_servers.py), and what they say of their models fills `Config.discovered` for
the capability table.
"""

from __future__ import annotations

import os

from babelgate.config import Config, ProviderConfig
from babelgate.provider_presets import CLOUD, OPENROUTER_HEADERS, PRESETS, Preset
from babelgate.providers.local_servers import LOCAL, probe_local

__all__ = [
    "CLOUD",
    "OPENROUTER_HEADERS",
    "PRESETS",
    "Preset",
    "default_aliases",
    "discover",
    "find_local_servers",
    "from_environment",
    "provider_config",
]


def provider_config(preset: Preset, keys: list[str]) -> ProviderConfig:
    models = [m for m in dict.fromkeys((preset.big, preset.small)) if m]
    return ProviderConfig.model_validate({"preset": preset.name, "api_keys": keys, "models": models})


def from_environment(env: dict[str, str] | None = None) -> dict[str, ProviderConfig]:
    env = dict(os.environ) if env is None else env
    providers: dict[str, ProviderConfig] = {}
    for preset in CLOUD:
        keys = [env[name] for name in preset.env if env.get(name)]
        if keys:
            providers[preset.name] = provider_config(preset, keys[:1])
    return providers


async def find_local_servers(ports: tuple[tuple[str, int], ...] = LOCAL) -> dict[str, ProviderConfig]:
    return {found.name: found.config for found in await probe_local(ports)}


def default_aliases(providers: dict[str, ProviderConfig]) -> dict[str, str | list[str]]:
    """Claude Code asks for claude-* names; send them to the first provider that is not Anthropic."""
    if "anthropic" in providers:
        return {}
    for name, provider in providers.items():
        if provider.models:
            big = provider.models[0]
            small = provider.models[1] if len(provider.models) > 1 else big
            return {"claude-haiku-*": f"{name}/{small}", "claude-*": f"{name}/{big}"}
    return {}


async def discover(env: dict[str, str] | None = None, ports: tuple[tuple[str, int], ...] = LOCAL) -> Config:
    providers = from_environment(env)
    local = await probe_local(ports, env)
    providers.update({found.name: found.config for found in local})
    config = Config(providers=providers, aliases=default_aliases(providers))
    config.discovered.update({f"{found.name}/{model}": spec for found in local for model, spec in found.models.items()})
    return config
