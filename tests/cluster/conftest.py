"""Three `babelgate serve` processes sharing a real redis-server, behind a real HAProxy running
deploy/haproxy.cfg, in front of one loopback OpenAI-compatible fake. One cluster for tests/cluster/.

Providers (each test uses its own, so their state does not mix): `cool` (cooldowns), `st` (sticky),
`tally` (usage), `rr` (kills and drains), `out` (the Redis outage). Every key is named after its provider.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.haproxy import HAProxy
from tests.support.processes import free_port
from tests.support.redis_server import RedisServer

BABELGATE = str(Path(sys.executable).with_name("babelgate"))
PROVIDERS = {"cool": "round-robin", "st": "sticky", "tally": "round-robin", "rr": "round-robin", "out": "round-robin"}
HOLD = "hold"  # a request whose text says this waits for the script's gate


@dataclass
class Script:
    """How the fake answers: keys in `failing` get a 429 with a long reset; with `gate` set, requests that
    say HOLD wait for it (a stream after its first text, a JSON answer before anything)."""

    failing: set[str] = field(default_factory=set)
    gate: asyncio.Event | None = None

    def __call__(self, record: Received) -> Reply:
        key = record.headers.get("authorization", "").removeprefix("Bearer ")
        if key in self.failing:
            body = {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}
            return Reply(429, body, headers={"retry-after": "300"})
        gate = self.gate if HOLD in str(record.body.get("messages")) else None
        if record.body.get("stream"):
            chunks = [wire.sse([c], done=False) for c in wire.text_stream("from ", key)] + [b"data: [DONE]\n\n"]
            return Reply(chunks=chunks, gate=gate, gate_at=2)  # after a first text event
        return Reply(json=wire.completion(f"from {key}"), gate=gate)


@dataclass
class Instance:
    name: str  # as HAProxy calls it: b1, b2, b3
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    upstream: FakeUpstream
    script: Script
    redis: RedisServer
    config: Path
    prefix: str
    instances: list[Instance]
    lb: HAProxy

    async def start(self, instance: Instance) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.config.parent)}
        args = ["serve", "--config", str(self.config), "--port", str(instance.port), "--log-level", "warning"]
        with instance.log.open("ab") as log:
            instance.process = await asyncio.create_subprocess_exec(BABELGATE, *args, env=env, stdout=log, stderr=log)
        await self.wait_healthy(instance)

    async def wait_healthy(self, instance: Instance, store: str = "up", timeout: float = 30) -> dict[str, Any]:
        """Until the instance's /health answers with the store in state `store`, with a deadline."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                assert instance.process is not None and instance.process.returncode is None, instance.log.read_text()
                try:
                    async with session.get(f"{instance.url}/health", headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as response:
                        health: dict[str, Any] = await response.json()
                        if response.status == 200 and health["store"]["state"] == store:
                            return health
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, f"{instance.name} not healthy with the store {store}"
                await asyncio.sleep(0.05)  # polling a condition with a deadline

    async def kill(self, instance: Instance) -> None:
        assert instance.process is not None
        instance.process.kill()
        await asyncio.wait_for(instance.process.wait(), 10)

    async def terminate(self, instance: Instance) -> asyncio.subprocess.Process:
        """SIGTERM: the instance drains and exits by itself; returns the process (to await)."""
        assert instance.process is not None
        instance.process.send_signal(signal.SIGTERM)
        return instance.process

    async def restore(self) -> None:
        """Every instance running and UP in HAProxy, and Redis running (after a test stopped some)."""
        if self.redis.process is None:
            await self.redis.start()
        for instance in self.instances:
            if instance.process is None or instance.process.returncode is not None:
                await self.start(instance)
        await self.lb.wait_for({i.name: "UP" for i in self.instances})


ADMIN_KEY = "cluster-admin-key-0123"


def cluster_config(upstream: FakeUpstream, redis: RedisServer, prefix: str) -> dict[str, Any]:
    providers = {
        name: {
            "type": "openai",
            "base_url": f"{upstream.url}/v1",
            "api_keys": [f"{name}-{i}" for i in (0, 1, 2)],  # key cool-0 is credential cool#0
            "models": ["gpt-5"],
            "strategy": strategy,
        }
        for name, strategy in PROVIDERS.items()
    }
    server = {"admin_key": ADMIN_KEY}  # /health shows the store's state to the admin key only
    return {"server": server, "providers": providers, "store": {"type": "redis", "url": redis.url, "prefix": prefix}}


@pytest.fixture(scope="package")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    upstream = await FakeUpstream().start()
    script = Script()
    upstream.script = script
    redis = await RedisServer(root / "redis").start()
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(cluster_config(upstream, redis, prefix)))
    instances = [Instance(f"b{i}", free_port(), root / f"b{i}.log") for i in (1, 2, 3)]
    lb = await HAProxy([i.port for i in instances], root / "haproxy.log").start()
    running = Cluster(upstream, script, redis, config, prefix, instances, lb)
    try:
        await asyncio.gather(*(running.start(i) for i in instances))
        await lb.wait_for({i.name: "UP" for i in instances})
        yield running
    finally:
        for instance in instances:
            if instance.process is not None and instance.process.returncode is None:
                instance.process.kill()
                await instance.process.wait()
        await lb.stop()
        await redis.stop()
        await upstream.stop()


@pytest.fixture
async def healthy(cluster: Cluster) -> AsyncIterator[Cluster]:
    """The cluster, whole again before the test, and the fake answering at once."""
    cluster.script.failing.clear()
    cluster.script.gate = None
    await cluster.restore()
    yield cluster
    if cluster.script.gate is not None:
        cluster.script.gate.set()  # nothing stays parked on a failed test
