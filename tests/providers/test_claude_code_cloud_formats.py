"""The real Claude Code CLI in Bedrock mode and in Vertex mode -> babelgate -> an OpenAI-type upstream.

Each run is one CLI process doing a Bash tool loop: the first model turn asks for a command
that writes a file, the second answers in text once the tool result is back. The gateway
checks its own key, given the way each mode can send one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import run_claude

KEY = "gw-cloud-key-1"
FINAL_TEXT = "Done: hello is in out.txt."
PROMPT = "Write hello to out.txt"


def tool_loop(record: Received) -> Reply:
    messages: list[dict[str, Any]] = record.body.get("messages", [])
    if not record.body.get("tools"):  # a side request (a model probe, a title), streaming or not
        return wire.stream_reply(wire.text_stream("side request")) if record.body.get("stream") else Reply(json=wire.completion("side"))
    if any(m.get("role") == "tool" for m in messages):
        return wire.stream_reply(wire.text_stream(FINAL_TEXT))
    arguments = json.dumps({"command": "echo hello > out.txt", "description": "write file"})
    return wire.stream_reply(wire.tool_stream("Bash", arguments, call_id="call_cloud1", text="Running it."), split=13)


def filled(env: dict[str, str | None], url: str) -> dict[str, str | None]:
    return {name: value.replace("GATEWAY", url) if value else value for name, value in env.items()}


async def run_loop(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path, env: dict[str, str | None]) -> list[Any]:
    """One CLI run of the loop; returns the gateway's log of the main turns' upstream bodies."""
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": [KEY]}))
    upstream.script = tool_loop
    extra_env: dict[str, str | None] = {"ANTHROPIC_BASE_URL": None, "ANTHROPIC_AUTH_TOKEN": None}
    extra_env.update(filled(env, gw.url))
    result = await asyncio.to_thread(run_claude, gw.url, PROMPT, cwd=tmp_path, extra_env=extra_env, timeout=150)
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert FINAL_TEXT in result.stdout
    main_turns = [r.body for r in upstream.received if r.body.get("tools")]
    assert len(main_turns) == 2
    assert all(body["model"] == "gpt-5" for body in main_turns)
    tool_messages = [m for m in main_turns[1]["messages"] if m["role"] == "tool"]
    assert tool_messages and tool_messages[0]["tool_call_id"] == "call_cloud1"
    return main_turns


BEDROCK: dict[str, str | None] = {
    "CLAUDE_CODE_USE_BEDROCK": "1",
    "ANTHROPIC_BEDROCK_BASE_URL": "GATEWAY",
    "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
    "AWS_REGION": "us-east-1",
    "AWS_BEARER_TOKEN_BEDROCK": KEY,  # sent as Authorization: Bearer
}
VERTEX: dict[str, str | None] = {
    "CLAUDE_CODE_USE_VERTEX": "1",
    "ANTHROPIC_VERTEX_BASE_URL": "GATEWAY/v1",
    "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
    "ANTHROPIC_VERTEX_PROJECT_ID": "my-proj",
    "CLOUD_ML_REGION": "us-east5",
    "ANTHROPIC_AUTH_TOKEN": KEY,  # sent as Authorization: Bearer when Vertex auth is skipped
}


async def test_claude_code_in_bedrock_mode(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    await run_loop(upstream, gateway_factory, tmp_path, BEDROCK)


async def test_claude_code_in_vertex_mode(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    await run_loop(upstream, gateway_factory, tmp_path, VERTEX)


COUNTERS = [(BEDROCK, "/count-tokens 200"), (VERTEX, "/count-tokens:rawPredict 200")]


@pytest.mark.parametrize(("env", "counted"), COUNTERS, ids=["bedrock", "vertex"])
async def test_context_counts_tokens_at_the_gateway(
    upstream: FakeUpstream,
    gateway_factory: GatewayFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str | None],
    counted: str,
) -> None:
    """`/context` asks the cloud's token counter; Bedrock first asks which model backs the profile.

    The gateway runs without `api_keys` here: Claude Code sends Bedrock's control-plane calls
    (the inference profiles) without any key when it skips AWS auth."""
    gw = await gateway_factory(openai_config(upstream))
    extra_env = filled(env, gw.url)
    caplog.set_level(logging.INFO, logger="babelgate.server")
    result = await asyncio.to_thread(run_claude, gw.url, "/context", cwd=tmp_path, extra_env=extra_env, timeout=150)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Tokens:" in result.stdout
    lines = [r.getMessage() for r in caplog.records if r.name == "babelgate.server"]
    assert any(counted in line for line in lines), lines
    assert not upstream.received  # counting costs no model call


@pytest.mark.parametrize("env", [BEDROCK, VERTEX], ids=["bedrock", "vertex"])
async def test_cooling_model_is_told_in_each_format(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path, env: dict[str, str | None]
) -> None:
    """A 429 before the first byte, in Bedrock's shape or Anthropic's: Claude Code prints the gateway's words, once."""
    quota = wire.error(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota", {"Retry-After": "900"})
    upstream.script = lambda record: quota
    gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}, server={"api_keys": [KEY]}))
    extra_env = {"ANTHROPIC_AUTH_TOKEN": None, **filled(env, gw.url)}
    result = await asyncio.to_thread(run_claude, gw.url, "hello", cwd=tmp_path, extra_env=extra_env, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "claude-opus-5-5" in output and "cooling down" in output and ("retry in 900s" in output or "retry in 899s" in output)
    assert len(upstream.received) == 1
