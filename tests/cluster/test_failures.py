"""An instance killed, an instance drained for a rolling restart, Redis stopped and restarted: under
traffic through HAProxy, no accepted request is lost and no client hangs."""

from __future__ import annotations

import asyncio

import aiohttp
from tests.cluster.conftest import HOLD, Cluster
from tests.cluster.traffic import Answer, body, chat, keys_used, until

from babelgate.observe.usage import today
from babelgate.store.redis import RedisStore


async def _held(cluster: Cluster, session: aiohttp.ClientSession, count: int) -> tuple[list[Answer], list[asyncio.Task[Answer]]]:
    """`count` requests through HAProxy that wait at the fake, alternately streams (which have begun:
    headers and a first event are out) and whole answers; each sent once the previous one arrived."""
    answers, tasks = [], []
    for i in range(count):
        seen = len(cluster.upstream.received)
        answer = Answer(0, "")
        payload = body("rr", f"{HOLD} {i}", stream=i % 2 == 0)
        tasks.append(asyncio.create_task(chat(session, cluster.lb.url, payload, answer)))
        answers.append(answer)
        if payload["stream"]:
            await asyncio.wait_for(answer.started.wait(), 15)
        else:
            await until(lambda s=seen: _arrived(cluster, s), "the request to reach the fake")
    return answers, tasks


async def _arrived(cluster: Cluster, seen: int) -> bool:
    return len(cluster.upstream.received) > seen


async def test_killing_an_instance_loses_no_request_that_had_not_started(healthy: Cluster) -> None:
    cluster = healthy
    cluster.script.gate = gate = asyncio.Event()
    victim = cluster.instances[0]
    async with aiohttp.ClientSession() as session:
        answers, tasks = await _held(cluster, session, 12)
        assert any(a.instance == victim.name for a in answers)  # a stream in flight there
        sent = len(keys_used(cluster.upstream, "rr"))
        await cluster.kill(victim)
        # Whole answers the victim was waiting for (leastconn gave it its share): HAProxy sends them elsewhere.
        await until(lambda: _retried(cluster, sent), "HAProxy to send the killed instance's waiting requests elsewhere")
        gate.set()
        finished = await asyncio.gather(*tasks)
    streams = [a for a in finished if a.started.is_set()]
    whole = [a for a in finished if not a.started.is_set()]
    assert all(a.status == 200 and a.text.startswith("from rr-") for a in whole)  # none lost: retried elsewhere
    assert all(a.instance != victim.name for a in whole)
    for stream in streams:
        if stream.instance == victim.name:  # cut off: the client sees an error, not a hang
            assert not stream.complete and stream.error, stream
        else:
            assert stream.complete and not stream.error and stream.text.startswith("from rr-")


async def _retried(cluster: Cluster, sent: int) -> bool:
    return len(keys_used(cluster.upstream, "rr")) > sent  # a request of the killed instance sent again


async def test_a_rolling_restart_drains_streams_and_loses_nothing(healthy: Cluster) -> None:
    cluster = healthy
    cluster.script.gate = gate = asyncio.Event()
    draining = cluster.instances[1]
    async with aiohttp.ClientSession() as session:
        answers, tasks = await _held(cluster, session, 6)
        assert any(a.instance == draining.name for a in answers)
        process = await cluster.terminate(draining)
        await cluster.lb.wait_for({draining.name: "DOWN"})
        during = await asyncio.gather(*(chat(session, cluster.lb.url, body("rr", f"during {i}", stream=i % 2 == 1)) for i in range(9)))
        assert process.returncode is None  # still draining: its streams wait at the fake
        gate.set()
        finished = await asyncio.gather(*tasks)
        assert await asyncio.wait_for(process.wait(), 15) == 0  # then it exits by itself
    assert all(a.status == 200 and a.complete and a.text.startswith("from rr-") for a in [*finished, *during])
    assert all(a.instance != draining.name for a in during)


async def test_redis_stopped_and_restarted_under_load_fails_no_request(healthy: Cluster) -> None:
    cluster = healthy
    results: list[Answer] = []
    stop = asyncio.Event()

    async def client(session: aiohttp.ClientSession, n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                results.append(await chat(session, cluster.lb.url, body("out", f"load {n} {i}", stream=i % 2 == 0)))
            except aiohttp.ClientError as error:
                results.append(Answer(0, "", error=str(error)))
            i += 1

    async def done(count: int) -> bool:
        return len(results) >= count

    async with aiohttp.ClientSession() as session:
        load = [asyncio.create_task(client(session, n)) for n in range(4)]
        await until(lambda: done(20), "some traffic")
        await cluster.redis.stop()
        for instance in cluster.instances:
            health = await cluster.wait_healthy(instance, store="down")
            assert health["status"] == "degraded" and "last_error" in health["store"]
        mark = len(results)
        await until(lambda: done(mark + 20), "traffic while Redis is down")
        await cluster.redis.start()
        for instance in cluster.instances:
            await cluster.wait_healthy(instance, store="up")
        mark = len(results)
        await until(lambda: done(mark + 20), "traffic after Redis returned")
        stop.set()
        await asyncio.gather(*load)
    failed = [a for a in results if a.status != 200 or not a.complete]
    assert failed == []
    assert len(keys_used(cluster.upstream, "out")) == len(results)

    store = RedisStore(cluster.redis.url, prefix=cluster.prefix)
    try:  # what was counted during the outage was replayed: the totals still equal the requests

        async def caught_up() -> bool:
            rows = await store.usage_for_day(today())
            return sum(u.requests for u in rows if u.credential.startswith("out#")) >= len(results)

        await until(caught_up, "the instances to write their usage")
        rows = await store.usage_for_day(today())
    finally:
        await store.close()
    assert sum(u.requests for u in rows if u.credential.startswith("out#")) == len(results)
