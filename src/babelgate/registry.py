"""What can be named in the config: the class behind each provider `type:`, and the built-in addons.

Adding a provider family is one file under providers/ and one line in `UPSTREAM_TYPES`; adding
a built-in addon is one file under addons/ and one line in `BUILTIN_ADDONS`, whose order is the
order its hooks run. Classes are named by import path and loaded when first used, so a gateway
imports only what it is configured with, and this module imports nothing of babelgate at run
time (the config checks names against it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from babelgate.config import ProviderConfig
    from babelgate.providers.base import Upstream

UPSTREAM_TYPES: dict[str, str] = {
    "openai": "babelgate.providers.openai:OpenAIChatUpstream",
    "openai-responses": "babelgate.providers.responses:OpenAIResponsesUpstream",
    "anthropic": "babelgate.providers.anthropic:AnthropicUpstream",
    "gemini": "babelgate.providers.gemini:GeminiUpstream",
    "azure-openai": "babelgate.providers.azure:AzureOpenAIUpstream",
    "azure-openai-responses": "babelgate.providers.azure:AzureOpenAIResponsesUpstream",
    "bedrock": "babelgate.providers.bedrock:BedrockUpstream",
    "vertex": "babelgate.providers.vertex:VertexUpstream",
}

BUILTIN_ADDONS: dict[str, str] = {
    "warmup": "babelgate.addons.warmup:Warmup",
    "session_recovery": "babelgate.addons.session_recovery:SessionRecovery",
    "claude_code": "babelgate.addons.claude_code:ClaudeCode",
    "signatures": "babelgate.addons.signatures:Signatures",
    "usage": "babelgate.addons.usage:Usage",
    "context_overflow": "babelgate.addons.context_overflow:ContextOverflow",
    "safeguards": "babelgate.addons.safeguards:Safeguards",
    "usage_scaling": "babelgate.addons.usage_scaling:UsageScaling",
}
# Built-ins that stay off unless the config's `addons:` switches them on.
OPT_IN_ADDONS = frozenset({"warmup", "usage_scaling"})


def load(path: str) -> Any:
    """The object a "module:name" path names (ImportError or AttributeError when it cannot)."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def build_upstream(name: str, config: ProviderConfig) -> Upstream:
    family = cast("type[Upstream]", load(UPSTREAM_TYPES[config.type]))
    return family(name, config)
