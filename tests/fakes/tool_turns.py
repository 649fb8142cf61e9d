"""Scripts for a FakeUpstream that answer one model turn with a Bash tool call, streaming or not.

`openai_turn` answers in OpenAI Chat Completions, `anthropic_turn` in Anthropic Messages (behind
`anthropic_api.strict`, as the real API checks); `anthropic_config` puts such a fake behind babelgate
as an Anthropic-type provider with Claude names aliased to it.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes import openai_wire as wire
from tests.fakes.anthropic_api import strict
from tests.fakes.turns import ToolCall, Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply

COMMAND = {"command": "echo hi > out.txt"}
BASH_TOOL: Any = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}
ASK: Any = [{"role": "user", "content": "make a file"}]


def openai_turn(record: Received) -> Reply:
    arguments = json.dumps(COMMAND)
    if record.body.get("stream"):
        return wire.stream_reply(wire.tool_stream("Bash", arguments, call_id="call_b1", text="Running it."), split=9)
    call = {"id": "call_b1", "type": "function", "function": {"name": "Bash", "arguments": arguments}}
    return Reply(json=wire.completion("Running it.", tool_calls=[call], finish="tool_calls"))


def _anthropic(record: Received) -> Reply:
    turn = Turn(text="Running it.", calls=[ToolCall("Bash", COMMAND, "toolu_b1")])
    return reply("anthropic", turn, bool(record.body.get("stream")), split=7)


anthropic_turn = strict(_anthropic)


def anthropic_config(upstream: FakeUpstream) -> dict[str, Any]:
    provider = {"type": "anthropic", "base_url": upstream.url, "api_keys": ["sk-ant-up"], "models": ["claude-up"]}
    return {"providers": {"claude": provider}, "aliases": {"claude-*": "claude/claude-up"}}
