"""babelgate as users install it: a wheel built from the files the Dockerfile copies (pyproject.toml,
README.md, src/), installed with `uv tool install` into a tool environment of its own (nothing of
the development virtualenv), and the installed command run: `--version`, `serve` answering a real
SDK through a loopback upstream, its dashboard, the Dockerfile's own HEALTHCHECK and CMD, a clean
SIGTERM exit, and the commands that read package data. No container runtime runs on the test
machine, so the image's entry point is tested here, from the wheel."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import anthropic
import pytest
import yaml

from babelgate import __version__
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Reply
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
UV = str(Path(sys.executable).with_name("uv"))
PACKAGE_DATA = {
    "babelgate/py.typed",
    "babelgate/models.yaml",
    "babelgate/prices.yaml",
    "babelgate/config_help.yaml",
    "babelgate/dashboard/index.html",
    "babelgate/dashboard/app.js",
    "babelgate/dashboard/app.css",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session, from a copy of what the Dockerfile copies (no build/ or egg-info left in the checkout)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(tree)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (built,) = dist.glob("babelgate-*.whl")
    return built


@pytest.fixture(scope="module")
def tool(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`uv tool install` of the wheel (uv's own cache, kept between sessions); the installed `babelgate`."""
    home = tmp_path_factory.mktemp("uv")
    env = {**os.environ, "UV_TOOL_DIR": str(home / "tools"), "UV_TOOL_BIN_DIR": str(home / "bin"), "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        [UV, "tool", "install", "--python", sys.executable, str(wheel)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return home / "bin" / "babelgate"


def clean_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "COLUMNS": "200"}


def dockerfile_instruction(name: str) -> str:
    """An instruction of deploy/Dockerfile, its continued lines joined (the last one of that name)."""
    joined = re.sub(r"\\\n\s*", " ", (ROOT / "deploy" / "Dockerfile").read_text())
    return [line for line in joined.splitlines() if line.startswith(name + " ")][-1]


def test_the_wheel_holds_the_package_data_and_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"babelgate-{__version__}.dist-info/entry_points.txt").decode()
        metadata = archive.read(f"babelgate-{__version__}.dist-info/METADATA").decode()
    assert names >= PACKAGE_DATA
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "bench/"))]
    assert "babelgate = babelgate.cli.main:app" in entry_points
    assert f"Version: {__version__}" in metadata and "Provides-Extra: redis" in metadata


async def run(*command: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_the_installed_command_is_its_own(tool: Path, tmp_path: Path) -> None:
    assert await run(str(tool), "--version", env=clean_env(tmp_path)) == (0, f"babelgate {__version__}\n")
    python = tool.resolve().parent / "python"  # the tool environment's interpreter
    code, where = await run(str(python), "-c", "import babelgate; print(babelgate.__file__)", env=clean_env(tmp_path))
    assert code == 0 and not where.startswith(str(ROOT)) and "site-packages" in where  # the wheel's copy, not the checkout


async def test_the_installed_command_reads_its_package_data(tool: Path, tmp_path: Path) -> None:
    code, schema = await run(str(tool), "config-schema", env=clean_env(tmp_path))  # config_help.yaml
    assert code == 0 and schema == (ROOT / "docs" / "config.schema.json").read_text()
    code, out = await run(str(tool), "init", "--stdout", "--yes", "--no-local", env={**clean_env(tmp_path), "OPENAI_API_KEY": "sk-z"})
    assert code == 0 and yaml.safe_load(out)["providers"]["openai"]["api_keys"] == ["${OPENAI_API_KEY}"]


@asynccontextmanager
async def serving(command: list[str], env: dict[str, str], port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):  # bounded: 300 tries, each a refused connection or a 100 ms wait on the exit
                try:
                    async with session.get(f"http://127.0.0.1:{port}/health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    try:
                        await asyncio.wait_for(process.wait(), 0.1)
                    except TimeoutError:
                        continue
                    raise AssertionError("babelgate exited: " + (await process.stderr.read()).decode()) from None  # type: ignore[union-attr]
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_the_image_entry_point_serves_from_the_wheel(tool: Path, tmp_path: Path, upstream: FakeUpstream) -> None:
    """The Dockerfile's CMD (on loopback, on a free port) and its HEALTHCHECK, with the installed wheel."""
    upstream.script = lambda record: (
        wire.stream_reply(wire.text_stream("from ", "the wheel"))
        if (record.body or {}).get("stream")
        else Reply(json=wire.completion("whole"))
    )
    config = tmp_path / "config.yaml"
    provider = {"type": "openai", "base_url": f"{upstream.url}/v1", "api_keys": ["${UP_KEY}"], "models": ["gpt-5"]}
    config.write_text(yaml.safe_dump({"providers": {"up": provider}, "aliases": {"claude-*": "up/gpt-5"}}))
    port = free_port()
    cmd = json.loads(dockerfile_instruction("CMD").removeprefix("CMD "))
    assert cmd[:2] == ["babelgate", "serve"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    cmd[cmd.index("--host") + 1], cmd[cmd.index("--port") + 1] = "127.0.0.1", str(port)  # loopback only, here
    env = {**clean_env(tmp_path), "BABELGATE_CONFIG": str(config), "UP_KEY": "sk-upstream-key-77"}
    health = json.loads(dockerfile_instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    assert health[0] == "python" and ":8318/health" in health[-1]
    health[0], health[-1] = str(tool.resolve().parent / "python"), health[-1].replace(":8318/", f":{port}/")
    async with serving([str(tool), *cmd[1:]], env, port) as process:
        sdk = anthropic.AsyncAnthropic(base_url=f"http://127.0.0.1:{port}", api_key="any", max_retries=0)
        message = await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
        async with sdk.messages.stream(model="claude-sonnet-5-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]) as stream:
            streamed = await stream.get_final_message()
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/dashboard/app.js") as asset:
            assert asset.status == 200 and len(await asset.read()) > 1000  # dashboard/* from the wheel
        assert (await run(*health, env=env))[0] == 0
    assert message.content[0].text == "whole"  # type: ignore[union-attr]
    assert streamed.content[0].text == "from the wheel"  # type: ignore[union-attr]
    assert upstream.received[0].headers["authorization"] == "Bearer sk-upstream-key-77"
    assert process.returncode == 0  # SIGTERM: drained and exited cleanly
    assert (await run(*health, env=env))[0] != 0  # and the health check says so once it is gone
