"""Anthropic Messages (`type: anthropic`): api.anthropic.com, or any server that speaks it."""

from __future__ import annotations

from collections.abc import Mapping

from babelgate.dialects import anthropic
from babelgate.providers.http import HttpUpstream

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicUpstream(HttpUpstream):
    dialect = anthropic
    version = "v1"
    key_header = "x-api-key"
    key_format = "{}"

    def url(self, model: str, stream: bool) -> str:
        return f"{self.api_root}/messages"

    def headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        """The client's API version and beta features travel with its request."""
        headers = super().headers(client_headers)
        headers["anthropic-version"] = client_headers.get("anthropic-version", ANTHROPIC_VERSION)
        if "anthropic-beta" in client_headers:
            headers["anthropic-beta"] = client_headers["anthropic-beta"]
        return headers
