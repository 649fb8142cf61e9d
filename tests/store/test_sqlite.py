"""The store contract (memory, SQLite and Redis), and what only SQLite promises: state survives a restart,
several processes share one file, and the event loop never waits on the database."""

from __future__ import annotations

import asyncio
import math
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.support.redis_server import RedisServer

from babelgate.providers.classify import Failure, Reason
from babelgate.routing.cooldown import CooldownBook
from babelgate.store.base import ALL_MODELS, Entry, LoggedRequest, RequestFilter, Store, Usage
from babelgate.store.memory import MemoryStore
from babelgate.store.redis import RedisStore
from babelgate.store.sqlite import SqliteStore, default_path

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock, redis_server: RedisServer) -> AsyncIterator[Store]:
    opened: Store
    if request.param == "redis":  # a real redis-server (tests/store/conftest.py), a prefix of its own
        opened = RedisStore(redis_server.url, prefix=f"t-{uuid.uuid4().hex}", clock=clock)
    else:
        opened = MemoryStore(clock) if request.param == "memory" else SqliteStore(tmp_path / "state.db", clock=clock)
    yield opened
    await opened.close()


# The contract every store keeps.


async def test_cooldowns_round_trip(store: Store) -> None:
    entries = [
        Entry("k1", "gpt-5", Reason.RATE_LIMIT, T0 + 30, 2, 429),
        Entry("k2", ALL_MODELS, Reason.AUTH, math.inf, 1, 401),
        Entry("k3", "m", Reason.QUOTA, T0 + 60),
    ]
    for entry in entries:
        await store.save_cooldown(entry)
    assert sorted(await store.load_cooldowns(), key=lambda e: e.credential) == entries


async def test_saving_replaces_the_entry_for_the_same_key(store: Store) -> None:
    await store.save_cooldown(Entry("k1", "m", Reason.RATE_LIMIT, T0 + 5))
    await store.save_cooldown(Entry("k1", "m", Reason.QUOTA, T0 + 300, 2, 429))
    assert await store.load_cooldowns() == [Entry("k1", "m", Reason.QUOTA, T0 + 300, 2, 429)]


async def test_delete_one_model_or_the_whole_credential(store: Store) -> None:
    for cred, model in [("k1", "a"), ("k1", "b"), ("k1", ALL_MODELS), ("k2", "a")]:
        await store.save_cooldown(Entry(cred, model, Reason.RATE_LIMIT, T0 + 5))
    await store.delete_cooldowns("k1", "a")
    assert {(e.credential, e.model) for e in await store.load_cooldowns()} == {("k1", "b"), ("k1", ALL_MODELS), ("k2", "a")}
    await store.delete_cooldowns("k1")
    assert {(e.credential, e.model) for e in await store.load_cooldowns()} == {("k2", "a")}


async def test_bindings_expire(store: Store, clock: Clock) -> None:
    assert await store.get_binding("session-1") is None
    await store.set_binding("session-1", "k1", ttl=60)
    assert await store.get_binding("session-1") == "k1"
    await store.set_binding("session-1", "k2", ttl=60)
    assert await store.get_binding("session-1") == "k2"
    clock.now += 60
    assert await store.get_binding("session-1") is None


async def test_usage_adds_up_per_day(store: Store) -> None:
    await store.add_usage("k1", "gpt-5", "2023-11-14", 1, 100, 10)
    await store.add_usage("k1", "gpt-5", "2023-11-14", 2, 50, 5)
    await store.add_usage("k0", "gpt-5", "2023-11-14", 1, 1, 1)
    await store.add_usage("k1", "gpt-5", "2023-11-15", 1, 7, 7)
    assert await store.usage_for_day("2023-11-14") == [
        Usage("k0", "gpt-5", "2023-11-14", 1, 1, 1),
        Usage("k1", "gpt-5", "2023-11-14", 3, 150, 15),
    ]
    assert await store.usage_for_day("2023-11-16") == []


# SQLite only.


async def test_the_reasoning_cache_keeps_values_until_their_ttl(store: Store, clock: Clock) -> None:
    await store.put_reasoning({"call_1": "sig-a", "text:abc": "sig-b"}, ttl=60)
    assert await store.get_reasoning(["call_1", "text:abc", "unknown"]) == {"call_1": "sig-a", "text:abc": "sig-b"}
    await store.put_reasoning({"call_1": "sig-c"}, ttl=600)  # a newer value replaces the old
    assert await store.get_reasoning(["call_1"]) == {"call_1": "sig-c"}
    assert await store.get_reasoning([]) == {}
    if not isinstance(store, RedisStore):  # Redis expires by its own clock, not the test's
        clock.now += 120
        assert await store.get_reasoning(["call_1", "text:abc"]) == {"call_1": "sig-c"}


def _logged(request_id: str, started: float, status: int = 200, target: str = "up/gpt-5", body: bytes | None = None) -> LoggedRequest:
    summary = {
        "id": request_id,
        "started": started,
        "status": status,
        "model": "claude-x",
        "target": target,
        "provider": target.split("/")[0],
    }
    return LoggedRequest(request_id, started, summary, body, body)


async def test_the_request_log_lists_filters_finds_and_prunes(store: Store) -> None:
    capped = "é".encode()[:1]  # a capture cut mid-character is still kept byte for byte
    await store.log_requests([_logged(f"r{i}", T0 + i, 500 if i == 3 else 200, body=b"x" * 1000 if i < 2 else None) for i in range(5)])
    await store.log_requests([_logged("r5", T0 + 5, 429, "other/m", capped)])
    newest = await store.recent_requests(3, RequestFilter())
    assert [r["id"] for r in newest] == ["r5", "r4", "r3"]
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter(status=5))] == ["r3"]
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter(status=429))] == ["r5"]
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter(provider="other"))] == ["r5"]
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter(model="up/gpt-5", before=T0 + 3))] == ["r2", "r1", "r0"]
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter(since=T0 + 4))] == ["r5", "r4"]
    row = await store.logged_request("r0")
    assert row is not None and row.request_body == b"x" * 1000 and row.summary["status"] == 200
    odd = await store.logged_request("r5")
    assert odd is not None and odd.response_body == capped
    assert await store.logged_request("nope") is None
    await store.prune_requests(T0 + 1, 10**9)  # by age: r0 goes
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter())][-1] == "r1"
    await store.prune_requests(T0, 4 * 512 + 2)  # by size: the oldest go until four small rows fit (r5 holds 2 bytes)
    assert [r["id"] for r in await store.recent_requests(10, RequestFilter())] == ["r5", "r4", "r3", "r2"]


async def test_state_survives_a_restart(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.db"
    first = SqliteStore(path, clock=clock)
    await first.save_cooldown(Entry("k1", "gpt-5", Reason.QUOTA, T0 + 600, 3, 429))
    await first.save_cooldown(Entry("k2", ALL_MODELS, Reason.PERMISSION, math.inf, 1, 403))
    await first.set_binding("session-1", "k1", ttl=3600)
    await first.add_usage("k1", "gpt-5", "2023-11-14", 4, 400, 40)
    await first.close()

    second = SqliteStore(path, clock=clock)
    try:
        assert sorted(await second.load_cooldowns(), key=lambda e: e.credential) == [
            Entry("k1", "gpt-5", Reason.QUOTA, T0 + 600, 3, 429),
            Entry("k2", ALL_MODELS, Reason.PERMISSION, math.inf, 1, 403),
        ]
        assert await second.get_binding("session-1") == "k1"
        assert await second.usage_for_day("2023-11-14") == [Usage("k1", "gpt-5", "2023-11-14", 4, 400, 40)]
    finally:
        await second.close()


async def test_a_cooldown_book_survives_a_restart(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "state.db"
    book = CooldownBook(clock)
    book.record_failure("k1", "gpt-5", Failure(Reason.QUOTA, 7200.0, account_wide=True, status=429))
    book.record_failure("k2", "gpt-5", Failure(Reason.AUTH, status=401))
    first = SqliteStore(path, clock=clock)
    for entry in book.snapshot():
        await first.save_cooldown(entry)
    await first.close()

    restarted = CooldownBook(clock)
    second = SqliteStore(path, clock=clock)
    restarted.restore(await second.load_cooldowns())
    await second.close()
    block = restarted.blocked("k1", "some-other-model")
    assert block is not None and (block.reason, block.until) == (Reason.QUOTA, T0 + 7200)
    assert restarted.blocked("k2", "gpt-5") is not None
    assert restarted.blocked("k3", "gpt-5") is None


async def test_long_expired_cooldowns_are_dropped_on_load(tmp_path: Path, clock: Clock) -> None:
    store = SqliteStore(tmp_path / "state.db", clock=clock)
    await store.save_cooldown(Entry("old", "m", Reason.RATE_LIMIT, T0 - 2 * 86400))
    await store.save_cooldown(Entry("recent", "m", Reason.QUOTA, T0 - 60, 2))
    assert [e.credential for e in await store.load_cooldowns()] == ["recent"]
    await store.close()


async def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    await store.load_cooldowns()
    await store.close()
    with sqlite3.connect(tmp_path / "state.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_the_loop_keeps_running_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    await store.load_cooldowns()  # schema exists
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a writer elsewhere holds the write lock
    try:
        write = asyncio.create_task(store.add_usage("k1", "m", "2023-11-14", 1, 2, 3))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not write.done()  # the loop ran; the write waits in the worker thread
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    await asyncio.wait_for(write, 5)  # then it goes through instead of failing with "database is locked"
    assert await store.usage_for_day("2023-11-14") == [Usage("k1", "m", "2023-11-14", 1, 2, 3)]
    await store.close()


async def test_several_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    script = textwrap.dedent(
        f"""
        import asyncio
        from babelgate.store.sqlite import SqliteStore

        async def main():
            store = SqliteStore({str(path)!r})
            for _ in range(50):
                await store.add_usage("k1", "m", "2023-11-14", 1, 10, 1)
            await store.close()

        asyncio.run(main())
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(4)]
    results = await asyncio.gather(*(asyncio.to_thread(worker.wait, 60) for worker in workers))
    assert results == [0, 0, 0, 0]
    store = SqliteStore(path)
    assert await store.usage_for_day("2023-11-14") == [Usage("k1", "m", "2023-11-14", 200, 2000, 200)]
    await store.close()


async def test_an_unopenable_path_fails_on_first_use(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    store = SqliteStore(blocker / "state.db")
    with pytest.raises(OSError):
        await store.load_cooldowns()
    await store.close()


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    await store.close()
    await store.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        await store.load_cooldowns()


def test_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert default_path() == Path.home() / ".local" / "state" / "babelgate" / "state.db"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_path() == tmp_path / "babelgate" / "state.db"


async def test_default_path_is_used_and_created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = SqliteStore()
    await store.add_usage("k1", "m", "2023-11-14", 1, 1, 1)
    await store.close()
    assert (tmp_path / "state" / "babelgate" / "state.db").is_file()


async def test_a_watching_process_hears_of_cooldowns_another_process_writes_and_of_nothing_else(tmp_path: Path) -> None:
    from babelgate.store.base import Changes
    from babelgate.store.shared import Change, SharedStore

    path = tmp_path / "state.db"
    watching, other = SqliteStore(path), SqliteStore(path)
    assert isinstance(watching, SharedStore)
    heard: asyncio.Queue[Change] = asyncio.Queue()
    watching.watch(heard.put_nowait)
    await watching.load_cooldowns()  # queued after the watcher's first read: done, so what follows is a change
    usage_only = Changes()
    usage_only.count(("k1", "m", "2023-11-14"), 1, 10, 1)
    await other.apply(usage_only)  # usage is not a cooldown: nothing to hear
    await other.save_cooldown(Entry("k1", "m", Reason.RATE_LIMIT, T0 + 30, 1, 429))
    assert await asyncio.wait_for(heard.get(), 5) == Change("cooldowns")
    assert heard.empty()
    cleared = Changes()
    cleared.clear("k1", "m")
    await other.apply(cleared)
    assert await asyncio.wait_for(heard.get(), 5) == Change("cooldowns")
    await other.close()
    await watching.close()
