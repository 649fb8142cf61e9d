"""Azure OpenAI: Chat Completions (`type: azure-openai`) and Responses (`type: azure-openai-responses`).

`base_url` is the resource endpoint, https://NAME.openai.azure.com. With an `api_version`
(such as 2024-10-21) requests take the dated routes: Chat Completions names the deployment in
the path, `/openai/deployments/{deployment}/chat/completions?api-version=...`; Responses has no
deployment segment, `/openai/responses?api-version=...`. Without one they go to the v1 API,
`/openai/v1/chat/completions` and `/openai/v1/responses`. Either way the body's `model` is the
deployment name.

`deployments` maps the model names users route to onto deployment names; a model it does not
name is its own deployment. The key travels in `api-key`; a provider without keys signs in with
Microsoft Entra ID (providers/entra.py) for `https://cognitiveservices.azure.com/.default`.

The two APIs are two types, as `openai` and `openai-responses` are: the type names the wire
format (the family's `dialect`), and one resource serving both is two providers.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import quote, urlencode

from babelgate.providers.base import Attempt
from babelgate.providers.entra import AZURE_OPENAI_SCOPE
from babelgate.providers.http import HttpUpstream
from babelgate.providers.openai import OpenAIChatUpstream
from babelgate.providers.responses import OpenAIResponsesUpstream


class AzureResource(HttpUpstream):
    """What both Azure OpenAI APIs share: the resource's routes, the `api-key`, deployments, Entra ID."""

    key_header = "api-key"
    key_format = "{}"

    @cached_property
    def api_root(self) -> str:
        """`{resource}/openai` (dated API) or `{resource}/openai/v1`; `base_url` may already end in either."""
        resource = self.config.base_url.removesuffix("/v1").removesuffix("/openai")
        return f"{resource}/openai" if self.config.api_version else f"{resource}/openai/v1"

    def entra_scope(self) -> str | None:
        return self.config.entra_scope or AZURE_OPENAI_SCOPE

    def deployment(self, model: str) -> str:
        return self.config.deployments.get(model, model)

    def _api_url(self, path: str) -> str:
        """A URL of the API in use: the dated API wants its api-version on every request."""
        version = self.config.api_version
        return f"{self.api_root}/{path}?{urlencode({'api-version': version})}" if version else f"{self.api_root}/{path}"

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        body = super().encode(attempt)
        body["model"] = self.deployment(attempt.model)
        return body

    def models_url(self) -> str:
        return self._api_url("models")


class AzureOpenAIUpstream(AzureResource, OpenAIChatUpstream):
    def url(self, model: str, stream: bool) -> str:
        if self.config.api_version:
            return self._api_url(f"deployments/{quote(self.deployment(model), safe='')}/chat/completions")
        return self._api_url("chat/completions")


class AzureOpenAIResponsesUpstream(AzureResource, OpenAIResponsesUpstream):
    def url(self, model: str, stream: bool) -> str:
        return self._api_url("responses")

    def count_url(self) -> str:
        return self._api_url("responses/input_tokens")
