"""`GET /v1/models` and `/v1/models/{id}` in Anthropic's shape, ids that route back; errors and pass-through per the contract."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import orjson

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.turns import Turn, anthropic_body
from tests.fakes.upstream import FakeUpstream, Reply

ANTHROPIC = {"anthropic-version": "2023-06-01"}


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or ANTHROPIC) as response:
        return response.status, await response.json()


async def test_every_routable_model_is_published_under_an_id_claude_code_keeps(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    config = openai_config(
        upstream, provider={"models": ["gpt-5", "gpt-4.1"]}, models={"gpt-5*": {"context_window": 272000, "max_output": 64000}}
    )
    config["providers"]["ant"] = {"type": "anthropic", "base_url": upstream.url, "api_keys": ["k"], "models": ["claude-sonnet-4-5"]}
    gw = await gateway_factory(config)
    status, listing = await get(f"{gw.url}/v1/models?limit=1000")
    assert status == 200
    by_id = {m["id"]: m for m in listing["data"]}
    assert list(by_id) == ["claude-opus", "claude-up-gpt-5", "claude-up-gpt-4.1[1m]", "claude-sonnet-4-5"]
    assert all("claude" in i for i in by_id)  # what Claude Code 2.1.328 keeps
    gpt5 = by_id["claude-up-gpt-5"]
    assert gpt5["display_name"] == "GPT-5 (up)" and (gpt5["max_input_tokens"], gpt5["max_tokens"]) == (272000, 64000)  # the config wins
    assert gpt5["description"] == "up/gpt-5 via babelgate (openai) · 272K context, 64K output"
    assert by_id["claude-opus"]["display_name"] == "opus: GPT-5 (up)" and by_id["claude-opus"]["babelgate_route"] == "opus"
    assert by_id["claude-up-gpt-4.1[1m]"]["max_input_tokens"] == 1047576  # the shipped table, >= 1M: `[1m]`
    status, one = await get(f"{gw.url}/v1/models/claude-up-gpt-4.1[1m]")
    assert status == 200 and one == by_id["claude-up-gpt-4.1[1m]"]
    status, missing = await get(f"{gw.url}/v1/models/claude-nothing")
    assert status == 404 and missing["error"]["type"] == "not_found_error"
    status, openai_shape = await get(f"{gw.url}/v1/models", {"Authorization": "Bearer k"})
    assert [m["id"] for m in openai_shape["data"]] == ["opus", "up/gpt-5", "up/gpt-4.1", "ant/claude-sonnet-4-5"]


async def test_published_ids_route_back_with_or_without_the_window_mark(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = lambda record: Reply(json=wire.completion("hi"))
    gw = await gateway_factory(openai_config(upstream, provider={"models": ["gpt-5", "gpt-4.1"]}))
    client = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    for model in ("claude-up-gpt-4.1", "claude-up-gpt-4.1[1m]", "claude-up-gpt-5(high)", "claude-opus"):
        await client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert [r.body["model"] for r in upstream.received] == ["gpt-4.1", "gpt-4.1", "gpt-5", "gpt-5"]


async def test_paging_with_limit_after_id_and_before_id(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(openai_config(upstream, provider={"models": ["a", "b", "c", "d"]}))
    everything = [m["id"] for m in (await get(f"{gw.url}/v1/models"))[1]["data"]]
    assert everything == ["claude-opus", "claude-up-a", "claude-up-b", "claude-up-c", "claude-up-d"]
    _, first = await get(f"{gw.url}/v1/models?limit=2")
    assert [m["id"] for m in first["data"]] == everything[:2] and first["has_more"] is True and first["last_id"] == everything[1]
    _, after = await get(f"{gw.url}/v1/models?limit=2&after_id={first['last_id']}")
    assert [m["id"] for m in after["data"]] == everything[2:4] and after["has_more"] is True
    _, before = await get(f"{gw.url}/v1/models?limit=2&before_id=claude-up-c")
    assert [m["id"] for m in before["data"]] == everything[1:3] and before["has_more"] is True and before["first_id"] == everything[1]
    status, bad = await get(f"{gw.url}/v1/models?limit=0")
    assert status == 400 and "limit" in bad["error"]["message"]
    status, bad = await get(f"{gw.url}/v1/models?after_id=nope")
    assert status == 400 and "after_id" in bad["error"]["message"]


async def test_upstream_errors_reach_claude_code_unchanged_with_the_headers_the_contract_asks(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    ask: dict[str, Any] = {"model": "claude-opus-5-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    cases = [
        (wire.error(400, "Input is too long.", "invalid_request_error"), 400),
        (wire.error(503, "The server is overloaded", "server_error"), 529),
        (wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "70"}), 429),
    ]
    for reply, status in cases:
        upstream.push(reply)
        gw = await gateway_factory(openai_config(upstream, routing={"max_wait": 0}))
        async with aiohttp.ClientSession() as session, session.post(f"{gw.url}/v1/messages", json=ask) as response:
            body = await response.json()
            assert response.status == status, body
            if status == 429:  # the gateway's own word: every key cools, longer than routing.max_wait, so no silent retries
                assert int(response.headers["Retry-After"]) >= 69 and response.headers["x-should-retry"] == "false"
                assert "retry in" in body["error"]["message"]
            else:  # the upstream's words, no prefix: Claude Code matches phrases such as "Input is too long."
                assert body["error"]["message"] == reply.json["error"]["message"] and body["error"]["provider"] == "up"


async def test_an_upstream_that_refuses_connections_is_not_worth_a_retry(gateway_factory: GatewayFactory) -> None:
    config = {"providers": {"gone": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_keys": ["k"], "models": ["m"]}}}
    gw = await gateway_factory({**config, "aliases": {"claude-*": "gone/m"}, "routing": {"max_wait": 0}})
    ask = {"model": "claude-opus-5-5", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}/v1/messages", json=ask) as response:
        message = (await response.json())["error"]["message"]
        assert response.status == 502 and response.headers["x-should-retry"] == "false"
        assert "unreachable" in message and "providers.gone.base_url" in message


async def test_an_anthropic_upstream_gets_what_it_does_not_know_untouched(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    config = {"providers": {"ant": {"type": "anthropic", "base_url": upstream.url, "api_keys": ["k"], "models": ["claude-up"]}}}
    gw = await gateway_factory({**config, "aliases": {"claude-*": "ant/claude-up"}})
    upstream.push(Reply(json=anthropic_body(Turn(text="ok"))))
    billing = {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328; cc_entrypoint=cli;"}
    body = {
        "model": "claude-opus-5-5",
        "max_tokens": 100,
        "system": [billing, {"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "container_upload", "file_id": "file_1"}, {"type": "text", "text": "hi"}]}],
        "a_field_from_next_year": {"x": 1},
    }
    headers = {**ANTHROPIC, "anthropic-beta": "claude-code-20250219,some-beta-from-the-future-2027-01-01"}
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}/v1/messages?beta=true", json=body, headers=headers) as response:
        assert response.status == 200
    sent = upstream.received[0]
    assert sent.headers["anthropic-beta"] == headers["anthropic-beta"]
    assert orjson.loads(orjson.dumps(sent.body)) == {**body, "model": "claude-up"}  # the billing header and the unknown block kept
