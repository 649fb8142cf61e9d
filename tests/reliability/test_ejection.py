"""Outlier ejection: a credential whose streams keep breaking mid-way is benched (`unstable`), and says so.

A break after the first byte cannot fail over (the client has the start of the answer), but it
counts against the credential: three instabilities in a row bench it for every model, visible in
`/account-limits`, while the rest of the pool serves.
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.conftest import GatewayFactory
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

BREAKS, STEADY = "sk-breaks-every-stream-1", "sk-steady-key-000000002"
BOUND = 8
REQUEST = {"model": "claude-x", "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def by_key(record: Received) -> Reply:
    key = record.headers["authorization"].removeprefix("Bearer ")
    if key == BREAKS:
        start = wire.sse([wire.chunk({"role": "assistant", "content": ""}), wire.chunk({"content": "half an answer"})], done=False)
        return Reply(chunks=[start, b"never sent"], drop_after=1)
    if isinstance(record.body, dict) and record.body.get("stream"):
        return wire.stream_reply(wire.text_stream("a whole ", "answer"))
    return Reply(json=wire.completion("a whole answer"))


def pool(upstream: FakeUpstream) -> dict[str, object]:
    provider = {"base_url": f"{upstream.url}/v1", "api_keys": [{"key": BREAKS, "name": "flaky"}, {"key": STEADY, "name": "steady"}]}
    return {"providers": {"pool": {**provider, "models": ["gpt-5"]}}, "aliases": {"claude-*": "pool/gpt-5"}, "routing": {"max_wait": 0}}


def keys_used(upstream: FakeUpstream) -> list[str]:
    return ["flaky" if r.headers["authorization"].endswith(BREAKS) else "steady" for r in upstream.received]


async def test_a_key_that_breaks_every_stream_is_benched_as_unstable(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = by_key
    gw = await gateway_factory(pool(upstream))
    texts = []
    async with asyncio.timeout(BOUND), aiohttp.ClientSession() as session:
        for _ in range(10):
            async with session.post(gw.url + "/v1/messages", json=REQUEST) as response:
                texts.append(await response.text())
        async with session.get(gw.url + "/account-limits") as response:
            limits = await response.json()
    assert keys_used(upstream) == ["flaky", "steady"] * 3 + ["steady"] * 4  # three breaks in a row, then benched
    assert sum("half an answer" in text and "event: error" in text for text in texts) == 3
    credentials = {c["id"]: c for c in limits["providers"][0]["credentials"]}
    flaky = credentials["pool#flaky"]
    assert flaky["status"] == "unstable"
    assert flaky["cooldowns"] == [{"model": "(all models)", "reason": "unstable", "remaining_seconds": 30}]
    assert "stream broke" in flaky["last_error"]["message"] and BREAKS not in str(limits)
    assert credentials["pool#steady"]["status"] == "ok"


async def test_clean_answers_in_between_keep_a_key_in_service(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    answers = iter([False, True, False, True, False, True, False])  # break, finish, break, ...

    def alternating(record: Received) -> Reply:
        if next(answers):
            return wire.stream_reply(wire.text_stream("fine"))
        return by_key(record)

    upstream.script = alternating
    data = pool(upstream)
    data["providers"]["pool"]["api_keys"] = [{"key": BREAKS, "name": "flaky"}]  # type: ignore[index]
    gw = await gateway_factory(data)
    async with asyncio.timeout(BOUND), aiohttp.ClientSession() as session:
        for _ in range(7):
            async with session.post(gw.url + "/v1/messages", json=REQUEST) as response:
                assert response.status == 200
                await response.read()
    assert gw.gateway.book.blocked("pool#flaky", "gpt-5") is None  # never three in a row


async def test_5xx_in_a_row_bench_the_key_as_unstable(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    failing = wire.error(500, "The server had an error while processing your request.", "server_error")

    def script(record: Received) -> Reply:
        return failing if record.headers["authorization"].endswith(BREAKS) else by_key(record)

    upstream.script = script
    data = pool(upstream)
    data["providers"]["pool"] |= {"models": ["m1", "m2", "m3"], "api_keys": [{"key": BREAKS, "name": "flaky"}]}  # type: ignore[operator]
    gw = await gateway_factory(data)
    async with asyncio.timeout(BOUND), aiohttp.ClientSession() as session:
        for model in ("m1", "m2", "m3"):  # each failure cools its own model briefly; the third benches the key
            async with session.post(gw.url + "/v1/messages", json={**REQUEST, "model": f"pool/{model}", "stream": False}) as response:
                assert response.status == 502
    entry = gw.gateway.book.blocked("pool#flaky", "any-model")
    assert entry is not None and entry.reason.value == "unstable"
