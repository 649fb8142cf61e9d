"""Crash durability: what the gateway learnt and counted survives `kill -9`.

The kill test runs `babelgate serve` against a loopback upstream whose keys go bad round after round
(429 with an hour's Retry-After, or 401), killed with SIGKILL in the middle of a burst ten times.
At each kill, requests are in flight (held by the upstream) and keys have just been found bad; after
the restart, no key found bad before the kill is tried again, `/account-limits` shows it benched, and
the usage counted is exactly the number of answers the clients received.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.serve_process import Served, serve, until

KEYS = [f"sk-durable-key-{i:02d}-abcdef" for i in range(34)]  # the last two never go bad
ROUNDS = 10
BAD_PER_ROUND = 3
CLIENTS = 6


@dataclass
class Upstream:
    """The keys' behaviour, and what the gateway sent: every key that got a failure, every request held."""

    fake: FakeUpstream
    bad: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)  # keys answered 429/401 (the gateway then cooled them)
    failed_before: set[str] = field(default_factory=set)  # of those, the ones that failed before the last kill
    tried_again: list[str] = field(default_factory=list)  # keys tried after a restart although they had failed before it
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0

    def reply(self, record: Received) -> Reply:
        key = record.headers["authorization"].removeprefix("Bearer ")
        stream = bool(record.body.get("stream"))
        ok = wire.stream_reply(wire.text_stream("o", "k")) if stream else Reply(json=wire.completion("ok"))
        if not self.gate.is_set():  # held until the gateway is dead: never answered
            self.held += 1
            ok.gate = self.gate
            return ok
        if key in self.failed_before:
            self.tried_again.append(key)
        if key not in self.bad:
            return ok
        self.failed.add(key)
        if KEYS.index(key) % 2:
            return wire.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
        return wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"retry-after": "3600"})


async def client(session: aiohttp.ClientSession, url: str, n: int, answered: list[int]) -> None:
    """Ask until the gateway dies; count each answer received whole."""
    while True:
        stream = n % 2 == 0
        body = {"model": "up/gpt-5", "messages": [{"role": "user", "content": f"request {n}"}], "stream": stream}
        try:
            async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                text = await response.text()
        except aiohttp.ClientError:
            return  # the kill
        assert response.status == 200, text
        assert text.rstrip().endswith("data: [DONE]") if stream else '"ok"' in text
        answered[0] += 1
        n += CLIENTS


async def limits(url: str) -> dict[str, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/account-limits") as response:
        assert response.status == 200
        return {c["id"]: c for p in (await response.json())["providers"] for c in p["credentials"]}


@pytest.mark.timeout(90)
async def test_kill_9_in_a_burst_loses_no_cooldown_and_no_usage(upstream: FakeUpstream, tmp_path: Path) -> None:
    state = Upstream(upstream)
    upstream.script = state.reply
    config = openai_config(upstream, provider={"api_keys": KEYS}, store={"path": str(tmp_path / "state.db")})
    config["routing"] = {"strategy": "round-robin", "max_wait": 0}
    ids = {key: f"up#{i}" for i, key in enumerate(KEYS)}
    rng = random.Random(7)
    answered = [0]
    for round_ in range(ROUNDS + 1):
        state.gate.set()
        state.gate = asyncio.Event()
        state.gate.set()
        served = await serve(config, tmp_path, "--log-level", "warning", name="durable")
        # After the restart: every key that failed before the kill is benched, and usage is what the clients got.
        shown = await limits(served.url)
        assert {key for key in state.failed if shown[ids[key]]["status"] == "ok"} == set()
        assert sum(c["today"]["requests"] for c in shown.values()) == answered[0]
        if round_ == ROUNDS:
            await served.stop()
            break
        state.bad |= set(KEYS[BAD_PER_ROUND * round_ : BAD_PER_ROUND * (round_ + 1)])
        await burst_then_kill(served, state, answered, rng.randint(3, 40))
        assert state.tried_again == [], f"round {round_}: keys that had failed before a restart were tried again"
    assert len(state.failed) >= BAD_PER_ROUND * ROUNDS - 2  # the bursts did find the bad keys


async def burst_then_kill(served: Served, state: Upstream, answered: list[int], stop_after: int) -> None:
    """CLIENTS clients ask in a loop; after `stop_after` answers the upstream holds every request, and once
    each client has one held there (none is between the upstream and its client), `kill -9`."""
    before, state.held, state.failed_before = answered[0], 0, set(state.failed)
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(client(session, served.url, n, answered)) for n in range(CLIENTS)]
        await until(lambda: answered[0] - before >= stop_after or any(t.done() for t in tasks), 20, "answers")
        state.gate.clear()  # from now on the upstream holds what it gets
        await until(lambda: state.held == CLIENTS or any(t.done() for t in tasks), 20, "every client's request held upstream")
        for task in tasks:
            if task.done():
                task.result()  # a client that stopped early says why
        served.kill()
        await served.process.wait()
        await asyncio.gather(*tasks)


def stored_usage(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COALESCE(SUM(requests), 0) FROM usage").fetchone()[0])


def stored_cooldowns(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT credential FROM cooldowns")}


@pytest.mark.parametrize("stream", [False, True])
async def test_what_a_crash_leaves_has_it_before_the_client_has_the_answer(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path, stream: bool
) -> None:
    """After each answer, the store's files are copied as a `kill -9` at that instant would leave them
    (the database, its WAL, the redo log) and opened afresh: the answer's usage and the cooldown are there."""
    from babelgate.store.sqlite import SqliteStore

    path = tmp_path / "live" / "state.db"
    path.parent.mkdir()

    def reply(record: Received) -> Reply:
        if record.headers["authorization"].endswith("key-0"):
            return wire.error(429, "Rate limit reached", "requests", "rate_limit_exceeded", {"retry-after": "600"})
        return wire.stream_reply(wire.text_stream("hi")) if stream else Reply(json=wire.completion("hi"))

    upstream.script = reply
    config = openai_config(upstream, provider={"api_keys": ["sk-order-key-0", "sk-order-key-1"]}, routing={"strategy": "fill-first"})
    gw = await gateway_factory(config, SqliteStore(path))
    assert isinstance(gw.gateway.store, SqliteStore) and gw.gateway.store.redo is not None  # the journal logs ahead
    body = {"model": "up/gpt-5", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    async with aiohttp.ClientSession() as session:
        for n in range(1, 21):
            async with session.post(f"{gw.url}/v1/chat/completions", json=body) as response:
                assert response.status == 200
                await response.read()
            crashed = tmp_path / f"crash-{n}"
            shutil.copytree(path.parent, crashed, ignore=shutil.ignore_patterns("*-shm"))  # SQLite rebuilds it
            recovered = SqliteStore(crashed / "state.db")
            await recovered.start_redo_log()  # what `babelgate serve` does first: replay the redo log
            await recovered.close()
            assert stored_usage(crashed / "state.db") == n
            assert stored_cooldowns(crashed / "state.db") == {"up#0"}
            assert not list(crashed.glob("state.db.redo.*")), "replayed logs are removed"
