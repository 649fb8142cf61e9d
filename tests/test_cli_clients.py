"""Real CLIs end to end, each finishing a tool loop that writes a file, through a foreign upstream.

Codex CLI (Responses) -> Anthropic-type upstream; Gemini CLI (generateContent) -> OpenAI-type
upstream; Claude Code (Messages) -> Gemini-type upstream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import GatewayFactory
from tests.fakes.turns import ToolCall, Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import run_claude
from tests.support.node_clis import run_codex, run_gemini

FINAL = "Wrote hello to out.txt."


def tool_loop(kind: str, tool: str, arguments: dict[str, Any]) -> Callable[[Received], Reply]:
    """Ask for one shell call; once its output comes back, finish in text. Side requests get text."""

    def script(record: Received) -> Reply:
        stream = bool(record.body.get("stream")) or "streamGenerateContent" in record.path
        dumped = orjson.dumps(record.body).decode()
        if tool not in dumped:  # a request without the tool (titles, routing): plain text
            return reply(kind, Turn(text="ok"), stream)
        if "echo hello > out.txt" in dumped and dumped.count("echo hello > out.txt") >= 1 and _has_result(kind, record.body):
            return reply(kind, Turn(text=FINAL), stream)
        return reply(kind, Turn(text="Running it.", calls=[ToolCall(tool, arguments, id="toolu_cli_1")]), stream)

    return script


def _has_result(kind: str, body: dict[str, Any]) -> bool:
    dumped = orjson.dumps(body).decode()
    marker = {"anthropic": '"tool_result"', "openai": '"role":"tool"', "gemini": '"functionResponse"'}[kind]
    return marker in dumped


def config(kind: str, upstream: FakeUpstream, alias: str) -> dict[str, Any]:
    base = f"{upstream.url}/v1" if kind == "openai" else upstream.url
    provider = {"type": kind, "base_url": base, "api_keys": ["sk-upstream"], "models": ["up-model"]}
    return {"providers": {"up": provider}, "aliases": {alias: "up/up-model"}}


async def test_codex_cli_through_anthropic_upstream(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    upstream.script = tool_loop("anthropic", "exec_command", {"cmd": "echo hello > out.txt"})
    gw = await gateway_factory(config("anthropic", upstream, "codex-model"))
    result = await asyncio.to_thread(run_codex, f"{gw.url}/v1", "create out.txt containing hello", model="codex-model", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert FINAL in result.stdout
    turns = [r.body for r in upstream.received if "exec_command" in orjson.dumps(r.body).decode()]
    last = turns[-1]
    assert last["messages"][-1]["role"] == "user"
    results = [b for b in last["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert results and results[0]["tool_use_id"] == "toolu_cli_1"
    assert any(
        b.get("type") == "tool_use" and b["id"] == "toolu_cli_1" for m in last["messages"] for b in m["content"] if isinstance(b, dict)
    )


async def test_gemini_cli_through_openai_upstream(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    upstream.script = tool_loop("openai", "run_shell_command", {"command": "echo hello > out.txt", "description": "write file"})
    gw = await gateway_factory(config("openai", upstream, "gem-model"))
    result = await asyncio.to_thread(run_gemini, gw.url, "create out.txt containing hello", model="gem-model", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "out.txt").read_text().strip() == "hello"
    assert FINAL in result.stdout
    last = [r.body for r in upstream.received if "run_shell_command" in orjson.dumps(r.body).decode()][-1]
    tool_messages = [m for m in last["messages"] if m["role"] == "tool"]
    calls = [c for m in last["messages"] if m.get("tool_calls") for c in m["tool_calls"]]
    assert tool_messages and calls and tool_messages[0]["tool_call_id"] == calls[0]["id"]


async def test_claude_code_through_gemini_upstream(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    upstream.script = tool_loop("gemini", "Bash", {"command": "echo hello > out.txt", "description": "write file"})
    gw = await gateway_factory(config("gemini", upstream, "claude-*"))
    result = await asyncio.to_thread(run_claude, gw.url, "Write hello to out.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert FINAL in result.stdout
    last = [r for r in upstream.received if "Bash" in orjson.dumps(r.body).decode()][-1]
    assert "streamGenerateContent" in last.path and last.headers["x-goog-api-key"] == "sk-upstream"
    parts = [p for c in last.body["contents"] for p in c["parts"]]
    call = next(p for p in parts if "functionCall" in p)
    response = next(p for p in parts if "functionResponse" in p)
    assert call["functionCall"]["name"] == response["functionResponse"]["name"] == "Bash"
    assert call.get("thoughtSignature") == "sig-abc"  # Gemini's signature survived the trip through Claude Code
