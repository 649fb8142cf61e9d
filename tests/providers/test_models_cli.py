"""`babelgate models` as a real process: every routable model, what it can do, and where each value came from."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import yaml

from tests.fakes.local_servers import FakeOllama

BABELGATE = str(Path(sys.executable).with_name("babelgate"))


async def babelgate(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        BABELGATE,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"COLUMNS": "220", "PATH": "/usr/bin:/bin", **env},
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


def row(output: str, name: str) -> list[str]:
    """The cells of the table row whose first cell is `name`."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{output}")


async def test_models_of_a_config_file(tmp_path: Path) -> None:
    config = {
        "providers": {
            "openai": {"base_url": "https://api.openai.com/v1", "api_keys": ["sk-cli-secret-1"], "models": ["gpt-5", "gpt-4o"]},
            "router": {"base_url": "https://openrouter.ai/api/v1", "api_keys": ["sk-or-secret-2"]},
            "box": {"base_url": "http://127.0.0.1:9/v1", "models": ["my-model"]},
        },
        "aliases": {"claude-*": ["openai/gpt-5", "router/anthropic/claude-opus-4.6"], "fast": "openai/gpt-4o"},
        "models": {"gpt-4o": {"max_output": 8000}, "box/my-model": {"context_window": 32768, "tools": True}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    code, output = await babelgate("models", "--config", str(path), env={"HOME": str(tmp_path)})
    assert code == 0, output
    assert row(output, "openai/gpt-5") == ["openai/gpt-5", "claude-*", "openai", "400,000", "128,000", "yes", "yes", "effort", "table"]
    assert row(output, "openai/gpt-4o") == [
        *("openai/gpt-4o", "fast", "openai", "128,000", "8,000", "yes", "yes", "none"),
        "table; config: max_output",
    ]
    assert row(output, "router/anthropic/claude-opus-4.6")[1:] == [
        "claude-* (fallback)",
        "openai",
        "200,000",
        "128,000",
        "yes",
        "yes",
        "effort",
        "table",
    ]
    assert row(output, "box/my-model")[1:] == ["", "openai", "32,768", "?", "?", "yes", "?", "config"]
    assert row(output, "router/<any model>")[-1] == "unknown"
    assert "sk-cli-secret-1" not in output and "sk-or-secret-2" not in output


async def test_models_found_with_no_config_file(tmp_path: Path) -> None:
    ollama = await FakeOllama().start()
    try:
        env = {"HOME": str(tmp_path), "OLLAMA_HOST": f"127.0.0.1:{ollama.port}", "DEEPSEEK_API_KEY": "sk-ds-secret-3"}
        code, output = await babelgate("models", env=env)
    finally:
        await ollama.stop()
    assert code == 0, output
    assert row(output, "ollama/qwen3:8b")[2:] == ["openai", "16,384", "?", "no", "yes", "builtin", "discovered"]
    assert row(output, "ollama/llava:7b")[2:] == ["openai", "4,096", "?", "yes", "no", "none", "discovered"]
    assert row(output, "deepseek/deepseek-chat")[1:] == [
        "claude-haiku-*, claude-*",
        "openai",
        "1,000,000",
        "384,000",
        "no",
        "yes",
        "none",
        "table",
    ]
    assert "sk-ds-secret-3" not in output


async def test_a_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"models": {"gpt-5": {"max_output": "lots"}}}))
    code, output = await babelgate("models", "-c", str(path), env={"HOME": str(tmp_path)})
    assert code == 2
    assert "models.gpt-5.max_output" in output and "Traceback" not in output
