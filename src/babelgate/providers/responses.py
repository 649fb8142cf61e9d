"""OpenAI Responses (`type: openai-responses`): `POST /responses`, the API Codex speaks."""

from __future__ import annotations

from typing import Any

from babelgate.dialects import openai_responses
from babelgate.providers.base import Attempt
from babelgate.providers.counting import CountRequest
from babelgate.providers.http import HttpUpstream

# What /responses/input_tokens takes; anything else is "Unknown parameter: '<field>'.".
COUNT_FIELDS = (
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "text",
    "truncation",
    "conversation",
    "previous_response_id",
)


def input_tokens_body(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key in COUNT_FIELDS}


class OpenAIResponsesUpstream(HttpUpstream):
    dialect = openai_responses
    min_output_tokens = 16  # "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16 ..."

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/responses"

    def count_url(self) -> str:
        return f"{self.api_root}/responses/input_tokens"

    def count_request(self, attempt: Attempt) -> CountRequest:
        return CountRequest(self.count_url(), input_tokens_body(self.encode(attempt)), "input_tokens")
