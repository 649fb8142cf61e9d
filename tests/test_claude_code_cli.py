"""The real Claude Code CLI -> babelgate -> a loopback OpenAI-compatible upstream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import run_claude

FINAL_TEXT = "Done: hello is in out.txt."


def tool_loop(record: Received) -> Reply:
    """First model turn asks for a Bash call; once the tool result is back, answer in text."""
    messages: list[dict[str, Any]] = record.body.get("messages", [])
    if not record.body.get("tools"):
        return wire.stream_reply(wire.text_stream("side request"))
    if any(m.get("role") == "tool" for m in messages):
        return wire.stream_reply(wire.text_stream(FINAL_TEXT))
    arguments = json.dumps({"command": "echo hello > out.txt", "description": "write file"})
    return wire.stream_reply(wire.tool_stream("Bash", arguments, call_id="call_cc1", text="Running it."), split=13)


async def test_claude_code_tool_loop_through_openai_upstream(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    upstream.script = tool_loop
    result = await asyncio.to_thread(run_claude, gw.url, "Write hello to out.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert FINAL_TEXT in result.stdout
    main_turns = [r for r in upstream.received if r.body.get("tools")]
    assert len(main_turns) == 2
    first, second = (r.body for r in main_turns)
    assert first["model"] == "gpt-5"
    assert all(not m["content"].startswith("x-anthropic-billing-header") for m in first["messages"] if m["role"] == "system")
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert tool_messages and tool_messages[0]["tool_call_id"] == "call_cc1"
    calls = [m for m in second["messages"] if m.get("tool_calls")]
    assert calls[-1]["tool_calls"][0]["id"] == "call_cc1" and calls[-1]["tool_calls"][0]["function"]["name"] == "Bash"


async def test_claude_code_tells_the_user_which_model_cools_and_for_how_long(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    upstream.script = lambda record: wire.error(
        429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota", {"Retry-After": "900"}
    )
    gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}))
    result = await asyncio.to_thread(run_claude, gw.url, "hello", model="claude-opus-5-5", cwd=tmp_path, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "claude-opus-5-5" in output and "cooling down" in output
    assert "retry in 900s" in output or "retry in 899s" in output
    assert len(upstream.received) == 1  # no retry storm: the first 429 put the key on cooldown
