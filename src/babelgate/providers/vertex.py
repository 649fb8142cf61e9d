"""Google Vertex AI (`type: vertex`): Gemini and Claude models of one project and location.

Gemini models speak the gemini dialect, unchanged, at
`{base}/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent` (and
`:streamGenerateContent?alt=sse`). Claude models (ids starting `claude`) speak Anthropic
Messages at `.../publishers/anthropic/models/{m}:rawPredict` (and `:streamRawPredict`, SSE in
Anthropic's format), with the body Vertex wants: `anthropic_version: "vertex-2023-10-16"`, no
`model` (it is in the URL), no request `tags` and no request-tags beta; `anthropic-beta`
stays a header. `base` is `https://aiplatform.googleapis.com` for the `global` location and
`https://{location}-aiplatform.googleapis.com` for a region, unless `base_url` says otherwise.

Requests carry `Authorization: Bearer` with a Google access token (providers/gcp_tokens.py:
a service-account file or Application Default Credentials). A 401 means the token went stale
or was revoked: the token is renewed once and the request retried, before the failure counts
against the credential.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from babelgate.config import ProviderConfig
from babelgate.dialects import anthropic, gemini
from babelgate.dialects.base import Dialect
from babelgate.errors import UpstreamError
from babelgate.providers import transport
from babelgate.providers.base import Attempt, Credential, Outgoing, Reply
from babelgate.providers.gcp_tokens import GoogleTokens, TokenError
from babelgate.providers.http import VERIFY_SECONDS, HttpUpstream
from babelgate.providers.stream import READ_ERRORS, reason

log = logging.getLogger("babelgate.upstream")
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
REQUEST_TAGS_BETA = "request-tags-2026-08-21"  # Vertex rejects it, as it rejects the `tags` field it enables


def default_endpoint(location: str) -> str:
    return "https://aiplatform.googleapis.com" if location == "global" else f"https://{location}-aiplatform.googleapis.com"


def is_claude(model: str) -> bool:
    return model.startswith("claude")


class VertexUpstream(HttpUpstream):
    """The Gemini side, and the provider the router sees; `claude` serves the Anthropic models."""

    dialect = gemini
    version = "v1"

    def __init__(self, name: str, config: ProviderConfig) -> None:
        super().__init__(name, config.model_copy(update={"base_url": config.base_url or default_endpoint(config.location)}))
        self.tokens = GoogleTokens(self.config.credentials_file)
        self.claude = VertexClaude(self)

    def dialect_for(self, model: str) -> Dialect:
        return anthropic if is_claude(model) else gemini

    def model_url(self, publisher: str, model: str, action: str) -> str:
        project = quote(self.config.project or "", safe=":")
        where = f"{self.api_root}/projects/{project}/locations/{self.config.location}"
        return f"{where}/publishers/{publisher}/models/{quote(model, safe='@')}:{action}"

    def url(self, model: str, stream: bool) -> str:
        return self.model_url("google", model, "streamGenerateContent?alt=sse" if stream else "generateContent")

    async def authenticate(self, request: Outgoing, credential: Credential) -> None:
        try:
            token = await self.tokens.token()
        except TokenError as error:
            raise self.error(error.status, f"{self.name}: {error.message}") from None
        request.headers["Authorization"] = f"Bearer {token}"

    async def send(self, attempt: Attempt) -> Reply:
        send = self.claude.send if is_claude(attempt.model) else super().send
        generation = self.tokens.generation
        try:
            return await send(attempt)
        except UpstreamError as error:
            if error.upstream_status != 401:
                raise
            log.info("%s refused its access token (%s); renewing it and retrying once", self.name, error.message[:200])
        try:
            await self.tokens.renew(generation)
        except TokenError as error:
            raise self.error(error.status, f"{self.name}: {error.message}") from None
        return await send(attempt)

    async def verify(self, credential: Credential) -> tuple[int, str]:
        """Get a token (it proves the credentials), then count tokens of one word, which is free."""
        outgoing = self._verify_request()
        try:
            await self.authenticate(outgoing, credential)
        except UpstreamError as error:
            return error.upstream_status, error.message
        if not outgoing.url:
            return 200, "ok (token only: no model is listed to check)"
        try:
            sent = self.client.request("POST", outgoing.url, outgoing.headers, outgoing.body)
            async with asyncio.timeout(VERIFY_SECONDS), await sent as response:
                text = await response.text()
        except (*READ_ERRORS, OSError) as error:
            return 0, f"unreachable: {reason(error)}"
        return (200, "ok") if response.status == 200 else (response.status, text[:200])

    def _verify_request(self) -> Outgoing:
        """countTokens on the first Gemini model listed, else Claude's count-tokens; no URL when no model is listed."""
        headers = self.headers({})
        models = [m for m in self.config.models if not any(c in m for c in "*?[")]
        gemini_model = next((m for m in models if not is_claude(m)), None)
        if gemini_model is not None:
            body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "ping"}]}]}
            return Outgoing("POST", self.model_url("google", gemini_model, "countTokens"), headers, orjson.dumps(body))
        if models:
            body = {"anthropic_version": VERTEX_ANTHROPIC_VERSION, "model": models[0], "messages": [{"role": "user", "content": "ping"}]}
            return Outgoing("POST", self.model_url("anthropic", "count-tokens", "rawPredict"), headers, orjson.dumps(body))
        return Outgoing("POST", "", headers)

    def add_credential(self, name: str, key: str) -> None:
        log.warning("%s: a stored key (%s) is ignored: vertex authenticates with Google credentials", self.name, name)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "project": self.config.project, "location": self.config.location}

    async def close(self) -> None:
        await super().close()
        self.tokens.close()


class VertexClaude(HttpUpstream):
    """Claude on Vertex: Anthropic Messages through rawPredict, on its owner's client and tokens."""

    dialect = anthropic

    def __init__(self, owner: VertexUpstream) -> None:
        super().__init__(owner.name, owner.config)
        self.owner = owner

    @property
    def client(self) -> transport.Client:
        return self.owner.client

    def url(self, model: str, stream: bool) -> str:
        return self.owner.model_url("anthropic", model, "streamRawPredict" if stream else "rawPredict")

    def headers(self, client_headers: Mapping[str, str]) -> dict[str, str]:
        headers = super().headers(client_headers)
        betas = [b.strip() for b in client_headers.get("anthropic-beta", "").split(",")]
        kept = [b for b in betas if b and b != REQUEST_TAGS_BETA]
        if kept:
            headers["anthropic-beta"] = ",".join(kept)
        return headers

    async def authenticate(self, request: Outgoing, credential: Credential) -> None:
        await self.owner.authenticate(request, credential)

    def encode(self, attempt: Attempt) -> dict[str, Any]:
        body = super().encode(attempt)
        body.pop("model", None)
        body.pop("tags", None)
        body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
        return body
