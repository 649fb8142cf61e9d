"""The peers, installed into bench-only places under .cache/bench and run offline on 127.0.0.1.

- LiteLLM proxy (PyPI `litellm[proxy]`) in its own venv, `.cache/bench/litellm-venv`;
- claude-code-router (npm `@musistudio/claude-code-router`) under `.cache/bench/ccr`,
  with its config in a throwaway `$HOME/.claude-code-router/config.json`.

Both point at the same fake upstream as babelgate, as OpenAI chat providers, and are
asked Anthropic `/v1/messages` requests.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench import procs
from bench.targets import ANTHROPIC_HEADERS, UPSTREAM_KEY, Running

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench"
LITELLM_VERSION = "1.102.4"
CCR_VERSION = "2.0.0"
LITELLM_VENV = CACHE / "litellm-venv"
CCR_DIR = CACHE / "ccr"
CCR_CLI = CCR_DIR / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"
INSTALL_TIMEOUT = 900


class PeerUnavailable(Exception):
    """The peer could not be installed or started here; the report says why."""


def _run(argv: list[str], log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=INSTALL_TIMEOUT, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
        raise PeerUnavailable(f"`{' '.join(argv[:4])} ...` failed ({result.returncode}):\n{tail}")


def ensure_litellm() -> Path:
    """The bench-only venv's python with `litellm[proxy]==LITELLM_VERSION`, installed once."""
    marker = LITELLM_VENV / f".installed-{LITELLM_VERSION}"
    python = LITELLM_VENV / "bin" / "python"
    if marker.exists() and python.exists():
        return python
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} (once)...", flush=True)
    _run([sys.executable, "-m", "venv", str(LITELLM_VENV)], CACHE / "litellm-install.log")
    _run([str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], CACHE / "litellm-install.log")
    marker.touch()
    return python


def ensure_ccr() -> Path:
    """claude-code-router's cli.js, installed once with npm."""
    marker = CCR_DIR / f".installed-{CCR_VERSION}"
    if marker.exists() and CCR_CLI.exists():
        return CCR_CLI
    npm = shutil.which("npm")
    if npm is None:
        raise PeerUnavailable("npm is not installed (make node-clients installs it)")
    print(f"installing @musistudio/claude-code-router@{CCR_VERSION} into {CCR_DIR} (once)...", flush=True)
    CCR_DIR.mkdir(parents=True, exist_ok=True)
    package = f"@musistudio/claude-code-router@{CCR_VERSION}"
    _run([npm, "install", "--prefix", str(CCR_DIR), "--no-audit", "--no-fund", "--loglevel=error", package], CACHE / "ccr-install.log")
    marker.touch()
    return CCR_CLI


def _isolated_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8", "TMPDIR": str(home)}


@dataclass
class LiteLLM:
    key: str = "litellm"
    label: str = f"LiteLLM proxy {LITELLM_VERSION}"
    only: tuple[str, ...] = ()

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        python = ensure_litellm()
        work = work / self.key
        work.mkdir(parents=True, exist_ok=True)
        master = "sk-" + secrets.token_hex(16)
        api_base = f"http://127.0.0.1:{upstream_port}/v1"
        config = {
            "model_list": [
                {"model_name": m, "litellm_params": {"model": f"openai/{m}", "api_base": api_base, "api_key": UPSTREAM_KEY}} for m in models
            ],
            "litellm_settings": {"num_retries": 0, "use_chat_completions_url_for_anthropic_messages": True, "request_timeout": 120},
            "router_settings": {"disable_cooldowns": True, "num_retries": 0},
        }
        path = work / "litellm.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        port = procs.free_port()
        env = {
            **_isolated_env(work / "home"),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_MASTER_KEY": master,
            "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
            "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
            "NO_DOCS": "True",
        }
        litellm = python.parent / "litellm"
        argv = [str(litellm), "--config", str(path), "--host", "127.0.0.1", "--port", str(port), "--telemetry", "False"]
        proc = procs.spawn(self.key, argv, work / "server.log", env=env, cwd=work)
        headers = {**ANTHROPIC_HEADERS, "Authorization": f"Bearer {master}"}
        openai = {"Content-Type": "application/json", "Authorization": f"Bearer {master}"}
        running = Running(self.key, f"http://127.0.0.1:{port}", headers, proc, openai_headers=openai)
        return running.ready("/health/liveliness", timeout=180)

    def version(self) -> str:
        return LITELLM_VERSION


@dataclass
class ClaudeCodeRouter:
    key: str = "ccr"
    label: str = f"claude-code-router {CCR_VERSION}"
    only: tuple[str, ...] = ("small", "stream", "claude-code", "held-streams")  # it has no OpenAI-in endpoint

    def start(self, work: Path, upstream_port: int, models: list[str]) -> Running:
        cli = ensure_ccr()
        node = shutil.which("node")
        if node is None:
            raise PeerUnavailable("node is not installed")
        work = work / self.key
        home = work / "home"
        (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)
        port = procs.free_port()
        api_key = "sk-" + secrets.token_hex(16)
        config = {
            "HOST": "127.0.0.1",
            "PORT": port,
            "APIKEY": api_key,
            "LOG": False,  # its default writes a debug log line per request to a file; off is the kinder comparison
            "API_TIMEOUT_MS": 120000,
            "Providers": [
                {
                    "name": "fake",
                    "api_base_url": f"http://127.0.0.1:{upstream_port}/v1/chat/completions",
                    "api_key": UPSTREAM_KEY,
                    "models": models,
                }
            ],
            "Router": {"default": f"fake,{models[0]}"},
        }
        (home / ".claude-code-router" / "config.json").write_text(json.dumps(config, indent=2))
        proc = procs.spawn(self.key, [node, str(cli), "start"], work / "server.log", env=_isolated_env(home), cwd=work)
        running = Running(self.key, f"http://127.0.0.1:{port}", {**ANTHROPIC_HEADERS, "x-api-key": api_key}, proc, model_prefix="fake,")
        return running.ready(timeout=60)

    def version(self) -> str:
        return CCR_VERSION
