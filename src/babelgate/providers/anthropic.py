"""Anthropic Messages (`type: anthropic`): api.anthropic.com, or any server that speaks it.

Claude on Azure AI Foundry is this type too: `base_url: https://NAME.services.ai.azure.com/anthropic`
(requests go to `/anthropic/v1/messages`) takes the key in `x-api-key`, as Anthropic's API does;
without keys such a provider signs in with Microsoft Entra ID for `https://ai.azure.com/.default`
(providers/entra.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from babelgate.dialects import anthropic
from babelgate.dialects.anthropic.deferred import undefer
from babelgate.providers.base import Attempt
from babelgate.providers.counting import CountRequest
from babelgate.providers.entra import FOUNDRY_SCOPE, is_foundry
from babelgate.providers.http import HttpUpstream

ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_HOST = "api.anthropic.com"
# What /v1/messages/count_tokens takes; anything else is "<field>: Extra inputs are not permitted".
COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "context_management", "output_config")


class AnthropicUpstream(HttpUpstream):
    dialect = anthropic
    version = "v1"
    key_header = "x-api-key"
    key_format = "{}"

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/messages"

    @cached_property
    def defers_tools(self) -> bool:
        """Whether the upstream takes deferred tools (`defer_tools`; unset: only Anthropic's own API)."""
        if self.config.defer_tools is not None:
            return self.config.defer_tools
        return urlsplit(self.config.base_url).hostname == ANTHROPIC_HOST

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        body = super().encode(attempt)
        return body if self.defers_tools or attempt.raw is None else undefer(body)  # the translated path loads only loaded tools

    def count_request(self, attempt: Attempt) -> CountRequest:
        body = {key: value for key, value in self.encode(attempt).items() if key in COUNT_FIELDS}
        return CountRequest(f"{self.api_root}/messages/count_tokens", body, "input_tokens")

    def entra_scope(self) -> str | None:
        return self.config.entra_scope or (FOUNDRY_SCOPE if is_foundry(self.config.base_url) else None)

    def headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        """The client's API version and beta features travel with its request."""
        headers = super().headers(client_headers)
        headers["anthropic-version"] = client_headers.get("anthropic-version", ANTHROPIC_VERSION)
        if "anthropic-beta" in client_headers:
            headers["anthropic-beta"] = client_headers["anthropic-beta"]
        return headers
