"""Smoke test of the test-support pieces: tiny GGUF model + real llama-cpp-python server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import LLAMA_ALIAS as ALIAS
from tests.support.llama_server import LlamaServer
from tests.support.tiny_gguf import build_tiny_gguf


def test_tiny_gguf_is_deterministic(tmp_path: Path, tiny_model: Path) -> None:
    assert build_tiny_gguf(tmp_path / "again.gguf").read_bytes() == tiny_model.read_bytes()


async def test_models_lists_alias(llama_server: LlamaServer) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{llama_server.base_url}/v1/models") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    assert [model["id"] for model in body["data"]] == [ALIAS]


async def test_chat_completion_generates_text(llama_server: LlamaServer) -> None:
    # The tiny model ends its sentences by itself, so even Claude Code's max_tokens comes back quickly with "stop".
    request = {"model": ALIAS, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 32000, "temperature": 0}
    async with aiohttp.ClientSession() as session, session.post(f"{llama_server.base_url}/v1/chat/completions", json=request) as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip().endswith(".")
    assert choice["finish_reason"] == "stop"
    assert 0 < body["usage"]["completion_tokens"] <= 16


async def test_chat_completion_streams_text(llama_server: LlamaServer) -> None:
    request = {"model": ALIAS, "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16, "stream": True}
    text: list[str] = []
    async with aiohttp.ClientSession() as session, session.post(f"{llama_server.base_url}/v1/chat/completions", json=request) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for raw in response.content:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line.removeprefix("data:"))
            for choice in chunk["choices"]:
                text.append(choice["delta"].get("content") or "")
    assert "".join(text).strip()
