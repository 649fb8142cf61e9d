"""A real model: Claude Code and the SDKs -> babelgate -> a llama.cpp server running a tiny GGUF model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic

from tests.conftest import LLAMA_ALIAS, GatewayFactory
from tests.support.claude_cli import run_claude
from tests.support.llama_server import LlamaServer


def local_config(llama: LlamaServer) -> dict[str, Any]:
    return {
        "providers": {"local": {"type": "openai", "base_url": llama.openai_base_url, "models": [LLAMA_ALIAS]}},
        "aliases": {"claude-*": f"local/{LLAMA_ALIAS}"},
    }


async def test_claude_code_gets_generated_text_and_usage(
    llama_server: LlamaServer, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = await gateway_factory(local_config(llama_server))
    result = await asyncio.to_thread(run_claude, gw.url, "Say something.", cwd=tmp_path, stream_json=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    final = next(e for e in events if e.get("type") == "result")
    assert final["is_error"] is False
    text = final["result"].strip()
    assert len(text) > 1 and text.endswith(".")  # the tiny model writes words and ends its sentence with a period
    assert final["usage"]["output_tokens"] > 0 and final["usage"]["input_tokens"] > 1000


async def test_anthropic_sdk_streams_real_tokens(llama_server: LlamaServer, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(local_config(llama_server))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    async with sdk.messages.stream(model="claude-haiku-5-5", max_tokens=64, messages=[{"role": "user", "content": "Hello"}]) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) >= 2 and "".join(pieces) == final.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn"
    message = await sdk.messages.create(model="claude-haiku-5-5", max_tokens=64, messages=[{"role": "user", "content": "Hello"}])
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0  # llama.cpp reports usage when not streaming
