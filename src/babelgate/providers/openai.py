"""OpenAI Chat Completions (`type: openai`): OpenAI and every compatible server (OpenRouter,
DeepSeek, Groq, Mistral, xAI, llama.cpp, Ollama, vLLM, LM Studio...).

What a compatible server rejects or spells otherwise is declared in its config (`drop_fields`,
`rename_fields`, `tool_call_ids`, `reasoning_field`; the presets set them) and applied to
every body on its way out by `providers/quirks.py`.
"""

from __future__ import annotations

from typing import Any

from babelgate.config import ProviderConfig
from babelgate.dialects import openai_chat
from babelgate.providers.base import Attempt
from babelgate.providers.http import HttpUpstream
from babelgate.providers.quirks import Quirks


class OpenAIChatUpstream(HttpUpstream):
    dialect = openai_chat

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self.quirks = Quirks.of(config)

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/chat/completions"

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        body = super().encode(attempt)
        self.quirks.apply(body, attempt.request)
        return body
