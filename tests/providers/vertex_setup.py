"""The pieces the Vertex tests share: a started fake with its service account, and the gateway config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.vertex import VertexFake, service_account

GEMINI = "gemini-2.5-pro"
CLAUDE = "claude-sonnet-4-5@20250929"


@pytest.fixture
async def vertex(tmp_path: Path) -> AsyncIterator[VertexFake]:
    fake = await VertexFake().start()
    fake.account = service_account(tmp_path, fake.token_uri)
    yield fake
    await fake.stop()


def vertex_config(fake: VertexFake, location: str = "global", **provider: Any) -> dict[str, Any]:
    """One vertex provider `vx` whose base_url is the fake; `weather` names its Gemini model, `claude-weather` its Claude."""
    assert fake.account is not None
    settings = {
        "type": "vertex",
        "project": fake.project,
        "location": location,
        "credentials_file": str(fake.account.path),
        "base_url": fake.url,
        "models": [GEMINI, CLAUDE],
        **provider,
    }
    aliases = {"weather": f"vx/{GEMINI}", "claude-weather": f"vx/{CLAUDE}"}
    return {"providers": {"vx": settings}, "aliases": aliases, "routing": {"max_wait": 0}, "store": {"type": "memory"}}
