"""`babelgate serve --workers N` as real processes: a killed worker is replaced, the workers die with
the supervisor (even with `kill -9`), and `/account-limits` on any worker shows every worker's state."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp

from tests.conftest import openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.serve_process import alive, answering, children, serve, until

GOOD, BAD = "sk-workers-good-key-1", "sk-workers-bad-key-2"


def answers(record: Received) -> Reply:
    if record.headers.get("authorization") == f"Bearer {BAD}":
        return wire.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    return Reply(json=wire.completion("from a worker"))


def config(upstream: FakeUpstream, tmp_path: Path) -> dict[str, object]:
    return openai_config(
        upstream, provider={"api_keys": [BAD, GOOD]}, routing={"strategy": "fill-first"}, store={"path": str(tmp_path / "state.db")}
    )


async def ask(url: str, times: int) -> None:
    """`times` requests, each on its own connection, so the kernel spreads them over the workers."""
    body = {"model": "up/gpt-5", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _ in range(times):
            async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                assert response.status == 200, await response.text()


async def test_a_killed_worker_is_replaced(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.script = answers
    served = await serve(config(upstream, tmp_path), tmp_path, "--workers", "2")
    try:
        await until(lambda: len(children(served.process.pid)) == 2, 20, "two workers")
        first = children(served.process.pid)
        os.kill(first[0], signal.SIGKILL)
        await until(lambda: len(children(served.process.pid)) == 2 and first[0] not in children(served.process.pid), 20, "a replacement")
        await answering(served)  # the other worker may still have been starting when its sibling was killed
        await ask(served.url, 10)
        assert first[1] in children(served.process.pid)  # the other one was left alone
    finally:
        await served.stop()
    assert served.process.returncode == 0
    assert "killed by signal 9" in served.log.read_text()


async def test_workers_die_with_the_supervisor(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.script = answers
    served = await serve(config(upstream, tmp_path), tmp_path, "--workers", "2")
    await until(lambda: len(children(served.process.pid)) == 2, 20, "two workers")
    workers = children(served.process.pid)
    served.kill()  # kill -9: the supervisor runs no handler
    await served.process.wait()
    await until(lambda: not any(alive(pid) for pid in workers), 20, "orphaned workers exit")
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(f"{served.url}/health") as response:
                raise AssertionError(f"an orphan still answers: {response.status}")
        except aiohttp.ClientConnectionError:
            pass  # nobody listens any more


async def test_account_limits_on_any_worker_counts_every_worker(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.script = answers
    served = await serve(config(upstream, tmp_path), tmp_path, "--workers", "2")
    try:
        await ask(served.url, 30)
        seen = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            for _ in range(8):  # new connections: both workers answer some of these
                async with session.get(f"{served.url}/account-limits") as response:
                    shown = {c["id"]: c for p in (await response.json())["providers"] for c in p["credentials"]}
                seen.append((shown["up#0"]["status"], shown["up#1"]["today"]["requests"]))
    finally:
        await served.stop()
    # Whichever worker benched the bad key and served each request, every answer shows the bench and all 30 requests.
    assert seen == [("auth_invalid", 30)] * 8
    assert sum(1 for r in upstream.received if r.headers["authorization"] == f"Bearer {BAD}") <= 2  # at most once per worker
