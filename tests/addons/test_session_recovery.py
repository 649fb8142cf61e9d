"""The session_recovery addon: a history an upstream would refuse is repaired; switched off, it fails as before."""

from __future__ import annotations

import logging
from typing import Any

import anthropic
import pytest

from babelgate import ir
from babelgate.addons.session_recovery import INTERRUPTED, repair_anthropic_body, repair_history
from babelgate.addons.tool_ids import IdMap, safe_id
from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.openai_history import strict_history
from tests.fakes.turns import Turn, anthropic_body
from tests.fakes.upstream import FakeUpstream, Received, Reply

BASH = {"command": "sleep 600", "description": "wait"}
INTERRUPTED_LOOP: list[dict[str, Any]] = [
    {"role": "user", "content": "wait ten minutes"},
    {
        "role": "assistant",
        "content": [{"type": "text", "text": "Waiting."}, {"type": "tool_use", "id": "toolu_esc", "name": "Bash", "input": BASH}],
    },
    {"role": "user", "content": "never mind, say done"},
]
COMPACTED: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_gone", "content": "hello"}, {"type": "text", "text": "go on"}],
    },
]


def test_an_unanswered_call_gets_an_interrupted_result_where_the_next_user_turn_begins() -> None:
    call = ir.ToolCallPart("c1", "Bash", {})
    messages = [
        ir.Message("user", [ir.TextPart("run it")]),
        ir.Message("assistant", [call]),
        ir.Message("system", [ir.TextPart("a reminder")]),
        ir.Message("user", [ir.TextPart("stop")]),
        ir.Message("assistant", [ir.ToolCallPart("c2", "Bash", {})]),
        ir.Message("assistant", [ir.TextPart("and again")]),
    ]
    fixed, done = repair_history(messages)
    assert [m.role for m in fixed] == ["user", "assistant", "system", "user", "assistant", "user", "assistant"]
    assert fixed[3].parts == [ir.ToolResultPart("c1", [ir.TextPart(INTERRUPTED)], is_error=True), ir.TextPart("stop")]
    assert fixed[5].parts == [ir.ToolResultPart("c2", [ir.TextPart(INTERRUPTED)], is_error=True)]
    assert done == ["tool_use c1 has no tool_result: answered as interrupted", "tool_use c2 has no tool_result: answered as interrupted"]


def test_a_result_without_its_call_becomes_text_and_a_sound_history_is_left_alone() -> None:
    orphan = ir.Message("user", [ir.ToolResultPart("gone", [ir.TextPart("42")]), ir.TextPart("go on")])
    fixed, done = repair_history([orphan])
    assert fixed[0].parts == [ir.TextPart("[result of tool call gone]\n42"), ir.TextPart("go on")]
    assert done == ["tool_result gone has no tool_use: kept as text"]
    sound = [
        ir.Message("user", [ir.TextPart("run")]),
        ir.Message("assistant", [ir.ToolCallPart("c1", "Bash", {})]),
        ir.Message("user", [ir.ToolResultPart("c1", [ir.TextPart("ok")])]),
    ]
    again, nothing = repair_history(sound)
    assert again == sound and nothing == []


def test_the_clients_own_anthropic_body_gets_the_same_repairs() -> None:
    body = {"model": "m", "cache_me": True, "messages": INTERRUPTED_LOOP + COMPACTED}
    fixed = repair_anthropic_body(body)
    assert fixed["cache_me"] is True and body["messages"][2]["content"] == "never mind, say done"  # not edited in place
    result, text = fixed["messages"][2]["content"]
    assert result == {"type": "tool_result", "tool_use_id": "toolu_esc", "content": INTERRUPTED, "is_error": True}
    assert text == {"type": "text", "text": "never mind, say done"}
    assert fixed["messages"][3]["content"][0] == {"type": "text", "text": "[result of tool call toolu_gone]\nhello"}
    assert repair_anthropic_body(fixed) == fixed


def test_ids_no_family_takes_are_replaced_and_given_back() -> None:
    assert safe_id("call_abc-1") == "call_abc-1"
    odd = "functions.Bash:0"
    ids = IdMap()
    minted = ids.mint(odd)  # an upstream's id, on its way to the client
    assert minted.startswith("toolu_") and minted == safe_id(odd) and len(minted) <= 40
    assert ids.outbound(minted) == odd  # the client sends it back: the upstream gets its own
    assert ids.outbound("x" * 64) == safe_id("x" * 64) != "x" * 64  # too long for OpenAI


def answer_done(record: Received) -> Reply:
    return wire.stream_reply(wire.text_stream("done")) if record.body.get("stream") else Reply(json=wire.completion("done"))


@pytest.mark.parametrize("history", [INTERRUPTED_LOOP, COMPACTED], ids=["interrupted", "compacted"])
async def test_a_broken_history_reaches_a_strict_upstream_repaired(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, caplog: pytest.LogCaptureFixture, history: list[dict[str, Any]]
) -> None:
    upstream.script = strict_history(answer_done)
    gw = await gateway_factory(openai_config(upstream))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    with caplog.at_level(logging.INFO, logger="babelgate.addons.session_recovery"):
        message = await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=history)
    assert message.content[0].type == "text" and message.content[0].text == "done"
    repairs = [r.getMessage() for r in caplog.records if r.name == "babelgate.addons.session_recovery"]
    assert len(repairs) == 1  # one line per request, naming each repair
    assert ("toolu_esc" if history is INTERRUPTED_LOOP else "toolu_gone") in repairs[0]


async def test_switched_off_the_upstream_refuses_as_before(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = strict_history(answer_done)
    gw = await gateway_factory(openai_config(upstream, addons={"session_recovery": False}))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="did not have response messages: toolu_esc"):
        await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=INTERRUPTED_LOOP)


async def test_an_anthropic_upstream_gets_the_clients_body_repaired(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(Reply(json=anthropic_body(Turn(text="done"))))
    config = {"providers": {"ant": {"type": "anthropic", "base_url": upstream.url, "api_keys": ["sk-ant"], "models": ["claude-up"]}}}
    gw = await gateway_factory({**config, "aliases": {"claude-*": "ant/claude-up"}})
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=INTERRUPTED_LOOP, extra_body={"future_field": 1})
    sent = upstream.received[0].body
    assert sent["future_field"] == 1  # still the client's own body
    assert sent["messages"][2]["content"][0]["tool_use_id"] == "toolu_esc"


async def test_odd_upstream_ids_reach_the_client_safe_and_go_back_as_they_were(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.push(
        Reply(
            json=wire.completion(
                None,
                tool_calls=[{"id": "functions.Bash:0", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}],
                finish="tool_calls",
            )
        )
    )
    upstream.push(Reply(json=wire.completion("done")))
    gw = await gateway_factory(openai_config(upstream))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    first = await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=[{"role": "user", "content": "go"}])
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.id == safe_id("functions.Bash:0")  # Anthropic's SDK and API want [a-zA-Z0-9_-]
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": call.id, "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "ok"}]},
    ]
    await client.messages.create(model="claude-sonnet-5-5", max_tokens=100, messages=history)
    sent = upstream.received[1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "functions.Bash:0" and sent[2]["tool_call_id"] == "functions.Bash:0"
