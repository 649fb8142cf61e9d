"""Well-known providers: what `babelgate serve` builds when there is no config file.

Cloud providers come from the standard key variables, each with the settings its API needs
(`settings`: any ProviderConfig fields, such as the request fields it rejects); local servers
are found on their usual ports (providers/local_servers.py), and what they say of their
models fills `Config.discovered` for the capability table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from babelgate.config import Config, ProviderConfig
from babelgate.providers.local_servers import LOCAL, probe_local

PROJECT_URL = "https://github.com/babelgate/babelgate"
# OpenRouter's app attribution: HTTP-Referer names the app, X-Title is its display name.
OPENROUTER_HEADERS = {"HTTP-Referer": PROJECT_URL, "X-Title": "babelgate"}

# Request fields of OpenAI's Chat Completions that each API's reference does not take.
GROQ_REJECTS = ["logprobs", "top_logprobs", "logit_bias", "messages[].name", "messages[].reasoning_content"]
MISTRAL_REJECTS = [
    *("audio", "function_call", "functions", "logit_bias", "logprobs", "modalities", "safety_identifier", "store"),
    *("stream_options", "top_logprobs", "user", "verbosity", "web_search_options"),
    *("messages[].name", "messages[].reasoning_content", "messages[].refusal", "messages[].annotations"),
    *("messages[].audio", "messages[].function_call"),
]
CEREBRAS_REJECTS = [
    *("audio", "function_call", "functions", "metadata", "modalities", "safety_identifier", "store", "verbosity"),
    *("web_search_options", "messages[].refusal", "messages[].annotations", "messages[].audio", "messages[].function_call"),
]


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    env: tuple[str, ...]
    type: str
    base_url: str
    big: str = ""
    small: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)  # more ProviderConfig fields


CLOUD = (
    Preset("anthropic", ("ANTHROPIC_API_KEY",), "anthropic", "https://api.anthropic.com"),
    Preset(
        "openai",
        ("OPENAI_API_KEY",),
        "openai",
        "https://api.openai.com/v1",
        "gpt-5",
        "gpt-5-mini",
        {"max_tokens_field": "max_completion_tokens"},
    ),
    Preset(
        "gemini",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "gemini",
        "https://generativelanguage.googleapis.com",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
    ),
    Preset(
        "openrouter",
        ("OPENROUTER_API_KEY",),
        "openai",
        "https://openrouter.ai/api/v1",
        settings={"headers": OPENROUTER_HEADERS, "reasoning_effort": True, "reasoning_field": "reasoning"},
    ),
    Preset(
        "deepseek",
        ("DEEPSEEK_API_KEY",),
        "openai",
        "https://api.deepseek.com/v1",
        "deepseek-chat",
        "deepseek-chat",
        {"echo_reasoning": True},
    ),
    Preset("groq", ("GROQ_API_KEY",), "openai", "https://api.groq.com/openai/v1", settings={"drop_fields": GROQ_REJECTS}),
    Preset(
        "mistral",
        ("MISTRAL_API_KEY",),
        "openai",
        "https://api.mistral.ai/v1",
        "mistral-large-latest",
        "mistral-small-latest",
        {
            "drop_fields": MISTRAL_REJECTS,
            "rename_fields": {"seed": "random_seed", "max_completion_tokens": "max_tokens"},
            "tool_call_ids": "alnum9",
        },
    ),
    Preset("xai", ("XAI_API_KEY",), "openai", "https://api.x.ai/v1"),
    Preset("together", ("TOGETHER_API_KEY",), "openai", "https://api.together.xyz/v1"),
    Preset("fireworks", ("FIREWORKS_API_KEY",), "openai", "https://api.fireworks.ai/inference/v1"),
    Preset(
        "cerebras",
        ("CEREBRAS_API_KEY",),
        "openai",
        "https://api.cerebras.ai/v1",
        settings={"drop_fields": CEREBRAS_REJECTS, "rename_fields": {"messages[].reasoning_content": "reasoning"}},
    ),
)
PRESETS = {preset.name: preset for preset in CLOUD}


def provider_config(preset: Preset, keys: list[str]) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {
            "type": preset.type,
            "base_url": preset.base_url,
            "api_keys": keys,
            "models": [m for m in dict.fromkeys((preset.big, preset.small)) if m],
            **preset.settings,
        }
    )


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
