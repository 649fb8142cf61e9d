"""`babelgate claude` runs the real Claude Code CLI through the gateway it starts, and a background request
lands on the cheap model of `routing.scenarios.background`.

The background request is WebFetch's summary step: Claude Code asks its small fast model to read
the fetched page (no tools). The page is served over HTTPS by a loopback fake whose CA the CLI is
told to trust; WebFetch's domain preflight (a call to claude.ai) is switched off in the settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.turns import ToolCall, Turn, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import claude_binary
from tests.support.tls import make_ca

SUMMARY = "The page says the secret word is PINEAPPLE."
FINAL = "Fetched it."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def script(page_url: str) -> Any:
    def answer(record: Received) -> Reply:
        body = record.body
        stream = bool(body.get("stream"))
        text = json.dumps(body)
        if not body.get("tools"):
            return reply("openai", Turn(text=SUMMARY), stream)
        if '"call_fetch"' in text and '"role": "tool"' in text and text.count('"role": "tool"') >= 2:
            return reply("openai", Turn(text=FINAL), stream)
        if "call_search" in text:
            call = ToolCall("WebFetch", {"url": page_url, "prompt": "what is the secret word"}, "call_fetch")
            return reply("openai", Turn(text="Fetching.", calls=[call]), stream)
        return reply("openai", Turn(text="Loading.", calls=[ToolCall("ToolSearch", {"query": "select:WebFetch"}, "call_search")]), stream)

    return answer


async def test_babelgate_claude_sends_background_requests_to_the_cheap_model(upstream: FakeUpstream, tmp_path: Path) -> None:
    (tmp_path / "ca").mkdir()
    ca = make_ca(tmp_path / "ca")
    site = FakeUpstream()
    site.ssl_context = ca.server_context()
    await site.start()
    site.script = lambda record: Reply(json={"page": "The secret word is PINEAPPLE."})
    upstream.script = script(f"https://127.0.0.1:{site.port}/page")
    port = _free_port()
    provider = {"type": "openai", "base_url": f"{upstream.url}/v1", "api_keys": ["sk-test"], "models": ["gpt-5", "gpt-5-nano"]}
    config = {
        "server": {"port": port},
        "store": {"type": "memory"},
        "providers": {"up": provider},
        "aliases": {"claude-*": "up/gpt-5"},
        "routing": {"scenarios": {"background": "up/gpt-5-nano"}},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"skipWebFetchPreflight": True}))
    project = tmp_path / "project"
    project.mkdir()
    env = {
        "PATH": f"{claude_binary().parent}:{os.environ['PATH']}",
        "HOME": str(home),
        "BABELGATE_CONFIG": str(tmp_path / "config.yaml"),
        "ANTHROPIC_API_KEY": "sk-ant-would-conflict",  # babelgate claude hands Claude Code one credential only
        "NODE_EXTRA_CA_CERTS": str(ca.ca_pem),
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
    }
    command = [sys.executable, "-m", "babelgate.cli.main", "claude", "-p", "fetch the page", "--allowedTools", "WebFetch"]
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=150
        )
    finally:
        pid_file = home / ".cache" / "babelgate" / f"serve-{port}.pid"
        if pid_file.exists():
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)  # the gateway `babelgate claude` started in its own session
        await site.stop()
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert FINAL in done.stdout
    assert "started the gateway in the background" in done.stderr
    assert "conflict" not in (done.stdout + done.stderr).lower()
    background = [r for r in upstream.received if not r.body.get("tools")]
    assert background and all(r.body["model"] == "gpt-5-nano" for r in background)  # the cheap model
    assert SUMMARY.split(" is ")[0] in json.dumps([r.body for r in upstream.received if r.body.get("tools")])  # its answer came back
    assert all(r.body["model"] == "gpt-5" for r in upstream.received if r.body.get("tools"))
    log = (home / ".cache" / "babelgate" / f"serve-{port}.log").read_text()
    assert "claude-haiku-5-5 [background] -> up/gpt-5-nano" in log  # the route, in the request's log line
