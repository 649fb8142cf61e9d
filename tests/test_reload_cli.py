"""`babelgate reload` and `SIGHUP` against a real `babelgate serve --workers 2`: an invalid file refused (the
command prints the key path, the old config keeps serving), a valid one adopted by every worker."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.processes import free_port
from tests.test_serve_cli import BABELGATE, base_env, serving

ADMIN = "admin-key-reload-cli-01"
DEADLINE = 20.0


def config(upstream: FakeUpstream, tmp_path: Path, port: int, aliases: dict[str, str]) -> dict[str, Any]:
    return {
        "server": {"port": port, "admin_key": ADMIN, "watch_config": False},  # only the command and the signal reload here
        "providers": {"up": {"base_url": f"{upstream.url}/v1", "api_keys": ["sk-reload-cli-key-1"], "models": ["gpt-5", "gpt-5-mini"]}},
        "aliases": aliases,
        "store": {"path": str(tmp_path / "state.db")},
    }


async def reload_command(path: Path, home: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        BABELGATE, "reload", "--config", str(path), env=base_env(home), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def models_served(url: str, model: str, count: int = 16) -> list[Any]:
    """What `count` requests for `model` got back: the served model, or the error status."""
    payload = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:

        async def one() -> Any:
            async with session.post(f"{url}/v1/messages", json=payload) as response:
                body = await response.json()
                return body["content"][0]["text"] if response.status == 200 else response.status

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def until_every_worker(url: str, model: str, expected: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    while set(await models_served(url, model)) != {expected}:
        assert time.monotonic() < deadline, f"not every worker serves {model} as {expected!r}"
        await asyncio.sleep(0.05)


async def test_reload_command_and_sighup_reach_every_worker(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.script = lambda record: Reply(json=wire.completion(f"model {record.body['model']}"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(upstream, tmp_path, port, {"fast": "up/gpt-5"})))
    async with serving("--config", str(path), "--workers", "2", env=base_env(tmp_path), port=port) as (process, lines):
        assert set(await models_served(url, "fast")) == {"model gpt-5"}

        broken = config(upstream, tmp_path, port, {"fast": "up/gpt-5-mini"})
        broken["routing"] = {"strategy": "round-robbin"}
        path.write_text(yaml.safe_dump(broken))
        code, out, err = await reload_command(path, tmp_path)
        assert code == 2
        assert "routing.strategy" in err and "running config stays" in err
        assert set(await models_served(url, "fast")) == {"model gpt-5"}  # the old config keeps serving

        path.write_text(yaml.safe_dump(config(upstream, tmp_path, port, {"fast": "up/gpt-5-mini", "brand-new": "up/gpt-5-mini"})))
        code, out, err = await reload_command(path, tmp_path)
        assert code == 0, err
        assert "aliases: +brand-new ~fast" in out
        await until_every_worker(url, "brand-new", "model gpt-5-mini")
        await until_every_worker(url, "fast", "model gpt-5-mini")

        path.write_text(yaml.safe_dump(config(upstream, tmp_path, port, {"fast": "up/gpt-5"})))
        process.send_signal(signal.SIGHUP)  # the supervisor passes it to both workers
        await until_every_worker(url, "fast", "model gpt-5")
        assert set(await models_served(url, "brand-new")) == {400}
        assert process.returncode is None
    log = "\n".join(lines)
    assert "config reload (babelgate reload) refused" in log and "routing.strategy" in log
    assert "config reloaded (SIGHUP)" in log
    assert ADMIN not in log and "sk-reload-cli-key-1" not in log
