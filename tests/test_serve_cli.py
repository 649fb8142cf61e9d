"""`babelgate serve` as a real process: zero-config discovery, a config file, several workers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import anthropic
import yaml

from babelgate.providers.presets import default_aliases, find_local_servers, from_environment
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.processes import free_port

BABELGATE = str(Path(sys.executable).with_name("babelgate"))


@asynccontextmanager
async def serving(*args: str, env: dict[str, str], port: int) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    process = await asyncio.create_subprocess_exec(
        BABELGATE, "serve", "--port", str(port), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while not any("listening on" in line for line in lines):  # printed once every worker listens
            line = await asyncio.wait_for(process.stdout.readline(), max(deadline - time.monotonic(), 0.1))
            if not line:
                break
            lines.append(line.decode().rstrip("\n"))
        assert process.returncode is None, "babelgate serve exited early"
        yield process, lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        assert process.stdout is not None
        lines.extend((await process.stdout.read()).decode().splitlines())


def base_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}


async def test_zero_config_serve_prints_what_it_found(tmp_path: Path) -> None:
    port = free_port()
    env = {**base_env(tmp_path), "OPENAI_API_KEY": "sk-from-env-123456", "DEEPSEEK_API_KEY": "sk-deepseek-abcdef"}
    async with (
        serving(env=env, port=port) as (_, lines),
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/v1/models") as response,
    ):
        ids = [m["id"] for m in (await response.json())["data"]]
    output = "\n".join(lines)
    assert "No config file found" in output
    assert "openai: openai at https://api.openai.com/v1" in output and "deepseek" in output
    assert f"ANTHROPIC_BASE_URL=http://127.0.0.1:{port}" in output
    assert "sk-from-env-123456" not in output and "sk-deepseek-abcdef" not in output
    assert "claude-openai-gpt-5" in ids and "claude-deepseek-deepseek-chat[1m]" in ids  # published for Claude Code


async def test_serve_with_config_and_two_workers(tmp_path: Path, upstream: FakeUpstream) -> None:
    upstream.script = lambda record: Reply(json=wire.completion("from a worker"))
    config = {
        "providers": {"up": {"base_url": f"{upstream.url}/v1", "api_keys": ["sk-worker-key-1"], "models": ["gpt-5"]}},
        "aliases": {"claude-*": "up/gpt-5"},
        "store": {"path": str(tmp_path / "state.db")},
    }
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    async with serving("--config", str(config_path), "--workers", "2", env=base_env(tmp_path), port=port) as (process, lines):
        sdk = anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{port}", api_key="k", max_retries=0)
        replies = await asyncio.gather(
            *(sdk.messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=[{"role": "user", "content": "hi"}]) for _ in range(40))
        )
        children = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == process.pid]
    assert all(r.content[0].text == "from a worker" for r in replies)  # type: ignore[union-attr]
    assert len(upstream.received) == 40
    assert len(children) >= 2
    assert "2 workers" in "\n".join(lines)
    deadline = time.monotonic() + 10
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not any(_alive(c) for c in children)  # the workers stop with the parent


def _alive(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"providers": {"x": {"type": "carrier-pigeon", "base_url": "http://127.0.0.1:1"}}, "sever": {}}))
    process = await asyncio.create_subprocess_exec(
        BABELGATE,
        "serve",
        "--config",
        str(config_path),
        env={**base_env(tmp_path), "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 2
    assert "providers.x.type" in output and "sever" in output
    assert "Traceback" not in output


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_environment_presets_and_aliases() -> None:
    providers = from_environment({"OPENAI_API_KEY": "sk-1", "GROQ_API_KEY": "gsk-2", "UNRELATED": "x"})
    assert list(providers) == ["openai", "groq"]
    assert providers["openai"].max_tokens_field == "max_completion_tokens"
    assert providers["groq"].base_url == "https://api.groq.com/openai/v1"
    assert default_aliases(providers) == {"claude-haiku-*": "openai/gpt-5-mini", "claude-*": "openai/gpt-5"}
    assert default_aliases(from_environment({"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "b"})) == {}


async def test_local_servers_are_found_by_their_model_list(upstream: FakeUpstream) -> None:
    upstream.script = lambda record: Reply(json={"object": "list", "data": [{"id": "qwen3:8b", "object": "model"}]})
    found = await find_local_servers((("ollama", upstream.port), ("vllm", free_port())))
    assert list(found) == ["ollama"]
    assert found["ollama"].base_url == f"http://127.0.0.1:{upstream.port}/v1" and found["ollama"].models == ["qwen3:8b"]
