"""Three instances share their state through Redis: a cooldown one records is honoured by the others,
a sticky conversation keeps its credential on every instance, and usage adds up to what was sent.

(A per-key limit of N requests a minute across the three is not here: per-key limits are another
issue's work; the store's atomic counters are what it will build on.)
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import openai
from tests.cluster.conftest import Cluster
from tests.cluster.traffic import body, chat, cooldowns, keys_used, until

from babelgate.observe.usage import today
from babelgate.store.redis import RedisStore


async def test_a_cooldown_recorded_through_one_instance_is_honoured_by_the_others(healthy: Cluster) -> None:
    cluster = healthy
    cluster.script.failing.add("cool-0")
    a, b, c = cluster.instances
    sdk = openai.AsyncOpenAI(base_url=f"{a.url}/v1", api_key="unused", max_retries=0)
    for _ in range(3):  # round-robin over three keys: one of these tries cool-0, which fails over
        reply = await sdk.chat.completions.create(model="cool/gpt-5", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content in ("from cool-1", "from cool-2")
    assert keys_used(cluster.upstream, "cool").count("cool-0") == 1  # A cooled it down at once

    async with aiohttp.ClientSession() as session:
        for other in (b, c):  # pushed, not polled: the store's safety reload is 30 s away
            await until(lambda o=other: _cooling(session, o.url), f"{other.name} to hear of the cooldown", timeout=5)
    seen = len(cluster.upstream.received)
    for other in (b, c):
        sdk = openai.AsyncOpenAI(base_url=f"{other.url}/v1", api_key="unused", max_retries=0)
        for _ in range(6):
            await sdk.chat.completions.create(model="cool/gpt-5", messages=[{"role": "user", "content": "hi"}])
    assert sorted(set(keys_used(cluster.upstream, "cool", since=seen))) == ["cool-1", "cool-2"]  # cool-0 never tried


async def _cooling(session: aiohttp.ClientSession, base: str) -> bool:
    return bool(await cooldowns(session, base, "cool#0"))


async def test_a_sticky_conversation_keeps_its_credential_on_every_instance(healthy: Cluster) -> None:
    cluster = healthy
    a, b, c = cluster.instances
    bound: dict[str, set[str]] = {}
    async with aiohttp.ClientSession() as session:
        for n in range(3):
            first = f"conversation {n} {uuid.uuid4().hex}"
            history: list[dict[str, str]] = []
            text = first
            for base in (a.url, b.url, c.url, cluster.lb.url, cluster.lb.url, cluster.lb.url):
                seen = len(cluster.upstream.received)
                answer = await chat(session, base, body("st", text, stream=len(history) % 4 == 2, history=history))
                assert answer.status == 200, answer.text
                bound.setdefault(first, set()).update(keys_used(cluster.upstream, "st", since=seen))
                history += [{"role": "user", "content": text}, {"role": "assistant", "content": answer.text}]
                text = f"turn {len(history) // 2}"
    assert all(len(keys) == 1 for keys in bound.values()), bound


async def test_usage_totals_equal_the_requests_sent(healthy: Cluster) -> None:
    cluster = healthy
    sent = 30
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(*(chat(session, cluster.lb.url, body("tally", f"n{i}", stream=i % 2 == 0)) for i in range(sent)))
    assert all(a.status == 200 and a.complete for a in answers)
    assert len({a.instance for a in answers}) == 3  # HAProxy spread them
    assert len(keys_used(cluster.upstream, "tally")) == sent

    store = RedisStore(cluster.redis.url, prefix=cluster.prefix)
    try:

        async def counted() -> bool:
            rows = [u for u in await store.usage_for_day(today()) if u.credential.startswith("tally#")]
            return sum(u.requests for u in rows) >= sent

        await until(counted, "every instance to write its usage")
        rows = [u for u in await store.usage_for_day(today()) if u.credential.startswith("tally#")]
    finally:
        await store.close()
    assert sum(u.requests for u in rows) == sent
    # Streams report 20 prompt tokens (4 cached) and 7 completion tokens; whole answers 12 and 5.
    assert sum(u.input_tokens for u in rows) == 15 * 20 + 15 * 12
    assert sum(u.output_tokens for u in rows) == 15 * 7 + 15 * 5
