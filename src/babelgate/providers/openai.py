"""OpenAI Chat Completions (`type: openai`): OpenAI and every compatible server (OpenRouter,
DeepSeek, Groq, Mistral, xAI, llama.cpp, Ollama, vLLM, LM Studio...)."""

from __future__ import annotations

from babelgate.dialects import openai_chat
from babelgate.providers.http import HttpUpstream


class OpenAIChatUpstream(HttpUpstream):
    dialect = openai_chat

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/chat/completions"
