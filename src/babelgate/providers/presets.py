"""Well-known providers: what `babelgate serve` builds when there is no config file.

Cloud providers come from the standard key variables; local servers are found by
asking their usual ports for `/v1/models`.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import aiohttp

from babelgate.config import Config, KeySpec, ProviderConfig


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    env: tuple[str, ...]
    type: str
    base_url: str
    big: str = ""
    small: str = ""
    max_tokens_field: str = "max_tokens"
    echo_reasoning: bool = False


CLOUD = (
    Preset("anthropic", ("ANTHROPIC_API_KEY",), "anthropic", "https://api.anthropic.com"),
    Preset("openai", ("OPENAI_API_KEY",), "openai", "https://api.openai.com/v1", "gpt-5", "gpt-5-mini", "max_completion_tokens"),
    Preset(
        "gemini",
        ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        "gemini",
        "https://generativelanguage.googleapis.com",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
    ),
    Preset("openrouter", ("OPENROUTER_API_KEY",), "openai", "https://openrouter.ai/api/v1"),
    Preset(
        "deepseek", ("DEEPSEEK_API_KEY",), "openai", "https://api.deepseek.com/v1", "deepseek-chat", "deepseek-chat", echo_reasoning=True
    ),
    Preset("groq", ("GROQ_API_KEY",), "openai", "https://api.groq.com/openai/v1"),
    Preset("mistral", ("MISTRAL_API_KEY",), "openai", "https://api.mistral.ai/v1", "mistral-large-latest", "mistral-small-latest"),
    Preset("xai", ("XAI_API_KEY",), "openai", "https://api.x.ai/v1"),
    Preset("together", ("TOGETHER_API_KEY",), "openai", "https://api.together.xyz/v1"),
    Preset("fireworks", ("FIREWORKS_API_KEY",), "openai", "https://api.fireworks.ai/inference/v1"),
    Preset("cerebras", ("CEREBRAS_API_KEY",), "openai", "https://api.cerebras.ai/v1"),
)
LOCAL = (
    ("ollama", 11434),
    ("llamacpp", 8080),
    ("lmstudio", 1234),
    ("vllm", 8000),
)


def from_environment(env: dict[str, str] | None = None) -> dict[str, ProviderConfig]:
    env = dict(os.environ) if env is None else env
    providers: dict[str, ProviderConfig] = {}
    for preset in CLOUD:
        keys = [env[name] for name in preset.env if env.get(name)]
        if not keys:
            continue
        providers[preset.name] = ProviderConfig(
            type=preset.type,
            base_url=preset.base_url,
            api_keys=list[str | KeySpec](keys[:1]),
            models=[m for m in dict.fromkeys((preset.big, preset.small)) if m],
            max_tokens_field=preset.max_tokens_field,  # type: ignore[arg-type]
            echo_reasoning=preset.echo_reasoning,
        )
    return providers


async def _probe(session: aiohttp.ClientSession, name: str, port: int) -> tuple[str, ProviderConfig] | None:
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        async with session.get(f"{base_url}/models") as response:
            if response.status != 200:
                return None
            body = await response.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None
    models = [str(m["id"]) for m in (body or {}).get("data", []) if isinstance(m, dict) and "id" in m]
    return name, ProviderConfig(type="openai", base_url=base_url, models=models)


async def find_local_servers(ports: tuple[tuple[str, int], ...] = LOCAL) -> dict[str, ProviderConfig]:
    timeout = aiohttp.ClientTimeout(total=0.8)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        found = await asyncio.gather(*(_probe(session, name, port) for name, port in ports))
    return dict(item for item in found if item is not None)


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


async def discover() -> Config:
    providers = from_environment()
    providers.update(await find_local_servers())
    return Config(providers=providers, aliases=default_aliases(providers))
