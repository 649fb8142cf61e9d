"""Config hot reload through a real gateway: under load, with a stream held open across the swap,
an invalid file refused with its key path, the file watcher, and stored credentials adopted live."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from babelgate import config as config_module
from babelgate.store.sqlite import SqliteStore
from tests.conftest import RunningGateway, start_gateway
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

ADMIN = "admin-key-reload-0123"
CLIENT = "client-key-reload-one"
SECOND_CLIENT = "client-key-reload-two"
DEADLINE = 15.0


def first_config(a: FakeUpstream) -> dict[str, Any]:
    return {
        "server": {"admin_key": ADMIN, "api_keys": [CLIENT]},
        "providers": {"a": {"base_url": f"{a.url}/v1", "api_keys": ["sk-provider-a-000001"], "models": ["gpt-5"]}},
        "aliases": {"fast": "a/gpt-5"},
        "routing": {"max_wait": 0},
    }


def second_config(a: FakeUpstream, b: FakeUpstream) -> dict[str, Any]:
    data = first_config(a)
    data["server"]["api_keys"] = [CLIENT, SECOND_CLIENT]
    data["providers"]["a"]["max_connections"] = 50  # changed: a new upstream object, the old one retired
    data["providers"]["b"] = {"base_url": f"{b.url}/v1", "api_keys": ["sk-provider-b-000002"], "models": ["gpt-5"]}
    data["aliases"] = {"fast": "b/gpt-5", "brand-new": "b/gpt-5"}
    return data


def answering(name: str, held: asyncio.Event | None = None) -> Any:
    """Each upstream says its name; a request saying HOLD streams its first event, then waits for `held`."""

    def reply(record: Received) -> Reply:
        text = str(record.body["messages"][-1]["content"])
        if held is not None and "HOLD" in text:
            events = wire.text_stream("from ", name)
            first, rest = wire.sse(events[:2], done=False), wire.sse(events[2:])
            return Reply(chunks=[first, rest], gate=held, gate_at=1)
        return Reply(json=wire.completion(f"from {name}"))

    return reply


@pytest.fixture
async def second_upstream() -> AsyncIterator[FakeUpstream]:
    fake = await FakeUpstream().start()
    yield fake
    await fake.stop()


async def until(condition: Any, what: str) -> None:
    """Poll `condition()` until it holds, for at most DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def serve_file(path: Path, data: dict[str, Any], store: Any = None) -> RunningGateway:
    path.write_text(yaml.safe_dump(data))
    return await start_gateway(config_module.load(path), store)


async def ask(session: aiohttp.ClientSession, url: str, model: str, key: str = CLIENT, text: str = "hi") -> tuple[int, Any]:
    payload = {"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": text}]}
    async with session.post(f"{url}/v1/messages", json=payload, headers={"x-api-key": key}) as response:
        return response.status, await response.json()


async def reload(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.post(f"{url}/admin/api/reload", headers={"Authorization": f"Bearer {ADMIN}"}) as response:
        return response.status, await response.json()


async def test_hot_reload_under_load_fails_nothing_and_the_next_request_uses_the_new_alias(
    upstream: FakeUpstream, second_upstream: FakeUpstream, tmp_path: Path
) -> None:
    held = asyncio.Event()
    upstream.script = answering("a", held)
    second_upstream.script = answering("b")
    path = tmp_path / "config.yaml"
    gw = await serve_file(path, first_config(upstream))
    stop = asyncio.Event()
    statuses: list[int] = []

    async def load(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            status, _ = await ask(session, gw.url, "fast")
            statuses.append(status)

    try:
        async with aiohttp.ClientSession() as session:
            payload = {"model": "fast", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "HOLD"}]}
            stream = await session.post(f"{gw.url}/v1/messages", json=payload, headers={"x-api-key": CLIENT})
            assert stream.status == 200  # its first event is relayed: in flight on provider a
            old = gw.gateway.current
            loaders = [asyncio.create_task(load(session)) for _ in range(8)]
            await until(lambda: len(statuses) >= 50, "the load to run")
            path.write_text(yaml.safe_dump(second_config(upstream, second_upstream)))
            status, outcome = await reload(session, gw.url)
            assert status == 200, outcome
            assert outcome["status"] == "reloaded"
            assert "providers: +b ~a" in outcome["changes"] and "aliases: +brand-new ~fast" in outcome["changes"]
            assert "server.api_keys: 1 -> 2 keys" in outcome["changes"]
            assert (await ask(session, gw.url, "brand-new"))[1]["content"][0]["text"] == "from b"  # the very next request
            served_before = len(second_upstream.received)
            await until(lambda: len(second_upstream.received) >= served_before + 50, "the load to move to b")
            stop.set()
            await asyncio.gather(*loaders)
            assert gw.gateway.current is not old and old in gw.gateway.retiring  # still serving the held stream
            old_a = old.upstreams["a"]
            held.set()
            body = (await stream.read()).decode()
            assert '"text":"a"' in body  # the held stream finished on provider a, after the swap
            assert "event: message_stop" in body and "error" not in body
            status, reply = await ask(session, gw.url, "fast", key=SECOND_CLIENT)  # the new client key works
            assert status == 200 and reply["content"][0]["text"] == "from b"
        assert statuses and set(statuses) == {200}  # not one request failed during the swap
        await until(lambda: old not in gw.gateway.retiring, "the old generation to retire")
        assert old_a not in gw.gateway.upstreams.values()
        assert old_a._client is None or old_a._client.closed  # type: ignore[attr-defined]  # closed once its stream was done
    finally:
        await gw.stop()


async def test_an_invalid_config_is_refused_with_its_key_path_and_the_old_one_stays(
    upstream: FakeUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="babelgate.reload")
    upstream.script = answering("a")
    path = tmp_path / "config.yaml"
    gw = await serve_file(path, first_config(upstream))
    try:
        broken = first_config(upstream)
        broken["providers"]["a"]["type"] = "carrier-pigeon"
        broken["aliases"] = {"fast": "a/gpt-5", "other": "a/gpt-5"}
        path.write_text(yaml.safe_dump(broken))
        async with aiohttp.ClientSession() as session:
            status, body = await reload(session, gw.url)
            assert status == 422
            message = body["error"]["message"]
            assert "providers.a.type: unknown provider type 'carrier-pigeon'" in message and "running config stays" in message
            assert "providers.a.type" in caplog.text
            assert (await ask(session, gw.url, "fast"))[1]["content"][0]["text"] == "from a"  # the old config serves
            assert (await ask(session, gw.url, "other"))[0] == 400  # the refused alias never arrived
    finally:
        await gw.stop()


async def test_the_watched_file_reloads_by_itself(upstream: FakeUpstream, second_upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.script = answering("a")
    second_upstream.script = answering("b")
    path = tmp_path / "config.yaml"
    gw = await serve_file(path, first_config(upstream))
    try:
        path.write_text(yaml.safe_dump(second_config(upstream, second_upstream)))
        await until(lambda: "brand-new" in gw.gateway.config.aliases, "the watcher to reload")
        async with aiohttp.ClientSession() as session:
            assert (await ask(session, gw.url, "brand-new"))[1]["content"][0]["text"] == "from b"
    finally:
        await gw.stop()


async def test_a_stored_credential_joins_a_running_gateway(upstream: FakeUpstream, tmp_path: Path) -> None:
    """What `babelgate accounts add` writes to the store reaches the gateway at its next sync, and `remove` takes it away."""
    upstream.script = lambda record: Reply(json=wire.completion(f"key {record.headers['authorization'][-6:]}"))
    store_path = str(tmp_path / "state.db")
    data = first_config(upstream)
    data["providers"]["a"]["api_keys"] = []
    data["providers"]["a"]["strategy"] = "fill-first"
    gw = await serve_file(tmp_path / "config.yaml", data, SqliteStore(store_path))
    writer = SqliteStore(store_path)  # another process's view of the same file, as the CLI has
    try:
        await writer.add_credential("a", "added", "sk-added-live-key-77")
        ids = lambda: [c.id for c in gw.gateway.upstreams["a"].credentials]  # noqa: E731
        await until(lambda: "a#added" in ids(), "the stored key to join")
        assert ids() == ["a#added"]
        async with aiohttp.ClientSession() as session:
            assert (await ask(session, gw.url, "fast"))[1]["content"][0]["text"] == "key key-77"
        await writer.remove_credential("a", "added")
        await until(lambda: "a#added" not in ids(), "the removed key to leave")
        assert ids() == ["a#0"]  # keyless again, as configured
    finally:
        await writer.close()
        await gw.stop()


async def test_a_reload_may_not_open_a_reachable_gateway_to_anyone(upstream: FakeUpstream, tmp_path: Path) -> None:
    """As `serve` refuses to start on a non-loopback host without client keys, a reload may not remove them all."""
    upstream.script = answering("a")
    path = tmp_path / "config.yaml"
    reachable = first_config(upstream)
    reachable["server"]["host"] = "0.0.0.0"  # what the file says (the test listens on loopback whatever it says)
    gw = await serve_file(path, reachable)
    try:
        reachable["server"]["api_keys"] = []
        path.write_text(yaml.safe_dump(reachable))
        async with aiohttp.ClientSession() as session:
            status, body = await reload(session, gw.url)
            assert status == 422 and "server.api_keys: removing every client key" in body["error"]["message"]
            assert (await ask(session, gw.url, "fast", key="not-a-key-0000000"))[0] == 401  # keys still enforced
            reachable["server"]["allow_public"] = True
            path.write_text(yaml.safe_dump(reachable))
            assert (await reload(session, gw.url))[0] == 200  # said on purpose
            assert (await ask(session, gw.url, "fast", key="anything-goes-now"))[0] == 200
    finally:
        await gw.stop()
