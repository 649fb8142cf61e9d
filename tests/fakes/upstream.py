"""A real loopback HTTP server standing in for a provider, with scripted replies and faults.

Tests queue `Reply` objects (JSON bodies, SSE streams split into arbitrary chunks,
error statuses with headers, dropped connections) and read back every request received.
The bodies follow each provider's documented wire format; the builders in
tests/fakes/openai_wire.py and friends produce them.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.serving import serve_loopback


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    chunks: list[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None  # close the connection after this many chunks
    gate: asyncio.Event | None = None  # wait for it before chunk number `gate_at` (or before a JSON reply)
    gate_at: int = 0


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    path_qs: str = ""  # the path with its query string, as sent
    header_pairs: list[tuple[str, str]] = field(default_factory=list)  # in order, with the client's own spelling
    peer: Any = None  # the connection's far end (host, port): one per connection


Script = Callable[[Received], Reply]


class FakeUpstream:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.cancelled = 0  # requests whose connection the gateway dropped mid-reply
        self.queue: list[Reply] = []
        self.script: Script | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.ssl_context: ssl.SSLContext | None = None  # set before start() to serve HTTPS

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def push(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    async def start(self) -> FakeUpstream:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner, self.port = await serve_loopback(app, self.ssl_context, handler_cancellation=True)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in request.headers.items()}
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        peer = request.transport.get_extra_info("peername") if request.transport else None
        record = Received(request.method, request.path, dict(request.query), headers, body, request.path_qs, pairs, peer)
        self.received.append(record)
        if self.script is not None:
            reply = self.script(record)
        elif self.queue:
            reply = self.queue.pop(0)
        else:
            reply = Reply(500, {"error": {"message": "fake upstream: no scripted reply left", "type": "server_error"}})
        try:
            return await self._reply(request, reply)
        except (asyncio.CancelledError, ConnectionResetError):
            self.cancelled += 1
            raise

    async def _reply(self, request: web.Request, reply: Reply) -> web.StreamResponse:
        if reply.gate is not None and reply.chunks is None:
            await reply.gate.wait()
        if reply.chunks is None:
            return web.Response(status=reply.status, body=orjson.dumps(reply.json), content_type="application/json", headers=reply.headers)
        response = web.StreamResponse(status=reply.status, headers={"Content-Type": "text/event-stream", **reply.headers})
        await response.prepare(request)
        for sent, chunk in enumerate(reply.chunks):
            if reply.gate is not None and sent == reply.gate_at:
                await reply.gate.wait()
            if reply.drop_after is not None and sent >= reply.drop_after:
                assert request.transport is not None
                request.transport.close()
                return response
            await response.write(chunk)
        await response.write_eof()
        return response
