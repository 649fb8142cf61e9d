"""The OpenAI-in peers, installed into bench-only places under .cache/bench and run on 127.0.0.1.

- TensorZero (PyPI `tensorzero`, whose wheel holds the Rust gateway) in its own venv,
  `.cache/bench/tensorzero-venv`, started in-process by `bench/peer_files/tensorzero_serve.py`
  with observability off and one `type = "openai"` model per bench model (`api_base` at the fake,
  `api_key_location = "none"`); asked `/openai/v1/chat/completions` with `tensorzero::model_name::NAME`.
- Portkey (npm `@portkey-ai/gateway`) under `.cache/bench/portkey`, `start-server.js --headless`,
  told the upstream by its `x-portkey-provider` and `x-portkey-custom-host` headers. Its server binds
  every interface and has no option against it, so node preloads `bench/peer_files/loopback.cjs`,
  which makes a `listen` without a host bind 127.0.0.1 (the bench checks it did).

Both take part in the OpenAI-in scenarios only (scenarios.OPENAI_SCENARIOS): neither has an
Anthropic endpoint in front of an OpenAI upstream.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procs, scenarios
from bench.peers import CACHE, PeerUnavailable, _isolated_env, _run
from bench.targets import UPSTREAM_KEY, Running

FILES = Path(__file__).resolve().parent / "peer_files"
TENSORZERO_VERSION = "2026.6.0"
PORTKEY_VERSION = "1.15.2"
TENSORZERO_VENV = CACHE / "tensorzero-venv"
PORTKEY_DIR = CACHE / "portkey"
PORTKEY_SERVER = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
TENSORZERO_PREFIX = "tensorzero::model_name::"


def ensure_tensorzero() -> Path:
    """The bench-only venv's python with `tensorzero==TENSORZERO_VERSION`, installed once."""
    marker = TENSORZERO_VENV / f".installed-{TENSORZERO_VERSION}"
    python = TENSORZERO_VENV / "bin" / "python"
    if marker.exists() and python.exists():
        return python
    print(f"installing tensorzero=={TENSORZERO_VERSION} into {TENSORZERO_VENV} (once)...", flush=True)
    log = CACHE / "tensorzero-install.log"
    _run([sys.executable, "-m", "venv", str(TENSORZERO_VENV)], log)
    _run([str(python), "-m", "pip", "install", "-q", f"tensorzero=={TENSORZERO_VERSION}"], log)
    marker.touch()
    return python


def ensure_portkey() -> Path:
    """Portkey's start-server.js, installed once with npm."""
    marker = PORTKEY_DIR / f".installed-{PORTKEY_VERSION}"
    if marker.exists() and PORTKEY_SERVER.exists():
        return PORTKEY_SERVER
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("npm is not installed (make node-clients installs it)")
    print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {PORTKEY_DIR} (once)...", flush=True)
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    package = f"@portkey-ai/gateway@{PORTKEY_VERSION}"
    argv = [npm, "install", "--prefix", str(PORTKEY_DIR), "--no-audit", "--no-fund", "--loglevel=error", package]
    _run(argv, CACHE / "portkey-install.log")
    marker.touch()
    return PORTKEY_SERVER


def tensorzero_config(upstream_port: int, models: list[str]) -> str:
    lines = ["[gateway.observability]", "enabled = false", ""]
    for model in models:
        lines += [
            f'[models."{model}"]',
            'routing = ["fake"]',
            "",
            f'[models."{model}".providers.fake]',
            'type = "openai"',
            f'model_name = "{model}"',
            f'api_base = "http://127.0.0.1:{upstream_port}/v1/"',
            'api_key_location = "none"',
            "",
        ]
    return "\n".join(lines)


def _base_url(proc: procs.Proc, timeout: float) -> str:
    """The `BASE_URL ...` line tensorzero_serve.py prints once the gateway listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := re.search(r"BASE_URL (http://127\.0\.0\.1:\d+\S*)", proc.log.read_text(errors="replace")):
            return found.group(1)
        if not proc.alive():
            raise RuntimeError(f"tensorzero exited with {proc.popen.returncode}:\n{proc.tail()}")
        time.sleep(0.1)
    raise RuntimeError(f"tensorzero did not start within {timeout:g} s:\n{proc.tail()}")


@dataclass
class TensorZero:
    key: str = "tensorzero"
    label: str = f"TensorZero {TENSORZERO_VERSION}"
    only: tuple[str, ...] = scenarios.OPENAI_SCENARIOS

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        python = ensure_tensorzero()
        work = work / self.key
        work.mkdir(parents=True, exist_ok=True)
        config = work / "tensorzero.toml"
        config.write_text(tensorzero_config(upstream_port, models))
        env = {**_isolated_env(work / "home"), "TENSORZERO_DISABLE_PSEUDONYMOUS_USAGE_ANALYTICS": "1", "RUST_LOG": "warn"}
        proc = procs.spawn(self.key, [str(python), str(FILES / "tensorzero_serve.py"), str(config)], work / "server.log", env=env)
        try:
            base = _base_url(proc, timeout=60)
        except BaseException:
            procs.stop(proc)
            raise
        root = base.split("/openai/")[0]
        headers = {"Content-Type": "application/json"}
        running = Running(self.key, root, headers, proc, model_prefix=TENSORZERO_PREFIX, openai_url=f"{base}/chat/completions")
        running.openai_headers = headers
        try:
            procs.wait_http(f"{root}/health", proc, timeout=30)
        except BaseException:
            running.stop()
            raise
        return running

    def version(self) -> str:
        return TENSORZERO_VERSION


def _listening_on(port: int) -> list[str]:
    """The local addresses some socket listens on `port` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


@dataclass
class Portkey:
    key: str = "portkey"
    label: str = f"Portkey {PORTKEY_VERSION}"
    only: tuple[str, ...] = scenarios.OPENAI_SCENARIOS

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        server = ensure_portkey()
        node = shutil.which("node")
        if node is None:
            raise PeerUnavailable("node is not installed")
        work = work / self.key
        port = procs.free_port()
        argv = [node, "-r", str(FILES / "loopback.cjs"), str(server), f"--port={port}", "--headless"]
        env = {**_isolated_env(work / "home"), "NODE_ENV": "production"}
        proc = procs.spawn(self.key, argv, work / "server.log", env=env, cwd=PORTKEY_DIR)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {UPSTREAM_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1",
        }
        running = Running(self.key, f"http://127.0.0.1:{port}", headers, proc, openai_headers=headers)
        try:
            procs.wait_http(f"{running.url}/", proc, timeout=60)
            wide = [a for a in _listening_on(port) if a not in LOOPBACK]
            if wide:
                raise RuntimeError(f"portkey listens beyond loopback ({wide}); stopped")
        except BaseException:
            running.stop()
            raise
        return running

    def version(self) -> str:
        return PORTKEY_VERSION
