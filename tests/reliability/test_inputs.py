"""Bad input answered clearly: validation naming the field, deep JSON, framework-level HTTP errors
and slow clients, each in the caller's dialect."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from tests.conftest import GatewayFactory, openai_config
from tests.fakes.upstream import FakeUpstream

BABELGATE = str(Path(sys.executable).with_name("babelgate"))
TIMEOUTS = {"server": {"client_timeouts": {"headers": 0.5, "body": 0.5}}}


def nest(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


async def post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()  # stdlib json: orjson writes at most 254 levels
    async with aiohttp.ClientSession() as session, session.post(url, data=data, headers={"Content-Type": "application/json"}) as response:
        return response.status, await response.json(content_type=None)


def user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


CASES = [  # (path, body, the field the error must name)
    ("/v1/messages", {"model": "opus", "max_tokens": -1, "messages": user("hi")}, "max_tokens"),
    ("/v1/messages", {"model": "opus", "max_tokens": 9, "temperature": 1.5, "messages": user("hi")}, "temperature"),
    (
        "/v1/messages",
        {
            "model": "opus",
            "max_tokens": 9,
            "messages": user([{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "no!"}}]),
        },
        "messages.0.content.0.source.data",
    ),
    (
        "/v1/messages",
        {"model": "opus", "max_tokens": 9, "messages": user([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "x"}])},
        "messages.0.content.0.tool_use_id",
    ),
    ("/v1/chat/completions", {"model": "opus", "max_completion_tokens": 0, "messages": user("hi")}, "max_completion_tokens"),
    ("/v1/chat/completions", {"model": "opus", "top_p": 2, "messages": user("hi")}, "top_p"),
    (
        "/v1/chat/completions",
        {"model": "opus", "messages": [*user("hi"), {"role": "tool", "tool_call_id": "call_9", "content": "x"}]},
        "messages.1.tool_call_id",
    ),
    (
        "/v1/chat/completions",
        {"model": "opus", "messages": user([{"type": "image_url", "image_url": {"url": "data:image/png;base64,%%"}}])},
        "messages.0.content.0.image_url.url",
    ),
    ("/v1/responses", {"model": "opus", "input": "hi", "max_output_tokens": -3}, "max_output_tokens"),
    ("/v1/responses", {"model": "opus", "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input.0.call_id"),
    ("/v1beta/models/opus:generateContent", {"contents": user("x"), "generationConfig": {"maxOutputTokens": -1}}, "maxOutputTokens"),
    (
        "/v1beta/models/opus:generateContent",
        {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "*"}}]}]},
        "contents.0.parts.0.inlineData.data",
    ),
    (
        "/v1beta/models/opus:generateContent",
        {"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
        "contents.0.parts.0.functionResponse",
    ),
]


@pytest.mark.parametrize(("path", "body", "named"), CASES)
async def test_invalid_values_are_refused_naming_the_field(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str, body: dict[str, Any], named: str
) -> None:
    # session_recovery (on by default) turns an orphaned tool result into text; without it, a 400.
    gw = await gateway_factory(openai_config(upstream, addons={"session_recovery": False}))
    status, answer = await post(gw.url + path, body)
    assert status == 400
    message = answer["error"]["message"]
    assert named in message
    if path.startswith("/v1/messages"):
        assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    elif path.startswith("/v1beta"):
        assert answer["error"]["status"] == "INVALID_ARGUMENT" and answer["error"]["code"] == 400
    else:
        assert answer["error"]["param"] == named
    assert upstream.received == []  # refused before anything was sent


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/messages", {"model": "opus", "max_tokens": 9, "messages": user("hi"), "tools": [{"name": "t", "input_schema": nest(126)}]}),
        ("/v1beta/models/opus:generateContent", {"contents": user("x"), "generationConfig": {"responseSchema": nest(126)}}),
        ("/v1/chat/completions", b'{"model": "opus", "messages": [], "metadata": ' + b"[" * 1100 + b"]" * 1100 + b"}"),
    ],
)
async def test_deep_json_is_a_clear_400(upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str, body: Any) -> None:
    gw = await gateway_factory(openai_config(upstream))
    status, answer = await post(gw.url + path, body)
    assert status == 400 and "deeper than 200 levels" in answer["error"]["message"]
    assert upstream.received == []


async def raw_exchange(url: str, request: bytes, *, then: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes, read the whole answer (the gateway closes the connection); every wait bounded."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, orjson.loads(body)


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/messages", "anthropic"), ("/v1/chat/completions", "openai"), ("/v1beta/models/m:generateContent", "gemini")],
)
async def test_framework_errors_speak_the_callers_dialect(
    upstream: FakeUpstream, gateway_factory: GatewayFactory, path: str, shape: str
) -> None:
    gw = await gateway_factory({**openai_config(upstream), **TIMEOUTS})
    long_line = f"POST {path}?q={'x' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    long_header = f"POST {path} HTTP/1.1\r\nHost: x\r\nX-Big: {'y' * 9000}\r\n\r\n".encode()
    bad_chunks = f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n".encode()
    slow_head = f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode()  # never finished
    slow_body = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{".encode()
    for request, status in ((long_line, 400), (long_header, 400), (bad_chunks, 400), (slow_head, 408), (slow_body, 408)):
        got, headers, body = await raw_exchange(gw.url, request)
        assert got == status and headers["content-type"].startswith("application/json")
        if shape == "anthropic":
            assert body["type"] == "error" and isinstance(body["error"]["message"], str)
        elif shape == "openai":
            assert set(body) == {"error"} and isinstance(body["error"]["message"], str) and "type" in body["error"]
        else:
            assert body["error"]["code"] == status and body["error"]["status"] in ("INVALID_ARGUMENT", "DEADLINE_EXCEEDED")
        message = body["error"]["message"]
        assert "Traceback" not in message
        if status == 408:
            assert "client_timeouts" in message
    assert upstream.received == []


async def test_an_idle_keep_alive_connection_is_not_cut(upstream: FakeUpstream, gateway_factory: GatewayFactory) -> None:
    """The head deadline runs only while a head is arriving, never on an idle connection between requests."""
    gw = await gateway_factory({**openai_config(upstream), **TIMEOUTS})
    host, port = gw.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        with pytest.raises(TimeoutError):  # no 408 and no close arrives, well past the 0.5 s head deadline
            await asyncio.wait_for(reader.readuntil(b"HTTP/1.1 408"), 2)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection still serves
        assert b"200" in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("case", ["port_in_use", "store_is_directory", "not_utf8", "unresolvable_host", "strategy"])
async def test_start_up_failures_are_one_line(tmp_path: Path, case: str) -> None:
    """`babelgate serve` (and `check-config`) exit 2 with one line naming the key, never a traceback or "listening on"."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    config: dict[str, Any] = {"store": {"type": "memory"}, "server": {"port": busy.getsockname()[1] if case == "port_in_use" else 0}}
    if case == "store_is_directory":
        config["store"] = {"path": str(tmp_path)}
    if case == "unresolvable_host":
        config["server"]["host"] = "no-such-host.invalid"
        config["server"]["api_keys"] = ["client-key-123456"]
    if case == "strategy":
        config["routing"] = {"strategy": "fastest"}
    path = tmp_path / "config.yaml"
    path.write_bytes(b"server: {port: 0}\n# caf\xe9\n" if case == "not_utf8" else yaml.safe_dump(config).encode())
    command = ["check-config", str(path)] if case in ("not_utf8", "strategy") else ["serve", "-c", str(path)]
    try:
        done = subprocess.run(
            [BABELGATE, *command], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        )
    finally:
        busy.close()
    output = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in output and "listening on" not in output, output
    expected = {
        "port_in_use": "server.port",
        "store_is_directory": "store.path",
        "not_utf8": "not UTF-8",
        "unresolvable_host": "server.host",
    }
    assert expected.get(case, "routing.strategy") in output
