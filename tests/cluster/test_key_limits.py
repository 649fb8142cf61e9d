"""A client key's requests-per-minute limit holds across three instances behind a real HAProxy, counted in Redis."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.haproxy import HAProxy
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer
from tests.support.serve_process import Served, serve

LIMIT = 7
SENT = 30


async def test_a_per_key_limit_lets_exactly_n_through_across_three_instances(tmp_path: Path) -> None:
    upstream = await FakeUpstream().start()
    upstream.script = lambda record: Reply(json=wire.completion("counted once"))
    redis = await RedisServer(tmp_path / "redis").start()
    ports = [free_port() for _ in range(3)]
    lb = await HAProxy(ports, tmp_path / "haproxy.log").start()
    instances: list[Served] = []
    try:
        config = {
            "server": {"api_keys": [{"key": "team-key-limited-0001", "name": "team", "rpm": LIMIT}]},
            "providers": {"up": {"base_url": f"{upstream.url}/v1", "api_keys": ["sk-up-1"], "models": ["gpt-5"]}},
            "store": {"type": "redis", "url": redis.url, "prefix": f"limits-{uuid.uuid4().hex[:8]}"},
        }
        instances = list(await asyncio.gather(*(serve(config, tmp_path, port=p, name=f"b{i}") for i, p in enumerate(ports, 1))))
        await lb.wait_for({f"b{i}": "UP" for i in (1, 2, 3)})
        payload = {"model": "up/gpt-5", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": "Bearer team-key-limited-0001"}
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one() -> tuple[int, str]:
                async with session.post(f"{lb.url}/v1/chat/completions", json=payload) as response:
                    await response.read()
                    return response.status, response.headers.get("X-Babelgate-Instance", "")

            answers = await asyncio.gather(*(one() for _ in range(SENT)))
        statuses = [status for status, _ in answers]
        assert statuses.count(200) == LIMIT and statuses.count(429) == SENT - LIMIT
        assert len({instance for _, instance in answers}) == 3  # all three instances answered
        assert len(upstream.received) == LIMIT  # the refused never reached the upstream
    finally:
        await asyncio.gather(*(instance.stop() for instance in instances))
        await lb.stop()
        await redis.stop()
        await upstream.stop()
