"""The real Claude Code CLI (pinned) reading a client key's budget from babelgate's headers.

Claude Code reads the `anthropic-ratelimit-unified-*` headers only when it talks to a gateway
(`CLAUDE_CODE_USE_GATEWAY=1` with ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN, or `/login` to one);
its banner then says "Cloud gateway". Past 75% of the key's budget its TUI shows
"You've used NN% of your usage credits · resets …", `-p --output-format stream-json` emits a
`rate_limit_event`, and once the budget is spent it prints babelgate's billing_error message as is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import anthropic

from tests.conftest import GatewayFactory, RunningGateway
from tests.fakes.upstream import FakeUpstream
from tests.support.claude_cli import run_claude
from tests.support.claude_tui import ClaudeTui
from tests.test_client_keys import ALICE, HI, claude, costing, keyed, next_midnight

BUDGET = {"key": ALICE, "name": "alice", "budget": {"daily": 5.00, "help": "ask #ai-platform for more"}}
GATEWAY_MODE = {"CLAUDE_CODE_USE_GATEWAY": "1", "ANTHROPIC_AUTH_TOKEN": ALICE}


async def spend(gw: RunningGateway, requests: int) -> None:
    """Spend $0.50 a request with the Anthropic SDK, as another session of the same key would."""
    for _ in range(requests):
        await claude(gw.url, ALICE).messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=HI)


async def exhaust(gw: RunningGateway) -> None:
    """Spend until the gateway refuses (whatever the CLI's own requests spent before)."""
    for _ in range(10):
        try:
            await spend(gw, 1)
        except anthropic.RateLimitError as refused:
            assert refused.body["error"]["type"] == "billing_error"  # type: ignore[index]
            return
    raise AssertionError("the budget never ran out")


async def test_claude_codes_tui_shows_its_usage_notice_past_75_percent_and_babelgates_message_once_spent(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    upstream.script = costing(50)  # $0.50 a request
    gw = await gateway_factory(keyed(upstream, BUDGET))
    await spend(gw, 8)  # $4.00 of $5.00
    loop = asyncio.get_running_loop()

    def drive() -> tuple[str, str, int]:
        with ClaudeTui(gw.url, tmp_path, settings_env=GATEWAY_MODE) as tui:
            tui.wait_for("Cloud gateway")
            tui.submit("say hi")
            notice = tui.wait_for("of your usage credits", timeout=60)
            asyncio.run_coroutine_threadsafe(exhaust(gw), loop).result(30)  # another session of the key spends the rest
            sent = len(upstream.received)
            tui.submit("and again")
            return notice, tui.wait_for("spend limit reached", timeout=60), sent

    notice, refused, sent = await asyncio.to_thread(drive)
    shown = re.search(r"You've used (\d+)% of your usage credits · resets \S+", notice)
    assert shown is not None, notice
    assert int(shown.group(1)) in (80, 90)  # the standing before the session's first (or, with a title request, second) request
    flat = " ".join(refused.split())  # the TUI wraps long lines
    assert "spend limit reached · the daily budget of $5.00 of client key 'alice' is spent · resets" in flat
    assert "ask #ai-platform for more" in flat
    assert len(upstream.received) == sent  # the refused turn never left the gateway, and was not retried


async def test_claude_code_print_mode_reports_the_keys_standing_as_a_rate_limit_event(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    upstream.script = costing(50)
    gw = await gateway_factory(keyed(upstream, BUDGET))
    await spend(gw, 8)
    result = await asyncio.to_thread(run_claude, gw.url, "say hi", cwd=tmp_path, extra_env=GATEWAY_MODE, stream_json=True)
    assert result.returncode == 0, result.stderr + result.stdout
    events: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    limits = [e["rate_limit_info"] for e in events if e.get("type") == "rate_limit_event"]
    assert limits and limits[0] == {
        "status": "allowed_warning",
        "resetsAt": next_midnight(),
        "rateLimitType": "overage",
        "utilization": 0.8,
        "overageStatus": "allowed_warning",
        "overageResetsAt": next_midnight(),
        "isUsingOverage": False,
        "surpassedThreshold": 0.75,
    }
    await exhaust(gw)
    sent = len(upstream.received)
    refused = await asyncio.to_thread(run_claude, gw.url, "say hi again", cwd=tmp_path, extra_env=GATEWAY_MODE)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    tomorrow = dt.datetime.fromtimestamp(next_midnight(), dt.UTC)
    assert f"spend limit reached · the daily budget of $5.00 of client key 'alice' is spent · resets {tomorrow:%b} {tomorrow.day}" in output
    assert len(upstream.received) == sent  # refused before any upstream, and not retried (x-should-retry: false)
