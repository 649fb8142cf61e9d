"""The counters behind the client keys' limits, in every store (memory, SQLite, a real redis-server), and
the windows and periods server/limits.py keeps them in (with a clock the test moves)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from babelgate.config_keys import Budget, ClientKey
from babelgate.server.limits import Cap, KeyLimits, OverLimit, Standing, period_of, surpassed, utilization_text
from babelgate.store.base import Counter
from babelgate.store.memory import MemoryStore
from babelgate.store.redis import RedisStore
from babelgate.store.sqlite import SqliteStore
from tests.support.redis_server import RedisServer

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC, a Tuesday


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
async def redis_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RedisServer]:
    server = await RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    await server.stop()


Opener = Callable[[Clock], Any]


@pytest.fixture(params=["memory", "sqlite"])
def local_store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "memory":
        return lambda clock: MemoryStore(clock)
    return lambda clock: SqliteStore(tmp_path / "state.db", clock=clock)


async def test_counters_add_at_once_keep_their_expiry_and_start_over_once_expired(local_store: Opener) -> None:
    clock = Clock()
    store = local_store(clock)
    assert await store.add_counters([("a", 1, 60.0), ("b", 5, 3600.0)]) == [Counter(1, START + 60), Counter(5, START + 3600)]
    clock.now += 30
    assert await store.add_counters([("a", 2, 60.0)]) == [Counter(3, START + 60)]  # a live counter keeps its expiry
    assert await store.read_counters(["a", "b", "never"]) == [Counter(3, START + 60), Counter(5, START + 3600), Counter(0, 0.0)]
    clock.now += 31  # past a's expiry
    assert await store.read_counters(["a", "b"]) == [Counter(0, 0.0), Counter(5, START + 3600)]
    assert await store.add_counters([("a", 1, 60.0)]) == [Counter(1, clock.now + 60)]  # a new window
    await store.close()


async def test_sqlite_processes_increment_one_counter_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    script = textwrap.dedent(
        f"""
        import asyncio, json, sys
        from babelgate.store.sqlite import SqliteStore

        async def main():
            store = SqliteStore({str(path)!r})
            seen = [(await store.add_counters([("alice:rpm", 1, 60.0)]))[0].value for _ in range(50)]
            await store.close()
            print(json.dumps(seen))

        asyncio.run(main())
        """
    )
    workers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = await asyncio.gather(*(asyncio.to_thread(worker.communicate, timeout=60) for worker in workers))
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    seen = sorted(value for out, _ in outputs for value in json.loads(out))
    assert seen == list(range(1, 201))  # every increment saw its own value: none lost, none shared


async def test_redis_instances_increment_one_counter_atomically_and_redis_expires_it(redis_server: RedisServer) -> None:
    prefix = f"t-{uuid.uuid4().hex}"
    first, second = (RedisStore(redis_server.url, prefix=prefix) for _ in range(2))
    rounds = [store.add_counters([("alice:rpm", 1, 60.0), ("alice:usd", 250, 3600.0)]) for _ in range(50) for store in (first, second)]
    answers = await asyncio.gather(*rounds)
    assert sorted(rpm.value for rpm, _ in answers) == list(range(1, 101))
    assert sorted(usd.value for _, usd in answers) == [250 * n for n in range(1, 101)]
    assert await second.read_counters(["alice:rpm", "alice:usd", "nobody"]) == [
        Counter(100, pytest.approx(answers[0][0].expires, abs=2)),  # type: ignore[arg-type]
        Counter(25000, pytest.approx(answers[0][1].expires, abs=2)),  # type: ignore[arg-type]
        Counter(0, 0.0),
    ]
    raw = aioredis.Redis.from_url(redis_server.url)
    assert 58_000 < await raw.pttl(f"{prefix}:counter:alice:rpm") <= 60_000  # Redis itself forgets it
    assert 3_598_000 < await raw.pttl(f"{prefix}:counter:alice:usd") <= 3_600_000
    await raw.aclose()
    await first.close()
    await second.close()


async def test_a_minute_window_starts_with_the_first_request_and_ends_60_seconds_later() -> None:
    clock = Clock()
    limits = KeyLimits(MemoryStore(clock), clock)
    key = ClientKey(key="k", name="alice", rpm=2)
    await limits.admit(key)
    clock.now += 20
    await limits.admit(key)
    with pytest.raises(OverLimit) as over:
        await limits.admit(key)
    assert (over.value.what, over.value.retry_after) == ("rpm", 40)  # the window opened 20 s ago
    clock.now += 40
    await limits.admit(key)  # a new window


async def test_tokens_per_minute_count_what_finished_requests_used() -> None:
    clock = Clock()
    limits = KeyLimits(MemoryStore(clock), clock)
    key = ClientKey(key="k", name="alice", tpm=100)
    await limits.admit(key)
    await limits.settle(key, 100, 0.0)
    clock.now += 59
    with pytest.raises(OverLimit) as over:
        await limits.admit(key)
    assert (over.value.what, over.value.retry_after) == ("tpm", 1)
    clock.now += 1
    await limits.admit(key)


def test_budget_periods_are_the_utc_calendar_ones() -> None:
    now = dt.datetime.fromtimestamp(START, dt.UTC)  # Tuesday 2023-11-14
    assert period_of("daily", now) == ("d2023-11-14", dt.datetime(2023, 11, 15, tzinfo=dt.UTC))
    assert period_of("weekly", now) == ("w2023-11-13", dt.datetime(2023, 11, 20, tzinfo=dt.UTC))  # from Monday
    assert period_of("monthly", now) == ("m2023-11-01", dt.datetime(2023, 12, 1, tzinfo=dt.UTC))
    december = dt.datetime(2023, 12, 31, 23, 59, tzinfo=dt.UTC)
    assert period_of("monthly", december)[1] == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


async def test_spend_is_counted_in_every_period_and_a_full_budget_refuses_until_it_resets() -> None:
    clock = Clock()
    limits = KeyLimits(MemoryStore(clock), clock)
    key = ClientKey(key="k", name="alice", budget=Budget(daily=1.0, weekly=3.0))
    for _ in range(2):
        await limits.admit(key)
        await limits.settle(key, 0, 0.5)
    with pytest.raises(OverLimit) as over:
        await limits.admit(key)
    assert over.value.what == "daily" and over.value.retry_after == int(dt.datetime(2023, 11, 15, tzinfo=dt.UTC).timestamp() - START)
    clock.now = dt.datetime(2023, 11, 15, 0, 0, 1, tzinfo=dt.UTC).timestamp()  # the next day
    standing = await limits.admit(key)
    assert standing is not None and standing.spent == {"daily": 0.0, "weekly": 1.0, "monthly": 1.0}


def cap(period: str, limit: float, spent: float, day: int) -> Cap:
    return Cap(period, limit, spent, dt.datetime(2023, 11, day, tzinfo=dt.UTC))


def test_the_standing_describes_the_fullest_cap_or_once_blocked_the_one_that_resets_last() -> None:
    daily, weekly = cap("daily", 10, 8, 15), cap("weekly", 50, 20, 20)
    assert Standing({}, [daily, weekly]).described() is daily
    blocked_daily, blocked_weekly = cap("daily", 10, 10, 15), cap("weekly", 50, 60, 20)
    assert Standing({}, [blocked_daily, blocked_weekly]).described() is blocked_weekly
    assert Standing({}, [blocked_daily, weekly]).described() is blocked_daily


@pytest.mark.parametrize(
    ("spent", "text", "threshold"),
    [
        (0, "0.00", None),
        (7.5, "0.75", None),
        (7.51, "0.75", 0.75),
        (8.2, "0.82", 0.75),
        (9.5, "0.95", 0.75),
        (9.99, "0.99", 0.95),
        (10, "1", 0.95),
    ],
)
def test_utilization_has_two_decimals_below_1_while_allowed_and_thresholds_are_passed_not_reached(
    spent: float, text: str, threshold: float | None
) -> None:
    one = cap("daily", 10, spent, 15)
    assert (utilization_text(one), surpassed(one)) == (text, threshold)
