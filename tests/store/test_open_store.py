"""`store.type` picks the store the gateway opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelgate.config import ConfigError, parse
from babelgate.server.gateway import open_store
from babelgate.store.memory import MemoryStore
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
    with pytest.raises(ConfigError, match=r"store\.type: Input should be 'sqlite' or 'memory'"):
        parse({"store": {"type": "redis"}})
