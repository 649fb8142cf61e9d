"""Histories another model wrote, passed through to Anthropic from an Anthropic client (Claude Code's path).

The strict Anthropic fake refuses what the API refuses; babelgate must clean the client's body first.
"""

from __future__ import annotations

from typing import Any

import anthropic

from babelgate.reasoning import Sealed, seal
from tests.conftest import GatewayFactory
from tests.fakes.families import MODELS, FamilyFake, family_config
from tests.fakes.reasoning_rules import anthropic as anthropic_rules

TOOL: Any = {"name": "Bash", "description": "Run", "input_schema": {"type": "object", "properties": {}}}


def _history(first_block: dict[str, Any]) -> list[dict[str, Any]]:
    call = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}
    return [
        {"role": "user", "content": "conversation r1 go"},
        {"role": "assistant", "content": [first_block, {"type": "text", "text": "Running.", "cache_control": {"type": "ephemeral"}}, call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    ]


FOREIGN = [
    {"type": "thinking", "thinking": "Gemini thought this.", "signature": seal(Sealed("gemini", "gemini-3-pro", "c2ln"))},
    {"type": "thinking", "thinking": "A stripped signature.", "signature": ""},
    {"type": "thinking", "thinking": "No signature at all."},
    {"type": "redacted_thinking", "data": seal(Sealed("openai-responses", "gpt-5", "gAAAA"))},
]


def test_the_fake_refuses_those_histories_as_anthropic_does() -> None:
    body = {"model": "m", "max_tokens": 9, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    errors = [anthropic_rules({**body, "messages": _history(block)}, {}) for block in FOREIGN]
    messages = [str(e.json["error"]["message"]) for e in errors if e is not None]
    assert messages[0] == messages[1] == "messages.1.content.0: Invalid signature in thinking block"
    assert messages[2] == "messages.1.content.0.thinking.signature: Field required"
    assert messages[3].startswith("messages.1.content.0: Invalid `data`")
    cached = {"type": "thinking", "thinking": "t", "signature": "S", "cache_control": {"type": "ephemeral"}}
    refused = anthropic_rules({**body, "messages": _history(cached)}, {"S": "t"})
    assert (
        refused is not None
        and refused.json["error"]["message"] == "messages.1.content.0.thinking.cache_control: Extra inputs are not permitted"
    )
    call_first = {"type": "text", "text": "no thinking"}
    refused = anthropic_rules({**body, "messages": _history(call_first)}, {})
    assert refused is not None and "Expected `thinking` or `redacted_thinking`, but found `text`" in refused.json["error"]["message"]


async def test_passthrough_cleans_another_models_thinking_and_turns_thinking_off(gateway_factory: GatewayFactory) -> None:
    fake = await FamilyFake("anthropic").start()
    try:
        gateway = await gateway_factory(family_config({"anthropic": fake}))
        client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0)
        for block in FOREIGN:
            message = await client.messages.create(
                model=MODELS["anthropic"],
                max_tokens=4096,
                thinking={"type": "enabled", "budget_tokens": 1024},
                messages=_history(block),  # type: ignore[arg-type]
                tools=[TOOL],
            )
            assert message.content[-1].type == "tool_use"
        assert not fake.rejected
        sent = [r.body for r in fake.received]
        assert all("thinking" not in body for body in sent)  # the turn it continues is not Anthropic's: thinking off
        assert all([b["type"] for b in body["messages"][1]["content"]] == ["text", "tool_use"] for body in sent)
        assert all(body["messages"][1]["content"][0]["cache_control"] == {"type": "ephemeral"} for body in sent)  # others' kept
    finally:
        await fake.stop()


async def test_anthropics_own_signed_thinking_passes_byte_for_byte(gateway_factory: GatewayFactory) -> None:
    fake = await FamilyFake("anthropic").start()
    try:
        fake.signed["U2lnbmVk"] = "I thought."
        gateway = await gateway_factory(family_config({"anthropic": fake}))
        client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0)
        own = {"type": "thinking", "thinking": "I thought.", "signature": "U2lnbmVk", "cache_control": {"type": "ephemeral"}}
        await client.messages.create(
            model=MODELS["anthropic"],
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=_history(own),
            tools=[TOOL],  # type: ignore[arg-type]
        )
        assert not fake.rejected
        body = fake.received[-1].body
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}  # its own thinking leads the turn: thinking stays on
        assert body["messages"][1]["content"][0] == {"type": "thinking", "thinking": "I thought.", "signature": "U2lnbmVk"}
    finally:
        await fake.stop()
