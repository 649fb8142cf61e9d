"""The addon hook API, used from outside the package through the config's `addons:` section."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from babelgate.config import ConfigError, parse
from tests.conftest import GatewayFactory, openai_config
from tests.fakes.turns import Turn, reply
from tests.fakes.upstream import FakeUpstream, Reply
from tests.plugins import recorders

FIRST, SECOND = "tests.plugins.recorders:First", "tests.plugins.recorders:Second"


@pytest.fixture(autouse=True)
def fresh_record() -> Iterator[None]:
    recorders.CALLS.clear()
    yield
    recorders.CALLS.clear()


def client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="client-key", max_retries=0)


def ask(text: str = "hello") -> dict[str, Any]:
    return {"model": "claude-sonnet-5-5", "max_tokens": 100, "messages": [{"role": "user", "content": text}]}


async def test_hooks_run_in_the_order_the_config_lists_them(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="Hi there"), stream=True), reply("openai", Turn(text="Hi"), stream=False))
    gw = await gateway_factory(openai_config(upstream, addons={FIRST: True, SECOND: True}))
    async with client(gw.url).messages.stream(**ask()) as stream:
        assert await stream.get_final_text() == "Hi there"
    message = await client(gw.url).messages.create(**ask())
    assert message.content[0].type == "text"
    hooks = ["request", "upstream_request"]
    assert [
        *[(name, hook) for hook in hooks for name in ("first", "second")],
        ("first", "event:finish"),
        ("second", "event:finish"),
        *[(name, hook) for hook in hooks for name in ("first", "second")],
        ("first", "response"),
        ("second", "response"),
    ] == recorders.CALLS
    assert upstream.received[0].body["metadata"] == {"seen_by": ["first", "second"]}  # the upstream body was theirs to edit


async def test_an_addon_can_reword_an_error(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(Reply(400, {"error": {"message": "Invalid 'tools[0]'", "type": "invalid_request_error"}}))
    gw = await gateway_factory(openai_config(upstream, addons={FIRST: True}))
    with pytest.raises(anthropic.BadRequestError) as raised:
        await client(gw.url).messages.create(**ask())
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["message"] == "Invalid 'tools[0]' [first]" and body["error"]["provider"] == "up"
    assert ("first", "error") in recorders.CALLS


async def test_a_failing_addon_is_logged_and_skipped(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.push(reply("openai", Turn(text="still served"), stream=True), reply("openai", Turn(text="and again"), stream=False))
    upstream.push(Reply(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}, headers={"retry-after": "30"}))
    data = openai_config(upstream, addons={"tests.plugins.recorders:Broken": True, FIRST: True})
    gw = await gateway_factory(data)
    with caplog.at_level(logging.ERROR, logger="babelgate.addons"):
        async with client(gw.url).messages.stream(**ask()) as stream:
            assert await stream.get_final_text() == "still served"
        assert (await client(gw.url).messages.create(**ask())).content[0].type == "text"
        with pytest.raises(anthropic.RateLimitError):
            await client(gw.url).messages.create(**ask())
    failed = {r.getMessage() for r in caplog.records}
    for hook in ("request", "upstream_request", "event", "response", "error"):
        assert f"addon tests.plugins.recorders:Broken failed in its {hook} hook; skipped" in failed
    assert ("first", "event:finish") in recorders.CALLS  # the next addon still ran


@pytest.mark.parametrize("stream", [False, True])
async def test_an_addon_answering_a_request_short_circuits_the_upstream(
    stream: bool, upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gw = await gateway_factory(openai_config(upstream, addons={"tests.plugins.recorders:Warmup": True}))
    if stream:
        async with client(gw.url).messages.stream(**ask("Warmup")) as events:
            message = await events.get_final_message()
    else:
        message = await client(gw.url).messages.create(**ask("Warmup"))
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "ready"  # type: ignore[union-attr]
    assert message.model == "claude-sonnet-5-5"
    assert upstream.received == []


async def test_built_in_addons_can_be_switched_off(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="Hi"), stream=False))
    gw = await gateway_factory(openai_config(upstream, addons={"usage": False}))
    await client(gw.url).messages.create(**ask())
    assert gw.gateway.ledger.for_credential("up#0").requests == 0
    names = [type(addon).__name__ for addon in gw.gateway.addons.addons]
    assert names == ["SessionRecovery", "ClaudeCode", "Signatures", "ContextOverflow", "Safeguards"]  # warmup is off unless switched on


async def test_an_addon_gets_its_options_from_the_config(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(reply("openai", Turn(text="Hi"), stream=False))
    gw = await gateway_factory(openai_config(upstream, addons={"tests.plugins.recorders:Tagging": {"tag": "team-a"}}))
    await client(gw.url).messages.create(**ask())
    assert upstream.received[0].body["metadata"] == {"tag": "team-a"}


def test_the_config_names_unknown_addons() -> None:
    built_ins = "warmup, session_recovery, claude_code, signatures, usage"
    with pytest.raises(ConfigError, match=f"unknown addon 'usgae'; built-in addons are {built_ins}"):
        parse({"addons": {"usgae": False}})


async def test_settle_hooks_are_bounded_together_and_a_failing_one_does_not_stop_the_next(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from babelgate.addons import base

    ran: list[str] = []

    class Failing(base.Addon):
        name = "failing"

        async def settle(self, call: Any) -> None:
            ran.append("failing")
            raise RuntimeError("boom")

    class Hanging(base.Addon):
        name = "hanging"

        async def settle(self, call: Any) -> None:
            ran.append("hanging")
            await asyncio.Event().wait()

    class After(base.Addon):
        name = "after"

        async def settle(self, call: Any) -> None:
            ran.append("after")

    monkeypatch.setattr(base, "SETTLE_SECONDS", 0.05)
    context = base.Context(parse({"providers": {}}), None, None)  # type: ignore[arg-type]
    chain = base.Addons([Failing(context), After(context), Hanging(context), After(context)])
    with caplog.at_level(logging.ERROR, "babelgate.addons"):
        await asyncio.wait_for(chain.settle(None), 5)  # type: ignore[arg-type]
    assert ran == ["failing", "after", "hanging"]  # the hook after the hanging one is given up with it
    assert [r.getMessage() for r in caplog.records] == [
        "addon failing failed in its settle hook; skipped",
        "addon hanging failed in its settle hook; skipped",
    ]
