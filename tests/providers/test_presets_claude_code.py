"""The real Claude Code CLI -> babelgate -> strict DeepSeek and Mistral fakes: a Bash tool loop each.

DeepSeek refuses the second turn unless the reasoning of the tool call comes back; Mistral refuses
any field outside its schema and any tool-call id other than nine letters and digits. A loop that
completes was sent each API's way by its preset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.openai_compat import FakeDeepSeek, FakeMistral, StrictChat
from tests.fakes.upstream import Reply
from tests.providers.compat_support import KEY, gateway_config, preset_provider
from tests.support.claude_cli import run_claude

FINAL_TEXT = "Done: hello is in out.txt."
BASH = {"command": "echo hello > out.txt", "description": "write"}
REASONING = "I should write the file with Bash."


def bash_loop(body: dict[str, Any], call_id: str, reasoning: str | None) -> Reply:
    """The main turn (it has tools) calls Bash once, then answers; side requests get text."""
    done = any(m.get("role") == "tool" for m in body["messages"])
    if body.get("tools") and not done:
        call = {"id": call_id, "type": "function", "function": {"name": "Bash", "arguments": orjson.dumps(BASH).decode()}}
        chunks = [wire.chunk({"role": "assistant", "content": None})]
        chunks += [wire.chunk({"reasoning_content": reasoning})] if reasoning else []
        chunks += [wire.chunk({"tool_calls": [{**call, "index": 0}]}), wire.chunk({}, "tool_calls")]
    else:
        chunks = [
            wire.chunk({"role": "assistant", "content": ""}),
            wire.chunk({"content": FINAL_TEXT if done else "side"}),
            wire.chunk({}, "stop"),
        ]
    return wire.stream_reply([*chunks, wire.usage_chunk()])


class LoopingDeepSeek(FakeDeepSeek):
    def answer(self, body: dict[str, Any]) -> Reply:
        return bash_loop(body, "call_00_bash0001", REASONING)


class LoopingMistral(FakeMistral):
    def answer(self, body: dict[str, Any]) -> Reply:
        return bash_loop(body, FakeMistral.call_id, None)


@pytest.mark.parametrize(("preset", "fake_class"), [("deepseek", LoopingDeepSeek), ("mistral", LoopingMistral)])
async def test_claude_code_tool_loop(gateway_factory: GatewayFactory, tmp_path: Path, preset: str, fake_class: type[StrictChat]) -> None:
    fake = await fake_class([KEY]).start()
    try:
        gw = await gateway_factory(gateway_config(preset, preset_provider(preset, fake)))
        result = await asyncio.to_thread(run_claude, gw.url, "Write hello to out.txt", cwd=tmp_path)
    finally:
        await fake.stop()
    assert result.returncode == 0, result.stderr + result.stdout
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert FINAL_TEXT in result.stdout
    assert len(fake.answered) == len(fake.received)  # not one request refused
    main = [b for b in fake.answered if b.get("tools")]
    assert len(main) == 2
    replayed = next(m for m in main[1]["messages"] if m.get("tool_calls"))
    if preset == "deepseek":
        assert replayed["reasoning_content"] == REASONING  # the CLI sent the thinking back; the gateway echoed it
    else:
        assert replayed["tool_calls"][0]["id"] == FakeMistral.call_id and "stream_options" not in main[1]
