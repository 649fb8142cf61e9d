"""The real Claude Code CLI (pinned) through babelgate to non-Anthropic fakes: the companion features.

- `/model` lists the gateway's models with their windows, and a published id is one it knows;
- a warmup probe costs no upstream call;
- a wrong client key is reported at once, after one request (not three minutes of retries);
- a tool loop interrupted by a crash resumes, with no 400 from a strict upstream.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.openai_history import problem, strict_history
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.claude_cli import claude_binary, isolated_env, run_claude
from tests.support.claude_tui import ClaudeTui

DISCOVERY = {"CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1"}


def answer(text: str) -> Any:
    def script(record: Received) -> Reply:
        return wire.stream_reply(wire.text_stream(text)) if record.body.get("stream") else Reply(json=wire.completion(text))

    return script


async def test_model_lists_the_gateways_models_with_their_windows(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    upstream.script = answer("hello from gpt-4.1")
    config = openai_config(upstream, provider={"models": ["gpt-5", "gpt-4.1"]}, models={"gpt-5": {"context_window": 272000}})
    gw = await gateway_factory(config)

    def drive() -> tuple[str, str]:
        with ClaudeTui(gw.url, tmp_path, settings_env=DISCOVERY) as tui:
            tui.wait_for("auto mode on")
            tui.submit("/model")
            listing = tui.wait_for("GPT-4.1 (up)", timeout=30)
            tui._tmux("send-keys", "-t", "tui", "Escape")
            tui.wait_for("Kept model")
            tui.submit("/model claude-up-gpt-4.1[1m]")
            tui.wait_for("Set model to GPT-4.1 (up)")
            tui.submit("say hello")
            return listing, tui.wait_for("hello from gpt-4.1")

    listing, after = await asyncio.to_thread(drive)
    assert "GPT-5 (up)" in listing and "up/gpt-5 via babelgate (openai) · 272K context, 128K output" in listing  # the config's window
    assert "up/gpt-4.1 via babelgate (openai) · 1.05M context, 32K output" in listing
    assert "recognize" not in after  # no "Claude Code doesn't recognize the model" notice
    models = {r.body["model"] for r in upstream.received}  # the turn, and the TUI's session-title request
    assert models == {"gpt-4.1"} and any(r.body.get("tools") for r in upstream.received)


async def test_a_warmup_costs_no_upstream_call(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    upstream.script = answer("the upstream answered")
    gw = await gateway_factory(openai_config(upstream, addons={"warmup": True}))
    result = await asyncio.to_thread(run_claude, gw.url, "Warmup", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"
    assert upstream.received == []  # counted at the fake


async def test_a_wrong_client_key_is_reported_after_one_request(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await gateway_factory(openai_config(upstream, server={"api_keys": ["the-right-key"]}))
    env = {"ANTHROPIC_AUTH_TOKEN": "a-wrong-key", "CLAUDE_CODE_MAX_RETRIES": None}  # Claude Code's own retry count (10)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="babelgate.server"):
        result = await asyncio.to_thread(run_claude, gw.url, "hello", cwd=tmp_path, extra_env=env, timeout=120)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "missing or invalid API key for this gateway" in output and "server.api_keys" in output
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("POST /v1/messages 401")]
    assert len(refused) == 1, (refused, elapsed)  # x-should-retry: false; without it, ten retries over three minutes
    assert "the key sent is not one of this gateway's" in refused[0]  # the log line says why
    assert upstream.received == []
    print(f"Claude Code reported the wrong key and exited after {elapsed:.1f}s")


def _transcribed(home: Path, marker: str) -> bool:
    """Whether Claude Code's session transcript under `home` holds `marker` yet."""
    return any(marker in path.read_text(errors="replace") for path in (home / ".claude" / "projects").glob("*/*.jsonl"))


def _claude(url: str, home: Path, project: Path, *args: str) -> subprocess.Popen[str]:
    argv = [str(claude_binary()), "-p", *args, "--allowedTools", "Bash"]
    env = isolated_env(url, home)
    pipe = subprocess.PIPE
    return subprocess.Popen(
        argv, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe, text=True, start_new_session=True
    )


async def test_a_crashed_tool_loop_resumes_without_an_upstream_400(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    """The first run dies while its Bash call runs; `claude -p --continue` carries on from the transcript."""
    started = tmp_path / "project" / "started.flag"
    started.parent.mkdir()

    def turn(record: Received) -> Reply:
        if "CARRY ON" in str(record.body):
            return wire.stream_reply(wire.text_stream("resumed after the crash"))
        arguments = '{"command": "touch started.flag; sleep 60", "description": "wait"}'
        return wire.stream_reply(wire.tool_stream("Bash", arguments, call_id="call_crash1", text="Waiting."))

    upstream.script = strict_history(turn)
    gw = await gateway_factory(openai_config(upstream))
    home = Path(tempfile.mkdtemp(prefix="babelgate-claude-home-", dir=tmp_path))
    first = _claude(gw.url, home, started.parent, "START THE WAIT")
    try:
        deadline = time.monotonic() + 90
        while not (started.exists() and _transcribed(home, "call_crash1")) and first.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # polling what the tool and the transcript write, bounded by the deadline
        assert started.exists() and _transcribed(home, "call_crash1"), first.communicate(timeout=5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the crash
        first.communicate()
    second = _claude(gw.url, home, started.parent, "--continue", "CARRY ON")
    try:
        out, err = await asyncio.to_thread(second.communicate, timeout=120)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
            second.communicate()
    assert second.returncode == 0 and "resumed after the crash" in out, err
    resumed = [r.body for r in upstream.received if "CARRY ON" in str(r.body)]
    assert resumed and problem(resumed[-1]) is None
    assert "START THE WAIT" in str(resumed[-1]["messages"])  # the same conversation, carried on
    # Every tool call in it has its result: Claude Code 2.1.328 writes an "interrupted" one when the transcript kept
    # the call, session_recovery would otherwise; problem() is the upstream's own check, which passed.
    assert all(r.body is None or problem(r.body) is None for r in upstream.received)
