"""One upstream each: where it lives, how to authenticate, which dialect it speaks.

A provider owns one pooled aiohttp session for its whole life; requests never open
their own sessions.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import quote

import aiohttp

from babelgate.config import KeySpec, ProviderConfig
from babelgate.dialects import anthropic, openai_chat
from babelgate.dialects.base import Dialect, EncodeOptions

ANTHROPIC_VERSION = "2023-06-01"
FORWARDED_ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")


@dataclass(frozen=True, slots=True)
class Credential:
    """One API key of a provider. `id` is stable and safe to show: it never contains the key."""

    id: str
    provider: str
    key: str
    weight: int = 1
    priority: int = 0

    @property
    def redacted(self) -> str:
        if len(self.key) <= 8:
            return "****"
        return f"{self.key[:4]}…{self.key[-4:]}"


def _dialect(kind: str) -> Dialect:
    if kind == "anthropic":
        return anthropic
    if kind == "openai":
        return openai_chat
    if kind == "openai-responses":
        from babelgate.dialects import openai_responses

        return openai_responses
    from babelgate.dialects import gemini

    return gemini


class Provider:
    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self.dialect = _dialect(config.type)
        self.options = EncodeOptions(
            max_tokens_field=config.max_tokens_field,
            reasoning_effort=config.reasoning_effort,
            echo_reasoning=config.echo_reasoning,
        )
        self.credentials = [self._credential(i, spec) for i, spec in enumerate(config.api_keys)] or [Credential(f"{name}#0", name, "")]
        self._session: aiohttp.ClientSession | None = None

    def add_credential(self, name: str, key: str) -> None:
        """A key added with `babelgate accounts add` (kept in the store, not the config)."""
        if self.credentials == [Credential(f"{self.name}#0", self.name, "")]:
            self.credentials = []
        self.credentials.append(Credential(f"{self.name}#{name}", self.name, key))

    def _credential(self, index: int, spec: str | KeySpec) -> Credential:
        if isinstance(spec, str):
            return Credential(f"{self.name}#{index}", self.name, spec)
        return Credential(f"{self.name}#{spec.name or index}", self.name, spec.key, spec.weight, spec.priority)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout, sock_read=self.config.read_timeout)
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def max_tokens_cap(self, model: str) -> int | None:
        cap = self.config.max_tokens
        if cap is None or isinstance(cap, int):
            return cap
        for pattern, value in cap.items():
            if fnmatch.fnmatchcase(model, pattern):
                return value
        return None

    @cached_property
    def api_root(self) -> str:
        """`base_url` with the API version segment: users may write it with or without one."""
        base = self.config.base_url
        if self.config.type == "anthropic" and not base.endswith("/v1"):
            return f"{base}/v1"
        if self.config.type == "gemini" and not base.rsplit("/", 1)[-1].startswith("v1"):
            return f"{base}/v1beta"
        return base

    def url(self, model: str, stream: bool) -> str:
        kind = self.config.type
        if kind == "openai":
            return f"{self.api_root}/chat/completions"
        if kind == "openai-responses":
            return f"{self.api_root}/responses"
        if kind == "anthropic":
            return f"{self.api_root}/messages"
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.api_root}/models/{quote(model, safe='')}:{action}"

    def headers(self, credential: Credential, client_headers: Mapping[str, str]) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.config.headers}
        kind = self.config.type
        if kind == "anthropic":
            if credential.key:
                headers["x-api-key"] = credential.key
            headers["anthropic-version"] = client_headers.get("anthropic-version", ANTHROPIC_VERSION)
            if "anthropic-beta" in client_headers:
                headers["anthropic-beta"] = client_headers["anthropic-beta"]
        elif kind == "gemini":
            if credential.key:
                headers["x-goog-api-key"] = credential.key
        elif credential.key:
            headers["Authorization"] = f"Bearer {credential.key}"
        return headers

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.config.type, "base_url": self.config.base_url, "credentials": len(self.credentials)}
