"""What the load is sent to: the upstream itself (the floor) and babelgate with 1 or N workers.

The peers (LiteLLM, claude-code-router in `bench.peers`; TensorZero, Portkey in `bench.peers_openai`)
follow the same shape.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml

from bench import procs

UPSTREAM_KEY = "sk-bench-upstream"
CLIENT_KEY = "sk-bench-client"
ANTHROPIC_HEADERS = {"Content-Type": "application/json", "anthropic-version": "2023-06-01"}
OPENAI_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"}


@dataclass
class Running:
    """A started target: where to send Anthropic requests and which process tree to measure."""

    key: str
    url: str
    headers: dict[str, str]
    proc: procs.Proc | None = None  # None when the bench did not start it (direct)
    model_prefix: str = ""
    extra: list[procs.Proc] = field(default_factory=list)
    openai_url: str = ""  # its OpenAI chat completions endpoint (the OpenAI-in scenarios); default url + /v1/chat/completions
    openai_headers: dict[str, str] = field(default_factory=lambda: dict(OPENAI_HEADERS))

    def model(self, name: str) -> str:
        return self.model_prefix + name

    def chat_url(self) -> str:
        return self.openai_url or self.url + "/v1/chat/completions"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        for proc in [*self.extra, *([self.proc] if self.proc else [])]:
            procs.stop(proc)

    def ready(self, path: str = "/health", timeout: float = 30) -> Running:
        """Once `path` answers; stopped (and the error raised) if it never does."""
        assert self.proc is not None, "a target the bench started"
        try:
            procs.wait_http(f"{self.url}{path}", self.proc, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self


class Target(Protocol):
    key: str
    label: str
    only: tuple[str, ...]  # the load scenarios it takes part in; empty: all

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running: ...

    def version(self) -> str: ...


@dataclass
class Upstream:
    """The fake upstream process shared by every target of a run."""

    proc: procs.Proc
    port: int

    @classmethod
    def start(cls, work: Path) -> Upstream:
        port = procs.free_port()
        proc = procs.spawn("upstream", [sys.executable, "-m", "bench.upstream", "--port", str(port)], work / "upstream.log")
        procs.wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=20)
        return cls(proc, port)


@dataclass
class Direct:
    """Straight to the fake upstream's Anthropic endpoint: no gateway, the floor."""

    key: str = "direct"
    label: str = "direct (floor)"
    only: tuple[str, ...] = ()

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        url = f"http://127.0.0.1:{upstream_port}"
        openai = {**OPENAI_HEADERS, "Authorization": f"Bearer {UPSTREAM_KEY}"}
        return Running(self.key, url, {**ANTHROPIC_HEADERS, "x-api-key": UPSTREAM_KEY}, openai_headers=openai)

    def version(self) -> str:
        return "bench.upstream"


def babelgate_config(work: Path, port: int, upstream_port: int, models: list[str]) -> Path:
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "providers": {
            "fake": {"type": "openai", "base_url": f"http://127.0.0.1:{upstream_port}/v1", "api_keys": [UPSTREAM_KEY], "models": models},
        },
        "store": {"path": str(work / "store.db")},
        # Scenario 4 holds 1,000 streams on one provider: past the default cap of 256 upstream connections
        # (upstream.max_connections) the rest wait for one and fail at timeouts.first_byte.
        "upstream": {"max_connections": 2048},
    }
    path = work / "babelgate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def babelgate_argv() -> list[str]:
    script = Path(sys.executable).parent / "babelgate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "babelgate.cli.main"]


@dataclass
class Babelgate:
    workers: int = 1
    key: str = "babelgate"
    label: str = "babelgate (1 worker)"
    only: tuple[str, ...] = ()
    source: Path | None = None  # another checkout's src/ to run instead (a baseline), else this one

    @classmethod
    def with_workers(cls, workers: int) -> Babelgate:
        return cls(workers, "babelgate-workers", f"babelgate ({workers} workers)")

    @classmethod
    def baseline(cls, ref: str, source: Path) -> Babelgate:
        return cls(1, "babelgate-baseline", f"babelgate at {ref} (1 worker)", source=source)

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        work = work / self.key
        work.mkdir(parents=True, exist_ok=True)
        port = procs.free_port()
        config = babelgate_config(work, port, upstream_port, models)
        argv = [*babelgate_argv(), "serve", "--config", str(config), "--port", str(port), "--workers", str(self.workers)]
        env = {**os.environ, "PYTHONPATH": str(self.source)} if self.source else None
        proc = procs.spawn(self.key, argv, work / "server.log", env=env)
        running = Running(self.key, f"http://127.0.0.1:{port}", {**ANTHROPIC_HEADERS, "x-api-key": CLIENT_KEY}, proc)
        try:
            procs.wait_http(f"{running.url}/health", proc, timeout=30)
            self._wait_workers(proc)
        except BaseException:
            running.stop()
            raise
        return running

    def _wait_workers(self, proc: procs.Proc) -> None:
        """With --workers N the parent spawns N processes; give each time to bind the port."""
        if self.workers == 1:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(procs.descendants(proc.pid)) < self.workers:
            time.sleep(0.2)
        time.sleep(1.5)

    def version(self) -> str:
        if self.source is not None:
            return procs.git_describe(self.source)
        from babelgate import __version__

        return __version__


@dataclass
class RefProxy:
    """bench.refproxy: aiohttp server + client relaying bytes, no translation (the stack's own floor)."""

    key: str = "aiohttp-relay"
    label: str = "bare aiohttp relay (reference)"
    only: tuple[str, ...] = ("small", "stream")  # it relays to the Anthropic endpoint only

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        port = procs.free_port()
        argv = [sys.executable, "-m", "bench.refproxy", "--port", str(port), "--upstream", f"http://127.0.0.1:{upstream_port}"]
        proc = procs.spawn(self.key, argv, work / self.key / "server.log")
        running = Running(self.key, f"http://127.0.0.1:{port}", {**ANTHROPIC_HEADERS, "x-api-key": CLIENT_KEY}, proc)
        return running.ready()

    def version(self) -> str:
        return "bench.refproxy"
