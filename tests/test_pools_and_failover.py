"""Credential pools, cooldowns, failover and the errors that explain them, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai

from babelgate.providers.classify import Reason
from babelgate.store.sqlite import SqliteStore
from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

KEY_A, KEY_B, KEY_C = "sk-key-a-rate-limited", "sk-key-b-revoked", "sk-key-c-working"


def pool_config(upstream: FakeUpstream, keys: list[str], **extra: Any) -> dict[str, Any]:
    provider = {"base_url": f"{upstream.url}/v1", "api_keys": keys, "models": ["gpt-5"]}
    data: dict[str, Any] = {"providers": {"pool": provider}, "aliases": {"claude-*": "pool/gpt-5"}, "routing": {"max_wait": 0}}
    data.update(extra)
    return data


def by_key(rules: dict[str, Reply | None]) -> Any:
    """Answer by the bearer key; None means a normal completion naming the key's letter."""

    def script(record: Received) -> Reply:
        key = record.headers["authorization"].removeprefix("Bearer ")
        reply = rules[key]
        return reply if reply is not None else Reply(json=wire.completion(f"served by {key[7]}"))

    return script


def keys_used(upstream: FakeUpstream) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ")[7] for r in upstream.received]


async def ask(url: str, model: str = "claude-sonnet-5-5", sdk: anthropic.AsyncAnthropic | None = None) -> anthropic.types.Message:
    sdk = sdk or anthropic.AsyncAnthropic(base_url=url, api_key="k", max_retries=0)
    return await sdk.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": "hi"}])


async def test_three_keys_one_rate_limited_one_revoked(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    rate_limited = wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "2"})
    revoked = wire.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    upstream.script = by_key({KEY_A: rate_limited, KEY_B: revoked, KEY_C: None})
    gw = await gateway_factory(pool_config(upstream, [KEY_A, KEY_B, KEY_C]))
    for _ in range(6):
        message = await ask(gw.url)
        assert message.content[0].text == "served by c"  # type: ignore[union-attr]
    assert sorted(keys_used(upstream)[:3]) == ["a", "b", "c"]
    assert keys_used(upstream)[3:] == ["c"] * 5  # A cooling, B out: nothing else is tried
    book = gw.gateway.book
    a_block, b_block = book.blocked("pool#0", "gpt-5"), book.blocked("pool#1", "gpt-5")
    assert a_block is not None and a_block.reason is Reason.RATE_LIMIT
    assert b_block is not None and b_block.reason is Reason.AUTH and b_block.until == float("inf")

    # A comes back after its reset (Retry-After: 2); B stays out until verified.
    upstream.script = by_key({KEY_A: None, KEY_B: None, KEY_C: None})
    deadline = time.time() + 10
    while book.blocked("pool#0", "gpt-5") is not None and time.time() < deadline:
        await asyncio.sleep(0.1)
    upstream.received.clear()
    for _ in range(4):
        await ask(gw.url)
    assert set(keys_used(upstream)) == {"a", "c"}
    assert book.blocked("pool#1", "gpt-5") is not None


async def test_all_keys_cooling_is_429_model_cooldown(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    quota = wire.error(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota", {"Retry-After": "120"})
    upstream.script = lambda record: quota
    gw = await gateway_factory(pool_config(upstream, [KEY_A, KEY_C]))
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # the first meets the failures, the second finds every key already cooling
            async with session.post(
                f"{gw.url}/v1/messages", json={"model": "claude-opus-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
            ) as response:
                assert response.status == 429
                body = await response.json()
                retry_after = int(response.headers["Retry-After"])
            assert 110 <= retry_after <= 120
            error = body["error"]
            assert body["type"] == "error" and error["type"] == "rate_limit_error" and error["code"] == "model_cooldown"
            assert error["model"] == "claude-opus-5-5" and error["providers"] == ["pool"] and error["reset_seconds"] == retry_after
            assert "claude-opus-5-5" in error["message"] and f"{retry_after}s" in error["message"]
    assert len(upstream.received) == 2  # the second request never reached the upstream

    # The same condition in the OpenAI dialect.
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0)
    try:
        await client.chat.completions.create(model="claude-opus-5-5", messages=[{"role": "user", "content": "x"}])
    except openai.RateLimitError as caught:
        assert caught.code == "model_cooldown" and "claude-opus-5-5" in caught.message
    else:
        raise AssertionError("expected a 429")


async def test_all_keys_invalid_is_503_with_counts(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = lambda record: wire.error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    gw = await gateway_factory(pool_config(upstream, [KEY_A, KEY_B]))
    payload = {"model": "claude-opus-5-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gw.url}/v1/messages", json=payload) as first:
            assert first.status == 401 and first.headers["x-should-retry"] == "false"
        async with session.post(f"{gw.url}/v1/messages", json=payload) as response:
            assert response.status == 503
            assert response.headers["x-should-retry"] == "false" and "Retry-After" in response.headers
            error = (await response.json())["error"]
    assert error["code"] == "auth_unavailable" and error["type"] == "overloaded_error"
    assert error["counts"] == {"auth_invalid": 2} and error["recent_statuses"] == [401, 401]
    assert "babelgate accounts verify" in error["message"]
    assert KEY_A not in str(error) and KEY_B not in str(error)


async def test_cooldown_survives_restart(upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path) -> None:
    quota = wire.error(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota", {"Retry-After": "600"})
    upstream.script = lambda record: quota
    config = pool_config(upstream, [KEY_A])
    store_path = tmp_path / "state.db"
    first = await gateway_factory(config, SqliteStore(str(store_path)))
    with contextlib.suppress(anthropic.RateLimitError):
        await ask(first.url)
    await first.stop()  # a graceful restart writes state; the store is the only thing shared
    second = await gateway_factory(config, SqliteStore(str(store_path)))
    upstream.received.clear()
    try:
        await ask(second.url)
    except anthropic.RateLimitError as caught:
        assert caught.response.headers["Retry-After"] and int(caught.response.headers["Retry-After"]) > 500
    else:
        raise AssertionError("expected the cooldown to hold after the restart")
    assert upstream.received == []


async def test_200_concurrent_requests_one_key_failing(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    failing = wire.error(429, "Rate limit reached", "requests", "rate_limit_exceeded", {"Retry-After": "60"})
    upstream.script = by_key({KEY_A: failing, KEY_B: None, KEY_C: None})
    gw = await gateway_factory(pool_config(upstream, [KEY_A, KEY_B, KEY_C]))
    sdk = anthropic.AsyncAnthropic(base_url=gw.url, api_key="k", max_retries=0)
    messages = await asyncio.gather(*(ask(gw.url, sdk=sdk) for _ in range(200)))
    assert all(m.content[0].text in ("served by b", "served by c") for m in messages)  # type: ignore[union-attr]
    used = keys_used(upstream)
    served = [k for k in used if k != "a"]
    assert len(served) == 200  # every request answered exactly once upstream
    assert 1 <= used.count("a") < 70  # only requests routed to A before its first 429 came back met it
    upstream.received.clear()
    more = await asyncio.gather(*(ask(gw.url, sdk=sdk) for _ in range(60)))
    assert len(more) == 60 and "a" not in keys_used(upstream)  # A is cooling: it takes none


async def test_fallback_chain_to_next_provider(gateway_factory: GatewayFactory) -> None:
    primary, secondary = await FakeUpstream().start(), await FakeUpstream().start()
    try:
        primary.script = lambda record: wire.error(
            429, "quota exceeded", "insufficient_quota", "insufficient_quota", {"Retry-After": "300"}
        )
        secondary.script = lambda record: Reply(json=wire.completion("from the fallback", model="backup-model"))
        config = {
            "providers": {
                "main": {"base_url": f"{primary.url}/v1", "api_keys": [KEY_A], "models": ["gpt-5"]},
                "backup": {"base_url": f"{secondary.url}/v1", "api_keys": [KEY_C], "models": ["backup-model"]},
            },
            "aliases": {"claude-*": ["main/gpt-5", "backup/backup-model"]},
            "routing": {"max_wait": 0},
        }
        gw = await gateway_factory(config)
        message = await ask(gw.url)
        assert message.content[0].text == "from the fallback"  # type: ignore[union-attr]
        assert message.model == "claude-sonnet-5-5" and message.type == "message"
        assert secondary.received[0].body["model"] == "backup-model"
        await ask(gw.url)
        assert len(primary.received) == 1  # the primary is cooling: not asked again
    finally:
        await primary.stop()
        await secondary.stop()


async def test_waits_for_short_reset_instead_of_failing(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.push(wire.error(429, "Rate limit reached, retry after 1s", "requests", "rate_limit_exceeded", {"retry-after-ms": "300"}))
    upstream.push(Reply(json=wire.completion("after the wait")))
    gw = await gateway_factory(pool_config(upstream, [KEY_A], routing={"max_wait": 5}))
    message = await ask(gw.url)
    assert message.content[0].text == "after the wait"  # type: ignore[union-attr]
    assert len(upstream.received) == 2


async def test_account_limits_report(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    rate_limited = wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "30"})
    upstream.script = by_key({KEY_A: rate_limited, KEY_C: None})
    gw = await gateway_factory(pool_config(upstream, [KEY_A, KEY_C], routing={"max_wait": 0, "strategy": "fill-first"}))
    await ask(gw.url)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.url}/account-limits") as response:
            report = await response.json()
        async with session.get(f"{gw.url}/account-limits?format=table") as response:
            text = await response.text()
    credentials = report["providers"][0]["credentials"]
    a, c = credentials
    assert a["status"] == "cooling" and a["cooldowns"][0]["model"] == "gpt-5" and 25 <= a["cooldowns"][0]["remaining_seconds"] <= 30
    assert a["last_error"]["status"] == 429 and c["status"] == "ok" and c["today"]["requests"] == 1
    assert KEY_A not in str(report) and KEY_A not in text
    assert a["key"] == "sk-k…ited"
    assert "pool#0" in text and "rate_limit" in text
