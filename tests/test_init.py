"""`babelgate init` as a real process: what it finds goes in the file, keys only as `${VAR}`
references, an existing file is never replaced without `--force`, and what it writes loads."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml

from babelgate import config as config_module
from tests.fakes.local_servers import FakeOllama

BABELGATE = str(Path(sys.executable).with_name("babelgate"))
OPENAI_KEY = "sk-openai-secret-value-1234"
SPARE_KEY = "sk-openai-spare-value-5678"
DEEPSEEK_KEY = "sk-deepseek-secret-value-9"


async def run(*args: str, env: dict[str, str], stdin: str | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        BABELGATE,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else b""), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def clean_env(home: Path, **variables: str) -> dict[str, str]:
    """Nothing of this machine's environment but PATH: no key variable leaks in."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "COLUMNS": "200", **variables}


async def test_keys_are_written_as_references_and_load_from_the_environment(tmp_path: Path) -> None:
    env = clean_env(tmp_path, OPENAI_API_KEY=OPENAI_KEY, OPENAI_API_KEY_2=SPARE_KEY, DEEPSEEK_API_KEY=DEEPSEEK_KEY)
    code, _, err = await run("init", "--yes", "--no-local", env=env)
    assert code == 0, err
    path = tmp_path / ".config" / "babelgate" / "config.yaml"  # where `serve` looks first without --config
    text = path.read_text()
    assert OPENAI_KEY not in text and SPARE_KEY not in text and DEEPSEEK_KEY not in text
    assert OPENAI_KEY not in err and DEEPSEEK_KEY not in err
    data = yaml.safe_load(text)
    assert data["providers"]["openai"]["api_keys"] == ["${OPENAI_API_KEY}", "${OPENAI_API_KEY_2}"]  # the spare joins the pool
    assert data["providers"]["deepseek"] == {"preset": "deepseek", "api_keys": ["${DEEPSEEK_API_KEY}"], "models": ["deepseek-chat"]}
    assert data["aliases"] == {"claude-haiku-*": "openai/gpt-5-mini", "claude-*": "openai/gpt-5"}
    assert "from $OPENAI_API_KEY, $OPENAI_API_KEY_2" in err and "next: babelgate check-config" in err

    code, out, err = await run("check-config", str(path), env=env)
    assert (code, out.strip()) == (0, "ok: 2 providers, 2 aliases"), err
    os.environ.update(OPENAI_API_KEY=OPENAI_KEY, OPENAI_API_KEY_2=SPARE_KEY, DEEPSEEK_API_KEY=DEEPSEEK_KEY)
    try:
        loaded = config_module.load(path)
    finally:
        for name in ("OPENAI_API_KEY", "OPENAI_API_KEY_2", "DEEPSEEK_API_KEY"):
            os.environ.pop(name)
    assert loaded.providers["openai"].api_keys == [OPENAI_KEY, SPARE_KEY]
    assert loaded.providers["openai"].base_url == "https://api.openai.com/v1"  # from the preset


async def test_an_existing_config_is_replaced_only_with_force(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("server: {port: 9999}\n")
    env = clean_env(tmp_path, OPENAI_API_KEY=OPENAI_KEY)
    code, _, err = await run("init", "-o", str(path), "--yes", "--no-local", env=env)
    assert code == 1 and "exists" in err and "--force" in err
    assert path.read_text() == "server: {port: 9999}\n"

    code, _, err = await run("init", "-o", str(path), "--yes", "--no-local", "--force", env=env)
    assert code == 0, err
    assert yaml.safe_load(path.read_text())["providers"]["openai"]["api_keys"] == ["${OPENAI_API_KEY}"]
    assert (tmp_path / "mine.yaml.bak").read_text() == "server: {port: 9999}\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left behind


async def test_a_local_server_is_found_with_what_it_says_of_its_models(tmp_path: Path) -> None:
    ollama = await FakeOllama().start()
    try:
        env = clean_env(tmp_path, OLLAMA_HOST=f"127.0.0.1:{ollama.port}")
        code, out, err = await run("init", "--stdout", "--yes", env=env)
    finally:
        await ollama.stop()
    assert code == 0, err
    data = yaml.safe_load(out)
    assert data["providers"]["ollama"] == {"type": "openai", "base_url": f"{ollama.url}/v1", "models": ["qwen3:8b", "llava:7b"]}
    assert data["models"]["ollama/qwen3:8b"] == {"context_window": 16384, "tools": True, "vision": False, "reasoning": "builtin"}
    assert data["models"]["ollama/llava:7b"]["vision"] is True
    assert data["aliases"]["claude-*"] == "ollama/qwen3:8b"
    assert not (tmp_path / ".config").exists()  # --stdout writes nothing
    config_module.parse(data)  # loads as written: no key to resolve


async def test_interactive_answers_pick_the_providers_and_the_port(tmp_path: Path) -> None:
    env = clean_env(tmp_path, OPENAI_API_KEY=OPENAI_KEY, DEEPSEEK_API_KEY=DEEPSEEK_KEY)
    path = tmp_path / "asked.yaml"
    code, out, err = await run("init", "-o", str(path), "--interactive", "--no-local", env=env, stdin="n\n\n9100\n")
    assert code == 0, err + out
    assert "Add openai" in out and "Add deepseek" in out and "Port" in out
    data = yaml.safe_load(path.read_text())
    assert list(data["providers"]) == ["deepseek"]  # openai declined, deepseek taken by default
    assert data["server"] == {"host": "127.0.0.1", "port": 9100}


async def test_listening_beyond_loopback_requires_a_client_key(tmp_path: Path) -> None:
    env = clean_env(tmp_path, GEMINI_API_KEY="gm-secret-key-1")
    path = tmp_path / "shared.yaml"
    code, _, err = await run("init", "-o", str(path), "--yes", "--no-local", "--host", "0.0.0.0", env=env)
    assert code == 0, err
    assert yaml.safe_load(path.read_text())["server"]["api_keys"] == ["${BABELGATE_API_KEY}"]
    assert "BABELGATE_API_KEY" in err
    code, _, err = await run("check-config", str(path), env=env)
    assert code == 2 and "server.api_keys.0: environment variable BABELGATE_API_KEY is not set" in err
    code, _, err = await run("check-config", str(path), env={**env, "BABELGATE_API_KEY": "client-key"})
    assert code == 0, err


async def test_nothing_found_still_writes_a_config_that_loads(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    path = tmp_path / "empty.yaml"
    code, _, err = await run("init", "-o", str(path), "--yes", "--no-local", env=env)
    assert code == 0, err
    assert "no provider found" in err
    assert "preset: openai" in path.read_text()  # the commented example
    code, out, err = await run("check-config", str(path), env=env)
    assert (code, out.strip()) == (0, "ok: 0 providers, 0 aliases"), err
