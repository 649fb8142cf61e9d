"""Zero-config discovery of local servers reads what each says of its models into the capability table,
and the table then keeps a client's max_tokens inside a local model's window."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

from babelgate.capabilities import Catalog
from babelgate.config import ModelSpec
from babelgate.providers.local_servers import probe_local, root_of
from babelgate.providers.presets import discover
from tests.conftest import start_gateway
from tests.fakes.local_servers import FakeLlamaCpp, FakeLMStudio, FakeOllama, FakeVLLM
from tests.fakes.upstream import FakeUpstream


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, FakeUpstream]]:
    fakes: dict[str, FakeUpstream] = {"ollama": FakeOllama(), "lmstudio": FakeLMStudio(), "vllm": FakeVLLM(), "llamacpp": FakeLlamaCpp()}
    for fake in fakes.values():
        await fake.start()
    yield fakes
    for fake in fakes.values():
        await fake.stop()


def ports(servers: dict[str, FakeUpstream]) -> tuple[tuple[str, int], ...]:
    return tuple((name, fake.port) for name, fake in servers.items())


async def test_each_server_tells_what_it_knows(servers: dict[str, FakeUpstream]) -> None:
    found = {f.name: f for f in await probe_local(ports(servers), env={})}
    assert found["ollama"].models == {
        "qwen3:8b": ModelSpec(context_window=16384, vision=False, tools=True, reasoning="builtin"),  # the num_ctx it serves with
        "llava:7b": ModelSpec(context_window=4096, vision=True, tools=False, reasoning="none"),  # its trained window
    }
    assert found["lmstudio"].models == {
        "qwen2-vl-7b-instruct": ModelSpec(context_window=32768, vision=True),
        "meta-llama-3.1-8b-instruct": ModelSpec(context_window=8192, vision=False, tools=True),  # loaded with 8192
    }
    assert found["vllm"].models == {FakeVLLM.MODEL: ModelSpec(context_window=8192)}
    assert found["llamacpp"].models == {"qwen3-8b-q4_k_m.gguf": ModelSpec(context_window=4096)}
    assert found["ollama"].config.models == ["qwen3:8b", "llava:7b"]
    assert [r.path for r in servers["ollama"].received] == ["/v1/models", "/api/tags", "/api/show", "/api/show"]


async def test_discovery_fills_the_table_and_a_config_beats_it(servers: dict[str, FakeUpstream]) -> None:
    config = await discover(env={}, ports=ports(servers))
    assert set(config.providers) == {"ollama", "lmstudio", "vllm", "llamacpp"}
    assert config.discovered["ollama/qwen3:8b"].context_window == 16384
    known = Catalog(config).lookup("ollama", "qwen3:8b")
    assert (known.context_window, known.tools, known.sources["context_window"]) == (16384, True, "discovered")
    config.models["ollama/qwen3:8b"] = ModelSpec(context_window=32768)
    known = Catalog(config).lookup("ollama", "qwen3:8b")
    assert known.context_window == 32768 and known.sources == {
        "context_window": "config",
        "vision": "discovered",
        "tools": "discovered",
        "reasoning": "discovered",
    }


def test_ollama_host_moves_the_probe() -> None:
    assert root_of("ollama", 11434, {}) == "http://127.0.0.1:11434"
    assert root_of("ollama", 11434, {"OLLAMA_HOST": "0.0.0.0:9999"}) == "http://127.0.0.1:9999"
    assert root_of("ollama", 11434, {"OLLAMA_HOST": "https://box.lan"}) == "https://box.lan:11434"
    assert root_of("vllm", 8000, {"OLLAMA_HOST": "0.0.0.0:9999"}) == "http://127.0.0.1:8000"


@pytest.mark.parametrize("stream", [False, True])
async def test_claude_codes_max_tokens_fits_a_vllm_window(servers: dict[str, FakeUpstream], stream: bool) -> None:
    """Claude Code asks 32000 tokens; vLLM with an 8192 window refuses anything that does not fit next to the prompt."""
    config = await discover(env={}, ports=(("vllm", servers["vllm"].port),))
    config.aliases = {"claude-*": f"vllm/{FakeVLLM.MODEL}"}
    gw = await start_gateway(config)
    try:
        sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
        ask = {"model": "claude-sonnet-5-5", "max_tokens": 32000, "messages": [{"role": "user", "content": "hello " * 2000}]}
        if stream:
            async with sdk.messages.stream(**ask) as events:  # type: ignore[arg-type]
                message = await events.get_final_message()
        else:
            message = await sdk.messages.create(**ask, timeout=30)  # type: ignore[arg-type]  # a timeout of its own: no 10-minute guard
    finally:
        await gw.stop()
    assert message.content[0].text == "Hi from vLLM"  # type: ignore[union-attr]
    sent = servers["vllm"].received[-1].body["max_tokens"]
    assert 4000 < sent < 8192 - 3000  # the window less the prompt (12000 characters) and a margin
