"""`babelgate serve --workers 2 --log-format json` as a real process: /metrics (parsed with prometheus-client's
own parser) counts every request either worker answered, and every log line is a JSON object without a secret."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import openai_wire as wire
from tests.fakes.upstream import FakeUpstream, Received, Reply
from tests.support.processes import free_port
from tests.test_serve_cli import base_env, serving

ADMIN = "admin-key-workers-metrics"
CLIENT = "client-key-workers-metrics"
GOOD_KEY = "sk-workers-good-key-123456"
BAD_KEY = "sk-workers-revoked-key-654321"
BANNER = ("babelgate listening on", "Point Claude Code at it with:", "  ANTHROPIC_BASE_URL=")


def answer(record: Received) -> Reply:
    if record.headers["authorization"] == f"Bearer {BAD_KEY}":  # as OpenAI does, the key is echoed in the error
        return wire.error(401, f"Incorrect API key provided: {BAD_KEY}.", "invalid_request_error", "invalid_api_key")
    if record.body.get("stream"):
        return wire.stream_reply(wire.text_stream("stre", "amed"))
    return Reply(json=wire.completion("counted", prompt=100, completion_tokens=10))


def config(upstream: FakeUpstream, tmp_path: Path, port: int) -> dict[str, Any]:
    key = {"base_url": f"{upstream.url}/v1", "models": ["gpt-5"], "strategy": "fill-first"}
    return {
        "server": {"port": port, "admin_key": ADMIN, "api_keys": [CLIENT]},
        "providers": {"up": {**key, "api_keys": [{"key": BAD_KEY, "priority": 1}, GOOD_KEY]}},
        "aliases": {"claude-*": "up/gpt-5"},
        "routing": {"max_wait": 0},
        "store": {"path": str(tmp_path / "state.db")},
    }


async def send(session: aiohttp.ClientSession, url: str, model: str, stream: bool = False) -> int:
    payload = {"model": model, "max_tokens": 10, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    async with session.post(f"{url}/v1/messages", json=payload, headers={"x-api-key": CLIENT}) as response:
        await response.read()
        return response.status


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(f"{url}/metrics", headers={"Authorization": f"Bearer {ADMIN}"}) as response:
        assert response.status == 200
        return {family.name: family for family in text_string_to_metric_families(await response.text())}


def total(families: dict[str, Any], name: str, **labels: str) -> float:
    samples = [s for s in families[name].samples if s.name == f"{name}_total"]
    return sum(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


async def test_metrics_count_every_workers_requests_and_json_logs_hold_no_secret(upstream: FakeUpstream, tmp_path: Path) -> None:
    upstream.script = answer
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config(upstream, tmp_path, port)))
    args = ("--config", str(path), "--workers", "2", "--log-format", "json")
    async with serving(*args, env=base_env(tmp_path), port=port) as (process, lines), aiohttp.ClientSession() as session:
        plain = await asyncio.gather(*(send(session, url, "claude-sonnet-5-5") for _ in range(40)))
        streamed = await asyncio.gather(*(send(session, url, "claude-sonnet-5-5", stream=True) for _ in range(10)))
        refused = await asyncio.gather(*(send(session, url, "nobody/serves-this") for _ in range(3)))
        assert set(plain) == set(streamed) == {200} and set(refused) == {400}
        workers = {p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == process.pid}
        scrapes = [await scrape(session, url) for _ in range(6)]  # answered by either worker
    assert len(workers) >= 2
    bad = len([r for r in upstream.received if r.headers["authorization"] == f"Bearer {BAD_KEY}"])
    assert bad >= 1
    for families in scrapes:
        assert total(families, "babelgate_requests") == 53
        assert total(families, "babelgate_requests", status="200", provider="up", model="gpt-5") == 50
        assert total(families, "babelgate_requests", status="400") == 3
        failures = families["babelgate_upstream_failures"].samples
        assert total(families, "babelgate_upstream_failures", credential="up#0") == bad, failures  # each one the upstream saw
        assert total(families, "babelgate_tokens", type="input", provider="up") == 40 * 100 + 10 * (20 - 4)  # streams: 4 of 20 cached
        durations = families["babelgate_request_duration_seconds"]
        assert [s.value for s in durations.samples if s.name.endswith("_count") and s.labels["provider"] == "up"] == [50]
    output = "\n".join(lines)
    assert all(secret not in output for secret in (ADMIN, CLIENT, GOOD_KEY, BAD_KEY))
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert all(line.startswith(BANNER) for line in lines if not line.startswith("{"))  # the rest is JSON, line by line
    assert {"ts", "level", "logger", "message"} <= entries[0].keys()
    served = [e for e in entries if e["logger"] == "babelgate.server" and e["message"].startswith("POST /v1/messages")]
    assert len(served) == 53
    assert any("invalid_api_key" in e["message"] or "Incorrect API key" in e["message"] for e in entries)  # logged, key redacted


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1
