"""Telemetry in: the real Claude Code exports its OTLP metrics, logs and traces to the gateway (JSON and
protobuf), and /admin/api/sessions shows each session's telemetry beside the requests the gateway served."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from babelgate.observe.sessions import MAX_SESSIONS
from tests.conftest import GatewayFactory, RunningGateway, openai_config
from tests.fakes.upstream import FakeUpstream
from tests.support.claude_cli import run_claude
from tests.test_claude_code_cli import FINAL_TEXT, tool_loop

ADMIN = "admin-key-telemetry-01"
CLIENT = "client-key-telemetry-01"


def config(upstream: FakeUpstream) -> dict[str, Any]:
    data = openai_config(upstream)
    data["server"] = {"admin_key": ADMIN, "api_keys": [CLIENT]}
    return data


def telemetry_env(url: str, protocol: str, key: str = CLIENT) -> dict[str, str | None]:
    return {
        "ANTHROPIC_AUTH_TOKEN": key,
        "DISABLE_TELEMETRY": None,
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",  # spans too
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": url,
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {key}",
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "OTEL_LOGS_EXPORT_INTERVAL": "500",
    }


async def sessions(url: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/admin/api/sessions", headers={"Authorization": f"Bearer {ADMIN}"}) as r,
    ):
        assert r.status == 200
        data: dict[str, Any] = await r.json()
        return data


async def run_session(gw: RunningGateway, upstream: FakeUpstream, tmp_path: Path, protocol: str) -> None:
    """One real Claude Code session with a Bash tool call, exporting its telemetry to the gateway."""
    upstream.script = tool_loop
    env = telemetry_env(gw.url, protocol)
    result = await asyncio.to_thread(run_claude, gw.url, "Write hello to out.txt", cwd=tmp_path, extra_env=env, timeout=150)
    assert result.returncode == 0, result.stderr + result.stdout
    assert FINAL_TEXT in result.stdout


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
async def test_claude_code_telemetry_fills_its_session(
    protocol: str, upstream: FakeUpstream, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = await gateway_factory(config(upstream))
    await run_session(gw, upstream, tmp_path, protocol)
    listing = (await sessions(gw.url))["sessions"]
    assert len(listing) == 1
    session = listing[0]
    served = [r for r in gw.gateway.observer.recent if r["client_session"]]
    assert served and {r["client_session"] for r in served} == {session["id"]}  # the header and the telemetry agree
    gateway = session["gateway"]
    assert gateway["requests"] == len(served) and gateway["errors"] == 0
    assert gateway["served"] == {"up/gpt-5": len(served)} and len(served) >= 2  # the tool call, then the answer
    assert session["tools"] == {"Bash": 1} and session["tool_failures"] == 0
    telemetry = session["telemetry"]
    assert telemetry["cost_usd"] > 0 and telemetry["tokens"]["input"] > 0 and telemetry["tokens"]["output"] > 0
    assert telemetry["prompts"] == 1
    assert session["events"]["user_prompt"] == 1 and session["events"]["api_request"] >= 1
    assert session["signals"]["metrics"] > 0 and session["signals"]["logs"] > 0 and session["signals"]["traces"] > 0
    assert "claude_code.llm_request" in session["spans"]
    assert session["client"]["service.version"]
    assert all("out.txt" not in str(event) for event in session["recent"])  # no prompt text or tool input is kept
    assert any(e["event"] == "api_request" and e["cost_usd"] > 0 for e in session["recent"])


async def post(url: str, path: str, body: bytes, content_type: str, key: str | None) -> tuple[int, bytes, str]:
    headers = {"Content-Type": content_type, **({"Authorization": f"Bearer {key}"} if key else {})}
    async with aiohttp.ClientSession() as session, session.post(f"{url}{path}", data=body, headers=headers) as response:
        return response.status, await response.read(), response.headers.get("Content-Type", "")


def metrics_export(*session_ids: str, cumulative: bool = False, value: float = 0.5) -> bytes:
    points = [
        {
            "attributes": [{"key": "session.id", "value": {"stringValue": sid}}, {"key": "model", "value": {"stringValue": "m"}}],
            "asDouble": value,
        }
        for sid in session_ids
    ]
    metric = {"name": "claude_code.cost.usage", "sum": {"aggregationTemporality": 2 if cumulative else 1, "dataPoints": points}}
    return orjson.dumps({"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [metric]}]}]})


async def test_every_export_is_answered_200_and_only_a_client_key_keeps_it(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(upstream))
    assert (await post(gw.url, "/v1/metrics", metrics_export("s-anonymous"), "application/json", None))[:2] == (200, b"{}")
    assert (await post(gw.url, "/v1/logs", b"{not json", "application/json", CLIENT))[0] == 200
    status, body, kind = await post(gw.url, "/v1/traces", b"\xff\x00garbage", "application/x-protobuf", CLIENT)
    assert (status, body, kind) == (200, b"", "application/x-protobuf")
    assert (await sessions(gw.url))["sessions"] == []  # none of those was kept
    assert (await post(gw.url, "/v1/metrics", metrics_export("s-known"), "application/json", CLIENT))[0] == 200
    assert [s["id"] for s in (await sessions(gw.url))["sessions"]] == ["s-known"]


async def test_cumulative_metrics_count_what_grew_and_sessions_are_bounded(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(config(upstream))
    for value in (0.25, 0.75, 1.0):  # a cumulative series: its running total, three times
        await post(gw.url, "/v1/metrics", metrics_export("s-cumulative", cumulative=True, value=value), "application/json", CLIENT)
    kept = (await sessions(gw.url))["sessions"][0]
    assert kept["telemetry"]["cost_usd"] == pytest.approx(1.0)
    ids = [f"s-{n:04d}" for n in range(MAX_SESSIONS + 5)]
    await post(gw.url, "/v1/metrics", metrics_export(*ids), "application/json", CLIENT)
    listing = (await sessions(gw.url))["sessions"]
    assert len(listing) == MAX_SESSIONS
    assert listing[0]["id"] == ids[-1] and "s-cumulative" not in {s["id"] for s in listing}  # the least recent went first
