"""OpenAI Responses (`type: openai-responses`): `POST /responses`, the API Codex speaks."""

from __future__ import annotations

from babelgate.dialects import openai_responses
from babelgate.providers.http import HttpUpstream


class OpenAIResponsesUpstream(HttpUpstream):
    dialect = openai_responses

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/responses"
