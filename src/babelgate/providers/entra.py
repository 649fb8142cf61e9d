"""Microsoft Entra ID tokens for a provider without keys, from azure-identity's DefaultAzureCredential.

Azure OpenAI and Azure AI Foundry take `Authorization: Bearer <token>` for a scope:
`https://cognitiveservices.azure.com/.default` (Azure OpenAI), `https://ai.azure.com/.default`
(Claude on Foundry), or the provider's `entra_scope` (a sovereign cloud's, for instance).

`EntraTokens` asks for a token on the first request and keeps it until azure-identity's
`refresh_on`, or else until `REFRESH_MARGIN` seconds before `expires_on`; every request in
between reads it, and one refresh runs at a time (the others wait for it on a lock). A refresh
that fails while the old token is still valid keeps the old one and tries again after `RETRY`
seconds. The credential is made on first use (it reads the environment then: service principal
variables, workload identity, managed identity, the Azure CLI's sign-in...) and closed with the
provider. azure-identity is optional (`pip install 'babelgate[azure]'`); without it the first
request fails with a message that says so. Tokens never appear in messages.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger("babelgate.upstream")
# azure-core logs every token request's URL and (redacted) headers at INFO: keep that out of the gateway's log.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
FOUNDRY_SCOPE = "https://ai.azure.com/.default"
FOUNDRY_HOST_SUFFIX = ".services.ai.azure.com"
INSTALL = "pip install 'babelgate[azure]'"
REFRESH_MARGIN = 300.0  # seconds before expiry a token is renewed
RETRY = 30.0  # seconds between refresh attempts while the old token still serves
FETCH_TIMEOUT = 60.0


class EntraUnavailable(Exception):
    """No token could be had; the message says why and what to do (and holds no secret)."""


def is_foundry(base_url: str) -> bool:
    """An Azure AI Foundry resource endpoint, https://NAME.services.ai.azure.com/..."""
    return (urlsplit(base_url).hostname or "").endswith(FOUNDRY_HOST_SUFFIX)


def identity_installed() -> bool:
    return importlib.util.find_spec("azure.identity") is not None


@dataclass(slots=True)
class Token:
    value: str
    expires_on: float
    refresh_at: float


class EntraTokens:
    def __init__(self, provider: str, scope: str) -> None:
        self.provider = provider
        self.scope = scope
        self._token: Token | None = None
        self._lock = asyncio.Lock()
        self._credential: Any = None

    async def token(self) -> str:
        """The bearer token to send now: the kept one, or a fresh one when it is due."""
        token = self._token
        if token is not None and time.time() < token.refresh_at:
            return token.value
        async with self._lock:
            token, now = self._token, time.time()
            if token is not None and now < token.refresh_at:  # renewed while this request waited
                return token.value
            try:
                fresh = await self._fetch()
            except EntraUnavailable as error:
                if token is None or now >= token.expires_on:
                    raise
                log.warning("%s: Microsoft Entra ID token refresh failed, the current one serves on: %s", self.provider, error)
                token.refresh_at = min(token.expires_on, now + RETRY)
                return token.value
            if token is not None and fresh.value == token.value:  # nothing newer yet (azure-identity spaces its requests)
                fresh.refresh_at = max(fresh.refresh_at, min(fresh.expires_on, now + RETRY))
            self._token = fresh
            return fresh.value

    def invalidate(self) -> None:
        """The upstream refused the token: the next request asks for a new one."""
        self._token = None

    def redact(self, text: str) -> str:
        return text.replace(self._token.value, "****") if self._token is not None and self._token.value else text

    async def close(self) -> None:
        if self._credential is not None:
            await self._credential.close()
            self._credential = None

    async def _fetch(self) -> Token:
        credential = self._credential or self._make()
        from azure.core.exceptions import AzureError

        try:
            info = await asyncio.wait_for(credential.get_token_info(self.scope), FETCH_TIMEOUT)
        except TimeoutError:
            raise EntraUnavailable(f"no Microsoft Entra ID token for {self.scope} within {FETCH_TIMEOUT:.0f}s") from None
        except AzureError as error:
            detail = str(getattr(error, "message", None) or error).strip().splitlines()[0][:400]
            raise EntraUnavailable(f"no Microsoft Entra ID token for {self.scope}: {detail}") from None
        expires_on = float(info.expires_on)
        due = expires_on - REFRESH_MARGIN
        return Token(info.token, expires_on, min(float(info.refresh_on), due) if info.refresh_on else due)

    def _make(self) -> Any:
        try:
            from azure.identity.aio import DefaultAzureCredential
        except ImportError:
            raise EntraUnavailable(
                f"has no api_keys, and signing in with Microsoft Entra ID needs the azure-identity package: {INSTALL}"
                " (or give the provider api_keys)"
            ) from None
        self._credential = DefaultAzureCredential()
        return self._credential
