"""`store.type` picks the store the gateway opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelgate.config import ConfigError, parse
from babelgate.server.gateway import open_store
from babelgate.store.memory import MemoryStore
from babelgate.store.redis import RedisStore
from babelgate.store.sqlite import SqliteStore


async def test_memory_and_sqlite(tmp_path: Path) -> None:
    memory = open_store(parse({"store": {"type": "memory"}}))
    assert isinstance(memory, MemoryStore)
    sqlite = open_store(parse({"store": {"path": str(tmp_path / "state.db")}}))
    assert isinstance(sqlite, SqliteStore)
    await sqlite.add_credential("p", "k", "secret")
    assert await sqlite.credentials() == [("p", "k", "secret")]
    await sqlite.close()
    assert (tmp_path / "state.db").exists()


def test_an_unknown_store_type_is_named() -> None:
    with pytest.raises(ConfigError, match=r"store\.type: Input should be 'sqlite', 'memory' or 'redis'"):
        parse({"store": {"type": "postgres"}})


async def test_redis_with_its_url_prefix_and_timeout() -> None:
    config = parse({"store": {"type": "redis", "url": "redis://:hunter2@127.0.0.1:6390/2", "prefix": "team-a", "timeout": 0.5}})
    store = open_store(config)
    assert isinstance(store, RedisStore)
    assert store.health() == {"type": "redis", "url": "redis://:***@127.0.0.1:6390/2", "state": "up"}  # no password
    await store.close()
    assert parse({"store": {"type": "redis"}}).store.url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ({"type": "redis", "url": "http://127.0.0.1:6379"}, r"store: url: expected a redis://, rediss:// or unix:// URL"),
        ({"type": "redis", "prefix": "a b"}, r"store\.prefix: String should match pattern"),
        ({"type": "redis", "timeout": 0}, r"store\.timeout: Input should be greater than 0"),
    ],
)
def test_bad_redis_settings_are_named(store: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse({"store": store})
