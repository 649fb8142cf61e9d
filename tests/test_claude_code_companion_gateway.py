"""The companion features through a real gateway, with aiohttp as the client: safeguards on each path,
auto-stream, usage scaling, and each switched off."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.turns import ToolCall, Turn, anthropic_body, reply
from tests.fakes.upstream import FakeUpstream, Received, Reply

SAFEGUARDS = [{"type": "dangerous_tool_use", "classifier_context": {"v": 1, "live_cwd": "/p"}}]
BETA = "claude-code-20250219,dangerous-tool-use-2026-09-03"


def ask(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-opus-5-5", "max_tokens": 200, "messages": [{"role": "user", "content": "go"}], **extra}


async def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        headers = {"anthropic-version": "2023-06-01", "anthropic-beta": BETA}
        async with session.post(f"{url}/v1/messages", json=body, headers=headers) as response:
            text = await response.text()
            return response.status, (json.loads(text) if not body.get("stream") else text)


def verdict_script(record: Received) -> Reply:
    if record.body["model"] == "gpt-5-mini":
        return Reply(json=wire.completion(json.dumps({"verdicts": [{"id": "call_1", "outcome": "not_flagged"}]})))
    return reply("openai", Turn(calls=[ToolCall("Bash", {"command": "ls /"}, "call_1")]), bool(record.body.get("stream")))


async def test_whole_replies_carry_top_level_verdicts_and_streams_carry_them_in_the_last_delta(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = verdict_script
    gw = await gateway_factory(openai_config(upstream, addons={"safeguards": {"classifier": "up/gpt-5-mini"}}))
    status, body = await post(gw.url, ask(safeguards=SAFEGUARDS))
    assert status == 200
    expected = [
        {
            "type": "dangerous_tool_use",
            "status": {"type": "available", "tool_uses": {"call_1": {"type": "evaluated", "outcome": "not_flagged"}}},
        }
    ]
    assert body["safeguard_results"] == expected
    status, text = await post(gw.url, ask(safeguards=SAFEGUARDS, stream=True))
    deltas = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ") and "message_delta" in line]
    assert deltas[-1]["delta"]["safeguard_results"] == expected
    status, body = await post(gw.url, ask())  # no safeguards asked: none answered, no classifier call
    assert "safeguard_results" not in body
    assert sum(r.body["model"] == "gpt-5-mini" for r in upstream.received) == 2


async def test_an_anthropic_upstream_gets_safeguards_as_sent_and_its_results_come_back_unchanged(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    results = [
        {
            "type": "dangerous_tool_use",
            "status": {
                "type": "available",
                "tool_uses": {"toolu_1": {"type": "evaluated", "outcome": "flagged", "explanation": "upstream's"}},
            },
        }
    ]
    upstream.push(
        Reply(json={**anthropic_body(Turn(calls=[ToolCall("Bash", {"command": "rm -rf /"}, "toolu_1")])), "safeguard_results": results})
    )
    provider = {"type": "anthropic", "base_url": upstream.url, "api_keys": ["sk-ant-test"]}
    gw = await gateway_factory({"providers": {"ant": provider}, "aliases": {"claude-*": "ant/claude-upstream"}})
    status, body = await post(gw.url, ask(safeguards=SAFEGUARDS))
    assert status == 200 and body["safeguard_results"] == results
    sent = upstream.received[0]
    assert sent.body["safeguards"] == SAFEGUARDS and sent.headers["anthropic-beta"] == BETA


async def test_without_a_classifier_a_translated_target_is_a_400_naming_safeguards_unless_switched_off(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(upstream))
    status, body = await post(gw.url, ask(safeguards=SAFEGUARDS))
    assert status == 400 and body["error"]["type"] == "invalid_request_error" and "safeguards" in body["error"]["message"]
    assert upstream.received == []
    upstream.push(reply("openai", Turn(text="hi"), False))
    off = await gateway_factory(openai_config(upstream, addons={"safeguards": False}))
    status, body = await post(off.url, ask(safeguards=SAFEGUARDS))
    assert status == 200 and "safeguard_results" not in body  # today's behaviour: the field is dropped in translation


async def test_auto_stream_asks_for_a_stream_and_answers_whole(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="streamed then whole"), True), reply("openai", Turn(text="plain"), False))
    gw = await gateway_factory(openai_config(upstream, provider={"auto_stream": True}))
    status, body = await post(gw.url, ask())
    assert status == 200 and body["content"][0]["text"] == "streamed then whole"
    assert upstream.received[0].body["stream"] is True
    off = await gateway_factory(openai_config(upstream))
    status, body = await post(off.url, ask())
    assert body["content"][0]["text"] == "plain"
    assert upstream.received[1].body.get("stream") in (None, False)


async def test_auto_stream_fails_over_when_the_stream_breaks(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    broken = reply("openai", Turn(text="x" * 400), True)
    broken.chunks = [b"".join(broken.chunks or [])[:200]]
    upstream.push(broken, reply("openai", Turn(text="from the second key"), True))
    gw = await gateway_factory(openai_config(upstream, provider={"auto_stream": True, "api_keys": ["sk-a-1234567890", "sk-b-1234567890"]}))
    status, body = await post(gw.url, ask())
    assert status == 200 and body["content"][0]["text"] == "from the second key"


async def test_usage_scaling_changes_what_the_client_sees_not_the_ledger(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="hi", input_tokens=600_000, cached_tokens=0), False))
    data = openai_config(upstream, addons={"usage_scaling": True}, models={"gpt-5": {"context_window": 1_000_000}})
    gw = await gateway_factory(data)
    _, body = await post(gw.url, ask())
    assert body["usage"]["input_tokens"] == int((0.3 + 0.1 / 0.2 * 0.2) * 195_000)
    assert gw.gateway.ledger.for_credential("up#0").input_tokens == 600_000
    upstream.push(reply("openai", Turn(text="hi", input_tokens=600_000, cached_tokens=0), False))
    plain = await gateway_factory(openai_config(upstream, models={"gpt-5": {"context_window": 1_000_000}}))
    _, body = await post(plain.url, ask())
    assert body["usage"]["input_tokens"] == 600_000  # off by default
