"""Fixtures the provider tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.entra import FakeManagedIdentity


@pytest.fixture
async def identity(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeManagedIdentity]:
    source = await FakeManagedIdentity().start()
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in source.env.items():
        monkeypatch.setenv(name, value)
    yield source
    await source.stop()
