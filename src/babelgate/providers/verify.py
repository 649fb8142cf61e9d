"""A cheap real call per credential: does the upstream accept this key?

Each upstream is asked for its model list (`Upstream.verify`), which costs no tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from babelgate.providers.base import Credential, Upstream


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


async def verify(upstream: Upstream, credential: Credential) -> Verdict:
    status, detail = await upstream.verify(credential)
    return Verdict(credential, status == 200, status, detail)


async def verify_all(upstreams: Iterable[Upstream]) -> list[Verdict]:
    jobs = [verify(upstream, credential) for upstream in upstreams for credential in upstream.credentials]
    return list(await asyncio.gather(*jobs))
