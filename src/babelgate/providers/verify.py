"""A cheap real call per credential: does the upstream accept this key?

Each provider type is asked for its model list, which costs no tokens.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from babelgate.providers.base import Credential, Provider


@dataclass(frozen=True, slots=True)
class Verdict:
    credential: Credential
    ok: bool
    status: int  # HTTP status; 0 when unreachable
    detail: str

    @property
    def invalid(self) -> bool:
        """The upstream rejected the key itself (as opposed to being down)."""
        return self.status in (401, 403)


def models_url(provider: Provider) -> str:
    return f"{provider.api_root}/models"


async def verify(provider: Provider, credential: Credential, session: aiohttp.ClientSession) -> Verdict:
    headers = provider.headers(credential, {})
    try:
        async with session.get(models_url(provider), headers=headers) as response:
            text = await response.text()
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        return Verdict(credential, False, 0, f"unreachable: {error or type(error).__name__}")
    if response.status == 200:
        return Verdict(credential, True, 200, "ok")
    detail = text[:200].replace(credential.key, credential.redacted) if credential.key else text[:200]
    return Verdict(credential, False, response.status, detail)


async def verify_all(providers: list[Provider], timeout: float = 15.0) -> list[Verdict]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        jobs = [verify(provider, credential, session) for provider in providers for credential in provider.credentials]
        return list(await asyncio.gather(*jobs))
