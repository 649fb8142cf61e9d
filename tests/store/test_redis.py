"""What only the Redis store promises (the shared contract is in test_sqlite.py): changes are pushed to
other instances, counters are atomic, keys expire, and an outage is served on local state and caught
up when Redis returns. Against a real redis-server."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from tests.support.redis_server import RedisServer

from babelgate.providers.classify import Reason
from babelgate.store.base import ALL_MODELS, Entry, Usage
from babelgate.store.redis import RedisStore
from babelgate.store.shared import Change, SharedStore

DAY = "2023-11-14"


class Heard:
    """A listener that hands a test each change in turn, waiting for it with a deadline."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.seen = 0
        self._event = asyncio.Event()

    def __call__(self, change: Change) -> None:
        self.changes.append(change)
        self._event.set()

    async def next(self, timeout: float = 5.0) -> Change:
        while len(self.changes) == self.seen:
            self._event.clear()
            await asyncio.wait_for(self._event.wait(), timeout)
        self.seen += 1
        return self.changes[self.seen - 1]


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex}"


@pytest.fixture
async def pair(redis_server: RedisServer, prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    a, b = RedisStore(redis_server.url, prefix=prefix), RedisStore(redis_server.url, prefix=prefix)
    yield a, b
    await a.close()
    await b.close()


async def subscribed(store: RedisStore, subscribers: int = 1) -> Heard:
    heard = Heard()
    store.watch(heard)
    # Subscribed once the server counts a subscriber on the channel (a publish before that is not heard).
    client = store.link.client
    deadline = time.monotonic() + 5
    while (await client.pubsub_numsub(f"{store._prefix}:changes"))[0][1] < subscribers:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)  # polling a condition with a deadline
    return heard


async def test_it_is_a_shared_store(pair: tuple[RedisStore, RedisStore]) -> None:
    assert isinstance(pair[0], SharedStore)


async def test_cooldowns_and_bindings_are_pushed_to_other_instances(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    heard_by_b, heard_by_a = await subscribed(b), await subscribed(a, subscribers=2)
    entry = Entry("k1", "gpt-5", Reason.RATE_LIMIT, time.time() + 30, 1, 429)
    await a.save_cooldown(entry)
    assert await heard_by_b.next() == Change("cooldowns")
    assert await b.load_cooldowns() == [entry]
    await a.set_binding("session-1", "k2", ttl=60)
    assert await heard_by_b.next() == Change("binding", "session-1", "k2")
    await a.delete_cooldowns("k1")
    assert await heard_by_b.next() == Change("cooldowns")
    assert await b.load_cooldowns() == []
    assert heard_by_a.changes == []  # its own changes are not echoed back


async def test_counters_are_atomic_across_instances(redis_server: RedisServer, prefix: str) -> None:
    stores = [RedisStore(redis_server.url, prefix=prefix) for _ in range(4)]
    await asyncio.gather(*(s.add_usage("k1", "m", DAY, 1, 10, 2) for s in stores for _ in range(50)))
    assert await stores[0].usage_for_day(DAY) == [Usage("k1", "m", DAY, 200, 2000, 400)]
    for store in stores:
        await store.close()


async def test_every_key_expires_or_is_pruned(redis_server: RedisServer, prefix: str) -> None:
    store = RedisStore(redis_server.url, prefix=prefix)
    await store.set_binding("s", "k1", ttl=90)
    await store.add_usage("k1", "m", DAY, 1, 1, 1)
    await store.save_cooldown(Entry("k1", "m", Reason.RATE_LIMIT, time.time() - 2 * 86400))  # expired long ago
    await store.save_cooldown(Entry("k2", ALL_MODELS, Reason.AUTH, math.inf))  # until cleared: kept
    assert [e.credential for e in await store.load_cooldowns()] == ["k2"]
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        assert 0 < await client.ttl(f"{prefix}:binding:s") <= 90
        assert 39 * 86400 < await client.ttl(f"{prefix}:usage:{DAY}") <= 40 * 86400
        guards = [key async for key in client.scan_iter(f"{prefix}:once:*")]
        assert len(guards) == 1 and 0 < await client.ttl(guards[0]) <= 3600
        assert await client.hkeys(f"{prefix}:cooldowns") == [f"k2\x1f{ALL_MODELS}"]  # the stale one was pruned
    finally:
        await client.aclose()
        await store.close()


async def test_stored_credentials(pair: tuple[RedisStore, RedisStore]) -> None:
    a, b = pair
    await a.add_credential("openai", "team", "sk-team")
    await a.add_credential("anthropic", "mine", "sk-ant")
    assert await b.credentials() == [("anthropic", "mine", "sk-ant"), ("openai", "team", "sk-team")]
    assert await b.remove_credential("openai", "team") is True
    assert await b.remove_credential("openai", "team") is False
    assert await a.credentials() == [("anthropic", "mine", "sk-ant")]


async def test_an_outage_is_served_locally_and_caught_up(tmp_path: Path, prefix: str) -> None:
    server = await RedisServer(tmp_path / "redis").start()
    a, b = RedisStore(server.url, prefix=prefix), RedisStore(server.url, prefix=prefix)
    try:
        heard_by_b = await subscribed(b)
        await a.add_usage("k1", "m", DAY, 1, 10, 1)
        await a.add_credential("openai", "team", "sk-team")
        await server.stop()

        entry = Entry("k1", "gpt-5", Reason.QUOTA, time.time() + 600, 1, 429)
        await a.save_cooldown(entry)  # no error: kept locally and queued
        await a.set_binding("session-1", "k1", ttl=60)
        await a.add_usage("k1", "m", DAY, 2, 20, 2)
        assert a.link.outbox  # one write of a usage op Redis applied, but whose answer was lost, comes twice:
        a.link.outbox.append(a.link.outbox[-1])
        assert await a.remove_credential("openai", "team") is True
        assert await a.load_cooldowns() == [entry]  # answered from local state
        assert await a.get_binding("session-1") == "k1"
        health = a.health()
        assert health["state"] == "down" and health["pending_writes"] == 5 and "Error" in health["last_error"]

        await server.start()  # same port, same append-only file
        await heard_by_b.next(timeout=15)  # b resubscribed: told to reload what it missed
        deadline = time.monotonic() + 15
        while a.health()["state"] != "up":  # a's reconnect replays its outbox
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)  # polling a condition with a deadline
        assert a.health() == {"type": "redis", "url": server.url, "state": "up"}
        assert await b.load_cooldowns() == [entry]
        assert await b.get_binding("session-1") == "k1"
        assert await b.usage_for_day(DAY) == [Usage("k1", "m", DAY, 3, 30, 3)]  # the replayed write counted once
        assert await b.credentials() == []
    finally:
        await a.close()
        await b.close()
        await server.stop()


async def test_redis_absent_from_the_start(tmp_path: Path) -> None:
    port = RedisServer(tmp_path).port  # nothing listens there
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    assert await store.credentials() == []
    assert await store.get_binding("s") is None
    await store.set_binding("s", "k1", ttl=60)
    assert await store.get_binding("s") == "k1"
    assert store.health()["state"] == "down"
    await store.close()  # does not hang on the queued write; says it was not saved


async def test_stored_keys_are_encrypted_in_redis(redis_server: RedisServer, prefix: str, tmp_path: Path) -> None:
    from babelgate.store.keys import KeyCipher

    store = RedisStore(redis_server.url, prefix=prefix, cipher=KeyCipher(tmp_path / "store.key"))
    try:
        await store.add_credential("openai", "team", "sk-plaintext-never-at-rest-0001")
        raw = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
        try:
            kept = await raw.hget(f"{prefix}:credentials", "openai\x1fteam")
        finally:
            await raw.aclose()
        assert kept is not None and "sk-plaintext" not in kept
        assert await store.credentials() == [("openai", "team", "sk-plaintext-never-at-rest-0001")]
    finally:
        await store.close()
