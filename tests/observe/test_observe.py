"""Explainable routing, metrics, the request log and its capture, prices: through a real gateway."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import GatewayFactory, openai_config
from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply

ADMIN = "admin-key-0123456789"
CLIENT = "client-key-abcdefghij"
UPSTREAM_KEYS = ["sk-first-key-rate-limited", "sk-second-key-working"]


def config(upstream: FakeUpstream, **observe: Any) -> dict[str, Any]:
    data = openai_config(upstream, provider={"api_keys": UPSTREAM_KEYS}, routing={"max_wait": 0})
    data["server"] = {"admin_key": ADMIN, "api_keys": [CLIENT], "metrics_token": "metrics-token-0123"}
    data["observe"] = observe
    return data


def first_key_limited(record: Received) -> Reply:
    if record.headers["authorization"] == f"Bearer {UPSTREAM_KEYS[0]}":
        return wire.error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded", {"Retry-After": "30"})
    if record.body.get("stream"):
        return wire.stream_reply(wire.text_stream("Hel", "lo"))
    return Reply(json=wire.completion("Hello!", prompt=1000, completion_tokens=500))


async def admin_get(url: str, key: str = ADMIN) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url, headers={"Authorization": f"Bearer {key}"}) as response:
        body = await response.read()
        return response.status, body


async def test_every_response_says_its_route_and_request_id(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="babelgate.server")
    upstream.script = first_key_limited
    gw = await gateway_factory(config(upstream))
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=CLIENT, max_retries=0) as sdk:
        raw = await sdk.messages.with_raw_response.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
        assert raw.headers["x-babelgate-route"] == "target=up/gpt-5; credential=up#1; attempts=2"
        rid = raw.headers["x-request-id"]
        assert rid.startswith("req_") and rid in caplog.text
        mine = await sdk.messages.with_raw_response.create(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": "trace-42"}
        )
        assert mine.headers["x-request-id"] == "trace-42"  # the client's own id is kept
        assert mine.headers["x-babelgate-route"] == "target=up/gpt-5; credential=up#1; attempts=1"  # the first key is cooling now
        with pytest.raises(anthropic.BadRequestError) as caught:  # as the gateway contract says: 400, with the models it has
            await sdk.messages.create(model="nobody/serves-this", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    error_body = caught.value.response.json()
    assert error_body["request_id"] == caught.value.response.headers["x-request-id"]


async def test_metrics_count_what_was_served(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = first_key_limited
    gw = await gateway_factory(config(upstream))
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT, max_retries=0) as sdk:
        for _ in range(3):
            await sdk.chat.completions.create(model="opus", messages=[{"role": "user", "content": "hi"}])
        stream = await sdk.chat.completions.create(model="opus", messages=[{"role": "user", "content": "hi"}], stream=True)
        async for _ in stream:
            pass
        with pytest.raises(openai.NotFoundError):
            await sdk.chat.completions.create(model="nobody/serves-this", messages=[{"role": "user", "content": "hi"}])
    status, body = await admin_get(f"{gw.url}/metrics")
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    served = {tuple(sorted(s.labels.items())): s.value for s in families["babelgate_requests"].samples if s.name.endswith("_total")}
    ok = (("dialect", "openai"), ("model", "gpt-5"), ("provider", "up"), ("status", "200"))
    assert served[ok] == 4
    assert sum(served.values()) == 5
    tokens = {s.labels["type"]: s.value for s in families["babelgate_tokens"].samples if s.name.endswith("_total")}
    assert tokens["input"] == 3 * 1000 + 16 and tokens["output"] == 3 * 500 + 7  # the stream's usage chunk: 20 prompt, 4 cached
    assert tokens["cache_read"] == 4
    cost = next(s.value for s in families["babelgate_cost_usd"].samples if s.name.endswith("_total"))
    assert cost == pytest.approx(3 * (1000 * 1.25 + 500 * 10) / 1e6 + (16 * 1.25 + 7 * 10 + 4 * 0.125) / 1e6)
    failures = {s.labels["credential"]: s.value for s in families["babelgate_upstream_failures"].samples if s.name.endswith("_total")}
    assert failures == {"up#0": 1}
    cooling = [s for s in families["babelgate_cooldowns_active"].samples]
    assert [(s.labels["credential"], s.labels["reason"], s.value) for s in cooling] == [("up#0", "rate_limit", 1)]
    ttft = {s.name: s.value for s in families["babelgate_time_to_first_token_seconds"].samples if s.name.endswith("_count")}
    assert sum(ttft.values()) == 1  # one stream
    assert all(key not in body.decode() for key in (*UPSTREAM_KEYS, CLIENT, ADMIN))

    assert (await admin_get(f"{gw.url}/metrics", "metrics-token-0123"))[0] == 200
    assert (await admin_get(f"{gw.url}/admin/api/requests", "metrics-token-0123"))[0] == 401  # the token opens /metrics only
    assert (await admin_get(f"{gw.url}/metrics", CLIENT))[0] == 401


async def test_the_request_log_keeps_the_route_trace_and_captured_bodies_without_secrets(
    upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    upstream.script = first_key_limited
    gw = await gateway_factory(config(upstream, capture="all"))
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=CLIENT, max_retries=0) as sdk:
        words = f"please repeat {UPSTREAM_KEYS[1]} and {CLIENT}"  # secrets a user pasted: never stored
        raw = await sdk.messages.with_raw_response.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": words}])
        async with sdk.messages.stream(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "go"}]) as stream:
            assert await stream.get_final_text() == "Hello"
    await gw.gateway.sync()
    status, body = await admin_get(f"{gw.url}/admin/api/requests?limit=10")
    assert status == 200
    rows = __import__("orjson").loads(body)["requests"]
    assert [r["stream"] for r in rows] == [True, False]  # newest first
    first = rows[1]
    assert first["id"] == raw.headers["x-request-id"] and first["target"] == "up/gpt-5" and first["credential"] == "up#1"
    assert first["dialect"] == "anthropic" and first["model"] == "claude-x" and first["status"] == 200
    assert [(a["credential"], a["status"], a["reason"]) for a in first["attempts"]] == [("up#0", 429, "rate_limit")]
    assert first["input_tokens"] == 1000 and first["cost"] == pytest.approx((1000 * 1.25 + 500 * 10) / 1e6)
    assert rows[0]["ttft_ms"] is not None and rows[0]["ttft_ms"] <= rows[0]["latency_ms"]
    status, body = await admin_get(f"{gw.url}/admin/api/requests/{first['id']}")
    detail = __import__("orjson").loads(body)
    assert "please repeat **** and ****" in detail["request_body"]
    assert '"Hello!"' in detail["response_body"]
    streamed = __import__("orjson").loads((await admin_get(f"{gw.url}/admin/api/requests/{rows[0]['id']}"))[1])
    assert "event: message_stop" in streamed["response_body"]  # what the client received
    filtered = __import__("orjson").loads((await admin_get(f"{gw.url}/admin/api/requests?status=4"))[1])["requests"]
    assert filtered == []
    assert (await admin_get(f"{gw.url}/admin/api/requests", CLIENT))[0] == 401


async def test_capture_errors_keeps_only_failed_bodies_and_off_keeps_none(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    upstream.script = first_key_limited
    for mode, expect_ok, expect_error in (("errors", False, True), ("off", False, False)):
        gw = await gateway_factory(config(upstream, capture=mode))
        async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=CLIENT, max_retries=0) as sdk:
            await sdk.chat.completions.create(model="opus", messages=[{"role": "user", "content": "hi"}])
            with pytest.raises(openai.BadRequestError):
                await sdk.chat.completions.create(model="opus", messages="not a list")  # type: ignore[arg-type]
        await gw.gateway.sync()
        rows = await gw.gateway.store.recent_requests(10, __import__("babelgate.store.base", fromlist=["RequestFilter"]).RequestFilter())
        by_status = {r["status"]: r for r in rows}
        assert by_status[200]["captured"] is expect_ok and by_status[400]["captured"] is expect_error, mode
        assert by_status[400]["error"]


async def test_the_config_is_shown_with_every_secret_redacted(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    data = config(upstream)
    data["providers"]["up"]["base_url"] = f"http://127.0.0.1:{upstream.port}/v1?key=url-key-secret"
    corp = f"http://user:hunter2-password@127.0.0.1:{upstream.port}"
    data["providers"]["corp"] = {"type": "anthropic", "base_url": corp, "models": ["m"]}
    gw = await gateway_factory(data)
    status, body = await admin_get(f"{gw.url}/admin/api/config")
    assert status == 200
    text = body.decode()
    for secret in (*UPSTREAM_KEYS, CLIENT, ADMIN, "hunter2-password", "url-key-secret", "metrics-token-0123"):
        assert secret not in text
    assert f"127.0.0.1:{upstream.port}/v1" in text


def test_capture_off_written_without_quotes_means_off() -> None:
    import yaml

    from babelgate.config import parse

    data = yaml.safe_load("providers: {}\nobserve:\n  capture: off\n")
    assert data["observe"]["capture"] is False  # what YAML makes of it
    assert parse(data).observe.capture == "off"
