"""The real Claude Code CLI -> babelgate -> the loopback Bedrock: a tool loop through InvokeModel streams, SigV4-signed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory
from tests.fakes import bedrock_wire as wire
from tests.fakes.bedrock import BedrockReply, FakeBedrock, Seen, invoke_stream, isolate_aws
from tests.support.claude_cli import run_claude

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
FINAL_TEXT = "Done: hello is in out.txt."


def turn(seen: Seen) -> BedrockReply:
    """The main turn asks for a Bash call; once its result is back, it answers in text. Side requests get text."""
    body: dict[str, Any] = seen.body
    results = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_result"]
    if body.get("tools") and not results:
        call = {
            "type": "tool_use",
            "id": "toolu_bdrk_cc1",
            "name": "Bash",
            "input": {"command": "echo hello > out.txt", "description": "write"},
        }
        reply = wire.anthropic_message([{"type": "text", "text": "Running it."}, call], "tool_use")
    else:
        reply = wire.anthropic_message([{"type": "text", "text": FINAL_TEXT if results else "side request"}])
    return invoke_stream(reply, split=13) if seen.action == "invoke-with-response-stream" else BedrockReply(json=reply)


async def test_claude_code_tool_loop_through_bedrock_invoke(
    gateway_factory: GatewayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_aws(monkeypatch, tmp_path)
    fake = await FakeBedrock(session_token="FwoGZXIvYXdzEClaudeCodeToken").start()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", fake.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", fake.secret_key)
        monkeypatch.setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEClaudeCodeToken")
        fake.script = turn
        provider = {"type": "bedrock", "region": fake.region, "base_url": fake.url, "models": [CLAUDE]}
        gw = await gateway_factory({"providers": {"bedrock": provider}, "aliases": {"claude-*": f"bedrock/{CLAUDE}"}})
        work = tmp_path / "work"
        work.mkdir()
        result = await asyncio.to_thread(run_claude, gw.url, "Write hello to out.txt", cwd=work)
    finally:
        await fake.stop()
    assert result.returncode == 0, result.stderr + result.stdout
    assert (work / "out.txt").read_text() == "hello\n"
    assert FINAL_TEXT in result.stdout
    main = [s for s in fake.received if s.body.get("tools")]
    assert len(main) == 2 and all(s.action == "invoke-with-response-stream" for s in main)
    first, second = (s.body for s in main)
    assert first["anthropic_version"] == "bedrock-2023-05-31" and "model" not in first and "stream" not in first
    assert "claude-code-20250219" in first.get("anthropic_beta", [])  # the CLI's beta header, moved into the body
    assert all("anthropic-beta" not in s.headers for s in fake.received)
    uses = [b for m in second["messages"] if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "tool_use"]
    assert uses and uses[-1]["id"] == "toolu_bdrk_cc1"
