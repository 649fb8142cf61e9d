"""The real Claude Code TUI switching models across the four families mid-session, with tool use after each switch.

One session (tmux): a tool turn on a Gemini-routed model, then `/model` to an OpenAI Chat-routed one, a
Responses-routed one, an Anthropic-routed one and back to Gemini, each followed by a turn that runs a tool.
The upstreams are the strict family fakes (tests/fakes/families.py): they refuse what the real APIs refuse
and record whether their own reasoning state came back. Nothing may be refused, every switch must take,
and Gemini must find its own signatures again when the session comes back to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GatewayFactory
from tests.fakes.families import MODELS, FamilyFake, family_config
from tests.fakes.turns import Turn, reply
from tests.fakes.upstream import Received, Reply
from tests.support.claude_tui import ClaudeTui

ROUTES = {"claude-gem": "gemini", "claude-oai": "openai", "claude-resp": "openai-responses", "claude-ant": "anthropic"}
PROVIDER = {"gemini": "gemini", "openai": "openai", "openai-responses": "openai_responses", "anthropic": "anthropic"}
SWITCHES = ["claude-oai", "claude-resp", "claude-ant", "claude-gem"]


def _after_tool(kind: str, body: dict[str, Any]) -> bool:
    """Whether the request's last message hands back a tool's result (then the turn ends with text)."""
    if kind == "anthropic":
        content = (body.get("messages") or [{}])[-1].get("content")
        return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    if kind == "openai":
        return (body.get("messages") or [{}])[-1].get("role") == "tool"
    if kind == "openai-responses":
        items = body.get("input")
        return isinstance(items, list) and bool(items) and items[-1].get("type") == "function_call_output"
    contents = body.get("contents") or []
    last_model = max((i for i, c in enumerate(contents) if c.get("role") == "model"), default=-1)
    return any("functionResponse" in p for c in contents[last_model + 1 :] for p in c.get("parts") or [])  # reminders may follow


class SessionFake(FamilyFake):
    """A family fake for a real session: a tool call on each new prompt, then text once the tool has run."""

    def _answer(self, record: Received) -> Reply:
        body = record.body if isinstance(record.body, dict) else {}
        if not _after_tool(self.kind, body) or self._refuse(body) is not None:
            return super()._answer(record)
        self._check_own(body)
        stream = bool(body.get("stream")) or record.path.endswith(":streamGenerateContent")
        return reply(self.kind, Turn(text=f"{self.kind} finished the step."), stream, split=None)


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, SessionFake]]:
    started = {kind: await SessionFake(kind).start() for kind in MODELS}
    yield started  # type: ignore[misc]
    for fake in started.values():
        await fake.stop()


async def test_model_switches_across_families_keep_every_upstream_happy(
    fakes: dict[str, SessionFake], gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    config = family_config(fakes)  # type: ignore[arg-type]
    aliases = {alias: f"{PROVIDER[kind]}/{MODELS[kind]}" for alias, kind in ROUTES.items()}
    config["aliases"] = {**aliases, "claude-haiku-*": aliases["claude-oai"], "opus": aliases["claude-gem"]}
    gw = await gateway_factory(config)

    def drive() -> list[str]:
        seen: list[str] = []
        env = {
            "ANTHROPIC_MODEL": "claude-gem",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-5-5",
            "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",  # /model knows the gateway's names
        }
        with ClaudeTui(gw.url, tmp_path, "--permission-mode", "default", "--allowedTools", "Bash", settings_env=env) as tui:
            tui.wait_for("for shortcuts", timeout=90)
            tui.submit("conversation tui: run the step with Bash")
            seen.append(tui.wait_for("gemini finished the step.", timeout=120))
            for alias in SWITCHES:
                before = tui.pane().count("Set model to")
                tui.submit(f"/model {alias}")
                tui.wait_for("Switch model?", timeout=60)  # the history was cached for the old model: confirm
                tui.press("Enter")
                seen.append(tui.wait_for("Set model to", timeout=60, count=before + 1).rsplit("Set model to", 1)[1])
                tui.submit(f"now run the next step with Bash on {alias}")
                seen.append(tui.wait_for(f"{ROUTES[alias]} finished the step.", timeout=120))
        return seen

    screens = await asyncio.to_thread(drive)
    assert all("model not changed" not in screen for screen in screens)
    for kind, fake in fakes.items():
        refused = [(r.path, reply.json) for r, reply in fake.rejected]
        assert refused == [], f"{kind} refused a request: {refused[:1]}"
        assert any(record.body and _after_tool(kind, record.body) for record in fake.received), f"{kind} never saw its tool's result"
    gemini_back = [ok for key, ok in fakes["gemini"].checked]
    assert gemini_back and all(gemini_back)  # back on Gemini: its own signatures came back whole
