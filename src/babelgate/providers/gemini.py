"""Gemini generateContent (`type: gemini`): the Gemini API with an API key."""

from __future__ import annotations

from urllib.parse import quote

from babelgate.dialects import gemini
from babelgate.providers.base import Attempt
from babelgate.providers.counting import CountRequest
from babelgate.providers.http import HttpUpstream


class GeminiUpstream(HttpUpstream):
    dialect = gemini
    version = "v1beta"
    key_header = "x-goog-api-key"
    key_format = "{}"

    def url(self, model: str, stream: bool) -> str:
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.api_root}/models/{quote(model, safe='')}:{action}"

    def count_request(self, attempt: Attempt) -> CountRequest:
        """countTokens with the whole request (`generateContentRequest`), so the system instruction and tools count."""
        inner = {"model": f"models/{attempt.model}", **self.encode(attempt)}
        return CountRequest(
            f"{self.api_root}/models/{quote(attempt.model, safe='')}:countTokens", {"generateContentRequest": inner}, "totalTokens"
        )
