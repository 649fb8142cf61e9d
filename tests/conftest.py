"""Shared fixtures: real loopback upstreams and a real gateway server on a free port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from aiohttp import web
from google.genai import _api_client as genai_api_client

from babelgate.config import Config, parse
from babelgate.server.app import ACCEPT_BACKLOG, RUNNER_OPTIONS, build_app
from babelgate.server.gateway import Gateway
from babelgate.server.protocol import GatewayRunner
from babelgate.store.memory import MemoryStore
from tests.fakes.upstream import FakeUpstream
from tests.support.llama_server import LlamaServer, start_llama_server
from tests.support.tiny_gguf import build_tiny_gguf


@dataclass
class RunningGateway:
    url: str
    gateway: Gateway
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


async def start_gateway(config: Config, store: Any = None) -> RunningGateway:
    gateway = Gateway(config, store=store or MemoryStore())
    app = build_app(config, gateway)
    runner = GatewayRunner(app, **RUNNER_OPTIONS)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock, backlog=ACCEPT_BACKLOG).start()
    return RunningGateway(f"http://127.0.0.1:{port}", gateway, runner)


def pytest_configure(config: pytest.Config) -> None:
    """Nothing a test runs writes into the user's own config or state folders (the store key, the default store)."""
    import os
    import tempfile

    home = tempfile.mkdtemp(prefix="babelgate-tests-")
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        os.environ.setdefault(name, os.path.join(home, name.lower()))


@pytest.fixture(autouse=True)
async def _close_sdk_clients(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Every async SDK client a test creates is closed when the test ends, never by the garbage collector.

    A dropped client is closed by its own `__del__`, which schedules `aclose()` as a task. In the same
    collection the client's idle connections (anyio pauses their reading, so the selector does not hold
    them) are finalised too, and asyncio's transport finaliser closes the socket without leaving the
    selector. The file descriptor is then free, and the next socket opened (often a test's listening
    socket) gets its number; when the scheduled `aclose()` finally aborts the old transport, asyncio
    removes the reader of that number: the new server stops accepting, and its clients wait forever.
    """
    opened: list[Any] = []
    for base in (anthropic._base_client.AsyncAPIClient, openai._base_client.AsyncAPIClient, genai_api_client.BaseApiClient):
        monkeypatch.setattr(base, "__init__", _recording(base.__init__, opened))
    yield
    for client in opened:
        await (client.aclose() if isinstance(client, genai_api_client.BaseApiClient) else client.close())


def _recording(init: Callable[..., None], opened: list[Any]) -> Callable[..., None]:
    def recorded(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        opened.append(self)

    return recorded


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = await FakeUpstream().start()
    yield fake
    await fake.stop()


LLAMA_ALIAS = "tiny-llama"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_gguf(tmp_path_factory.mktemp("models") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama_server(tiny_model: Path) -> Iterator[LlamaServer]:
    """One real llama.cpp server (llama-cpp-python) for the whole session; Claude Code prompts need n_ctx >= 8192."""
    with start_llama_server(tiny_model, LLAMA_ALIAS, n_ctx=16384) as server:
        yield server


GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture
async def gateway_factory() -> AsyncIterator[GatewayFactory]:
    started: list[RunningGateway] = []

    async def make(data: dict[str, Any], store: Any = None) -> RunningGateway:
        running = await start_gateway(parse(data), store)
        started.append(running)
        return running

    yield make
    for running in started:
        await running.stop()


def openai_config(upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """One OpenAI-compatible provider `up` behind the fake, with Claude names aliased to it."""
    provider = {"type": "openai", "base_url": f"{upstream.url}/v1", "api_keys": ["sk-test-secret-key-1"], "models": ["gpt-5", "gpt-5-mini"]}
    provider.update(extra.pop("provider", {}))
    data: dict[str, Any] = {"providers": {"up": provider}, "aliases": {"claude-*": "up/gpt-5", "opus": "up/gpt-5"}}
    data.update(extra)
    return data
