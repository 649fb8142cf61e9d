"""The settings each well-known provider needs, by name: what zero-config builds from a key
variable (providers/presets.py), and what a provider written `preset: NAME` in the config starts
from (its type, base_url and settings; the config's own keys win, `headers` merge).

Pure data, imported by the config: it imports nothing of babelgate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# OpenRouter's app attribution: X-Title is the app's display name; HTTP-Referer (the app's URL)
# is the user's own to set in `headers`, as babelgate has no URL to claim.
OPENROUTER_HEADERS = {"X-Title": "babelgate"}

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

    @property
    def defaults(self) -> dict[str, Any]:
        """The ProviderConfig fields a provider with `preset: NAME` starts from."""
        return {"type": self.type, "base_url": self.base_url, **self.settings}


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
