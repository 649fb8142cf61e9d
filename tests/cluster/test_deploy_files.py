"""The shipped topology files: deploy/cluster.sh runs (Redis, three instances, HAProxy) and stops
everything it started; deploy/haproxy.cfg is valid; deploy/compose.yaml wires the same names.
(No container runtime runs on the test machine, so the compose file is checked, not started.)"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import yaml
from tests.cluster.traffic import TIMEOUT, body, chat, until
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.haproxy import CONFIG, HAPROXY
from tests.support.processes import free_port

DEPLOY = CONFIG.parent


def _free_run(count: int) -> int:
    """A first port such that it and the next `count - 1` are free."""
    while True:
        base = free_port()
        if base + count < 65535 and all(_free(base + i) for i in range(count)):
            return base


def _free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_haproxy_config_is_valid() -> None:
    env = {**os.environ, "BABELGATE_LISTEN": "127.0.0.1:1", "BABELGATE_STATS": "127.0.0.1:2"}
    env.update({f"BABELGATE_{i}": f"127.0.0.1:{10 + i}" for i in (1, 2, 3)})
    result = subprocess.run([HAPROXY, "-c", "-f", str(CONFIG)], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_wires_what_haproxy_cfg_reads() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "b1", "b2", "b3", "haproxy"}
    wanted = set(re.findall(r"\$\{(\w+)\}", CONFIG.read_text()))
    assert wanted == set(services["haproxy"]["environment"])
    for name in ("b1", "b2", "b3"):
        command = services[name]["command"]
        port = command[command.index("--port") + 1]
        assert services["haproxy"]["environment"][f"BABELGATE_{name[1]}"] == f"{name}:{port}"
        assert services[name]["environment"]["BABELGATE_REDIS_URL"] == "redis://redis:6379/0"
        assert int(services[name]["stop_grace_period"].rstrip("s")) > 60  # longer than the drain


async def test_cluster_sh_serves_and_stops_everything(tmp_path: Path) -> None:
    upstream = await FakeUpstream().start()
    upstream.script = lambda record: Reply(json=wire.completion("through the cluster"))
    provider = {"type": "openai", "base_url": f"{upstream.url}/v1", "api_keys": ["sk-c1"], "models": ["gpt-5"]}
    config = tmp_path / "config.yaml"
    store = {"type": "redis", "url": "${BABELGATE_REDIS_URL}"}
    server = {"admin_key": "deploy-admin-key-0123"}  # /health shows the store's state to the admin key only
    config.write_text(yaml.safe_dump({"server": server, "providers": {"rr": provider}, "store": store}))
    base, redis_port, listen, stats = _free_run(3), free_port(), free_port(), free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path),
        "BASE_PORT": str(base),
        "REDIS_PORT": str(redis_port),
        "BABELGATE_LISTEN": f"127.0.0.1:{listen}",
        "BABELGATE_STATS": f"127.0.0.1:{stats}",
        "STATE_DIR": str(tmp_path / "state"),
    }
    script = await asyncio.create_subprocess_exec(str(DEPLOY / "cluster.sh"), str(config), env=env, stdout=subprocess.DEVNULL)
    ports = [base, base + 1, base + 2, redis_port, listen, stats]
    try:
        async with aiohttp.ClientSession() as session:

            async def answered() -> bool:
                try:
                    answer = await chat(session, f"http://127.0.0.1:{listen}", body("rr", "hi"))
                except aiohttp.ClientError:
                    return False
                return answer.status == 200

            await until(answered, "the cluster to answer through HAProxy", timeout=30)
            answers = [await chat(session, f"http://127.0.0.1:{listen}", body("rr", f"n{i}")) for i in range(6)]
            admin = {"Authorization": "Bearer deploy-admin-key-0123"}
            async with session.get(f"http://127.0.0.1:{base}/health", timeout=TIMEOUT, headers=admin) as response:
                health = await response.json()
        assert {a.text for a in answers} == {"through the cluster"}
        assert health["store"]["state"] == "up" and health["store"]["url"] == f"redis://127.0.0.1:{redis_port}/0"
    finally:
        if script.returncode is None:
            script.send_signal(signal.SIGTERM)
            await asyncio.wait_for(script.wait(), 60)
        await upstream.stop()

    async def all_closed() -> bool:
        return all(_free(port) for port in ports)

    await until(all_closed, "every process of the cluster to stop")
