"""Which class serves each provider `type:` of the config. Adding a family is one file and one line here.

Classes are named by import path and loaded when first used, so a gateway imports only the
families it is configured with, and this module imports nothing of babelgate (the config
checks `type:` against it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from babelgate.config import ProviderConfig
    from babelgate.providers.base import Upstream

UPSTREAM_TYPES: dict[str, str] = {
    "openai": "babelgate.providers.openai:OpenAIChatUpstream",
    "openai-responses": "babelgate.providers.responses:OpenAIResponsesUpstream",
    "anthropic": "babelgate.providers.anthropic:AnthropicUpstream",
    "gemini": "babelgate.providers.gemini:GeminiUpstream",
    "azure-openai": "babelgate.providers.azure:AzureOpenAIUpstream",
}


def upstream_class(type_name: str) -> type[Upstream]:
    module, _, name = UPSTREAM_TYPES[type_name].partition(":")
    return cast("type[Upstream]", getattr(importlib.import_module(module), name))


def build(name: str, config: ProviderConfig) -> Upstream:
    return upstream_class(config.type)(name, config)
