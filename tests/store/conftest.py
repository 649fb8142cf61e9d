"""A real redis-server for the store tests, one for the session; each test gets its own key prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.support.redis_server import RedisServer


@pytest.fixture(scope="session")
async def redis_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RedisServer]:
    server = await RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    await server.stop()
