"""OpenAI Chat Completions (`type: openai`): OpenAI and every compatible server (OpenRouter,
DeepSeek, Groq, Mistral, xAI, llama.cpp, Ollama, vLLM, LM Studio...).

What a compatible server rejects or spells otherwise is declared in its config (`drop_fields`,
`rename_fields`, `tool_call_ids`, `reasoning_field`; the presets set them) and applied to
every body on its way out by `providers/quirks.py`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from babelgate.config import ProviderConfig
from babelgate.dialects import openai_chat, openai_responses
from babelgate.dialects.base import EncodeOptions
from babelgate.providers.base import Attempt
from babelgate.providers.counting import CountRequest
from babelgate.providers.http import HttpUpstream
from babelgate.providers.quirks import Quirks
from babelgate.providers.responses import input_tokens_body

OPENAI_HOST = "api.openai.com"  # the one Chat Completions server whose models the Responses API also counts


class OpenAIChatUpstream(HttpUpstream):
    dialect = openai_chat

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config)
        self.quirks = Quirks.of(config)

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/chat/completions"

    def count_request(self, attempt: Attempt) -> CountRequest | None:
        """OpenAI's own models count with `/responses/input_tokens`; a compatible server has no counting endpoint."""
        if urlsplit(self.config.base_url).hostname != OPENAI_HOST:
            return None
        body = openai_responses.encode_request(attempt.request, attempt.model, EncodeOptions())
        return CountRequest(f"{self.api_root}/responses/input_tokens", input_tokens_body(body), "input_tokens")

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        body = super().encode(attempt)
        if self.options.max_tokens_field == "max_completion_tokens" and "max_tokens" in body:  # the client's own body too
            body["max_completion_tokens"] = body.pop("max_tokens")
        self.quirks.apply(body, attempt.request)
        return body
