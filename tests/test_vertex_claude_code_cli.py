"""The real Claude Code CLI -> babelgate -> Claude on a loopback Vertex AI (regional location).

Top-level rather than under tests/providers/: like tests/test_claude_code_cli.py it runs the CLI in
a worker thread, after which concurrent SDK requests on the shared test loop have been seen to stall
(a harness issue, not the gateway's), so it sorts after the tests that load the gateway.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import GatewayFactory
from tests.fakes.turns import ToolCall, Turn
from tests.fakes.upstream import Received, Reply
from tests.fakes.vertex import VertexFake, vertex_reply
from tests.providers.vertex_setup import CLAUDE, vertex, vertex_config
from tests.support.claude_cli import run_claude

__all__ = ["vertex"]  # the fixture


def claude_code_script(record: Received) -> Reply:
    """Side requests get text; the main turn calls Bash, then answers once the tool result is back."""
    messages = record.body.get("messages", [])
    blocks = [b for m in messages if isinstance(m.get("content"), list) for b in m["content"]]
    if not record.body.get("tools"):
        return vertex_reply(record, Turn(text="side request"))
    if any(b.get("type") == "tool_result" for b in blocks):
        return vertex_reply(record, Turn(text="Done: hello is in out.txt."))
    call = ToolCall("Bash", {"command": "echo hello > out.txt", "description": "write file"}, id="toolu_vrtx_cc1")
    return vertex_reply(record, Turn(text="Running it.", calls=[call]))


async def test_claude_code_tool_loop_through_claude_on_vertex(vertex: VertexFake, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    vertex.script = claude_code_script
    config = vertex_config(vertex, "us-east5")
    config["aliases"]["claude-*"] = f"vx/{CLAUDE}"
    gw = await gateway_factory(config)
    result = await asyncio.to_thread(run_claude, gw.url, "Write hello to out.txt", cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert vertex.rejected == []  # Claude Code's own body and betas, with Vertex's edits, pass Vertex's rules
    main = [r for r in vertex.received if r.body.get("tools")]
    assert len(main) == 2 and all(
        r.path.endswith(f"/locations/us-east5/publishers/anthropic/models/{CLAUDE}:streamRawPredict") for r in main
    )
    assert all("model" not in r.body and r.body["anthropic_version"] == "vertex-2023-10-16" for r in vertex.received)
