"""Azure OpenAI (`type: azure-openai`): Chat Completions on an Azure resource, the key in `api-key`.

`base_url` is the resource endpoint, https://NAME.openai.azure.com. With an `api_version`
(such as 2024-10-21) requests take the dated route, where the model name is the deployment
name: `/openai/deployments/{model}/chat/completions?api-version=...`. Without one they go to
the v1 API, `/openai/v1/chat/completions`, with the deployment name as the body's `model`.
"""

from __future__ import annotations

from functools import cached_property
from urllib.parse import quote, urlencode

from babelgate.providers.openai import OpenAIChatUpstream


class AzureOpenAIUpstream(OpenAIChatUpstream):
    key_header = "api-key"
    key_format = "{}"

    @cached_property
    def api_root(self) -> str:
        """`{resource}/openai` (dated API) or `{resource}/openai/v1`; `base_url` may already end in either."""
        resource = self.config.base_url.removesuffix("/v1").removesuffix("/openai")
        return f"{resource}/openai" if self.config.api_version else f"{resource}/openai/v1"

    def _api_url(self, path: str) -> str:
        """A URL of the API in use: the dated API wants its api-version on every request."""
        version = self.config.api_version
        return f"{self.api_root}/{path}?{urlencode({'api-version': version})}" if version else f"{self.api_root}/{path}"

    def url(self, model: str, stream: bool) -> str:
        if self.config.api_version:
            return self._api_url(f"deployments/{quote(model, safe='')}/chat/completions")
        return self._api_url("chat/completions")

    def models_url(self) -> str:
        return self._api_url("models")
