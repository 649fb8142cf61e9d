"""`babelgate logs tail|show|replay` against a real `babelgate serve` with a SQLite store: a request of the real
Claude Code is captured, listed, shown with its route trace, and replayed to a different provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from babelgate.store.base import RequestFilter
from babelgate.store.sqlite import SqliteStore
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import run_claude
from tests.support.processes import free_port
from tests.test_serve_cli import BABELGATE, base_env, serving

CLIENT = "client-key-logs-cli-0001"
FIRST_KEY = "sk-logs-first-rate-limited"
SECOND_KEY = "sk-logs-second-key-works"
OTHER_KEY = "sk-logs-other-provider-key"
DEADLINE = 20.0


def config(up: FakeUpstream, other: FakeUpstream, tmp_path: Path, port: int) -> dict[str, Any]:
    return {
        "server": {"port": port, "api_keys": [CLIENT]},
        "providers": {
            "up": {"base_url": f"{up.url}/v1", "api_keys": [FIRST_KEY, SECOND_KEY], "models": ["gpt-5"], "strategy": "fill-first"},
            "other": {"base_url": f"{other.url}/v1", "api_keys": [OTHER_KEY], "models": ["other-model"]},
        },
        "aliases": {"claude-*": "up/gpt-5"},
        "routing": {"max_wait": 0},
        "store": {"path": str(tmp_path / "state.db")},
        "observe": {"capture": "all"},
    }


def first_key_limited(record: Received) -> Reply:
    if record.headers["authorization"] == f"Bearer {FIRST_KEY}":
        return wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "60"})
    return wire.stream_reply(wire.text_stream("served by up"))


@pytest.fixture
async def second_upstream() -> AsyncIterator[FakeUpstream]:
    fake = await FakeUpstream().start()
    yield fake
    await fake.stop()


async def cli(*args: str, home: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        BABELGATE, *args, env={**base_env(home), "COLUMNS": "250"}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def logged(store_path: Path, count: int) -> list[dict[str, Any]]:
    """The request log's rows once it holds `count` (the gateway writes it at its next sync)."""
    store = SqliteStore(str(store_path))
    try:
        deadline = time.monotonic() + DEADLINE
        while len(rows := await store.recent_requests(50, RequestFilter())) < count:
            assert time.monotonic() < deadline, f"the request log holds {len(rows)} rows, not {count}"
            await asyncio.sleep(0.1)
        return rows
    finally:
        await store.close()


async def test_logs_tail_show_and_replay_a_claude_code_request_to_another_provider(
    upstream: FakeUpstream, tmp_path: Path, second_upstream: FakeUpstream
) -> None:
    upstream.script = first_key_limited
    second_upstream.script = lambda record: wire.stream_reply(wire.text_stream("served by other"))
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(upstream, second_upstream, tmp_path, port)))
    work = tmp_path / "work"
    work.mkdir()
    async with serving("--config", str(path), env=base_env(tmp_path), port=port):
        env = {"ANTHROPIC_AUTH_TOKEN": CLIENT}
        result = await asyncio.to_thread(run_claude, f"http://127.0.0.1:{port}", "say hi", cwd=work, extra_env=env, timeout=150)
        assert result.returncode == 0 and "served by up" in result.stdout, result.stderr + result.stdout
        rows = await logged(tmp_path / "state.db", 1)
        request = next(r for r in rows if r["path"] == "/v1/messages")
        rid = request["id"]

        code, tail = await cli("logs", "tail", "--config", str(path), "-n", "5", home=tmp_path)
        assert code == 0 and rid in tail and "up/gpt-5" in tail

        follower = await asyncio.create_subprocess_exec(
            BABELGATE, "logs", "tail", "-f", "-n", "1", "--config", str(path), env={**base_env(tmp_path), "COLUMNS": "250"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        try:
            code, show = await cli("logs", "show", rid, "--config", str(path), home=tmp_path)
            assert code == 0
            assert "failed: up/gpt-5 via up#0: 429 rate_limit" in show  # the route trace
            assert "x-anthropic-billing-header" in show and '"messages"' in show  # the captured Claude Code body
            assert CLIENT not in show and FIRST_KEY not in show and SECOND_KEY not in show

            code, replayed = await cli("logs", "replay", rid, "--to", "other/other-model", "--config", str(path), home=tmp_path)
            assert code == 0, replayed
            assert "target=other/other-model; credential=other#0; attempts=1" in replayed
            assert "served by other" in replayed
            assert len(second_upstream.received) == 1
            sent = second_upstream.received[0]
            assert sent.body["model"] == "other-model" and sent.headers["authorization"] == f"Bearer {OTHER_KEY}"
            assert [m["role"] for m in sent.body["messages"]] == [m["role"] for m in upstream.received[-1].body["messages"]]

            replay_row = (await logged(tmp_path / "state.db", 2))[0]  # the replay is a request of its own, in the log
            assert replay_row["target"] == "other/other-model"
            assert follower.stdout is not None
            seen = ""
            deadline = time.monotonic() + DEADLINE
            while replay_row["id"] not in seen:  # `tail -f` prints the replay as it lands
                assert time.monotonic() < deadline, seen
                seen += (await asyncio.wait_for(follower.stdout.read(4096), DEADLINE)).decode()
        finally:
            follower.kill()
            await follower.wait()
