"""The wire client (providers/wire.py, wire_pool.py) against a raw HTTP/1.1 server on loopback.

The gateway-level faults (silence, trickle, resets, gzip bombs, malformed SSE, floods) are in
tests/reliability/, through a whole gateway; here are the client's own promises: keep-alive reuse,
a resend when a reused connection had been closed, the cap on connections and its queue, a request
given up closing its connection, backpressure, and step-by-step inflation.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from babelgate.providers.wire import WireError
from babelgate.providers.wire_pool import WireClient

MB = 1024 * 1024
BOUND = 20  # seconds any test may take


@dataclass
class Exchange:
    """What one connection saw: its requests, and whether the client closed it."""

    requests: int = 0
    closed_by_client: asyncio.Event = field(default_factory=asyncio.Event)


Handler = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]  # (request number) -> keep going


@dataclass
class RawServer:
    handler: Handler
    connections: list[Exchange] = field(default_factory=list)
    open: int = 0
    most_open: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/x"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        exchange = Exchange()
        self.connections.append(exchange)
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    exchange.closed_by_client.set()
                    return
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                exchange.requests += 1
                if not await self.handler(exchange.requests, reader, writer):
                    return
        finally:
            self.open -= 1
            writer.close()


def ok(body: bytes = b'{"ok":true}', extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def always_ok(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(ok())
    await writer.drain()
    return True


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[RawServer]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> RawServer:
        raw = RawServer(handler)
        server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
        raw.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return raw

    yield start
    for server in servers:
        server.close()


def client(limit: int = 8) -> WireClient:
    return WireClient(limit, connect_timeout=5, tls=ssl.create_default_context)


async def ask(wire: WireClient, url: str) -> tuple[int, bytes]:
    async with await wire.request("POST", url, {"Content-Type": "application/json"}, b"{}") as response:
        return response.status, await response.read()


async def ask_in_turn(server: RawServer, count: int) -> list[tuple[int, bytes]]:
    """`count` requests one after another through one client."""
    wire = client()
    try:
        async with asyncio.timeout(BOUND):
            return [await ask(wire, server.url) for _ in range(count)]
    finally:
        await wire.close()


async def test_requests_reuse_one_keep_alive_connection(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def mixed(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if number == 2:  # chunked
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        else:
            writer.write(ok(b"plain"))
        await writer.drain()
        return True

    server = await serve(mixed)
    assert await ask_in_turn(server, 3) == [(200, b"plain"), (200, b"hello world"), (200, b"plain")]
    assert len(server.connections) == 1 and server.connections[0].requests == 3


async def test_a_body_delimited_by_the_connections_end_is_read_to_it(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def until_close(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()
        return False

    server = await serve(until_close)
    assert await ask_in_turn(server, 2) == [(200, b"all of it")] * 2
    assert len(server.connections) == 2  # the second on a new connection


async def test_a_reused_connection_closed_by_the_upstream_is_sent_again_on_a_new_one(
    serve: Callable[[Handler], Awaitable[RawServer]],
) -> None:
    async def one_per_connection(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if number > 1:
            return False  # it closed its idle connection: the second request on it gets no answer
        writer.write(ok())
        await writer.drain()
        return True

    server = await serve(one_per_connection)
    assert await ask_in_turn(server, 4) == [(200, b'{"ok":true}')] * 4
    assert all(c.requests <= 2 for c in server.connections)


async def test_a_fresh_connection_that_closes_is_an_error_not_a_resend(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def close_at_once(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        return False

    server = await serve(close_at_once)
    wire = client()
    async with asyncio.timeout(BOUND):
        with pytest.raises(WireError, match="closed the connection without answering"):
            await ask(wire, server.url)
    await wire.close()
    assert len(server.connections) == 1


async def test_connections_are_capped_and_the_rest_wait_their_turn(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    release, both_held = asyncio.Event(), asyncio.Event()
    arrived = 0

    async def held(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both_held.set()
        await release.wait()
        writer.write(ok())
        await writer.drain()
        return True

    server = await serve(held)
    wire = client(limit=2)
    async with asyncio.timeout(BOUND):
        asked = [asyncio.ensure_future(ask(wire, server.url)) for _ in range(6)]
        await both_held.wait()
        release.set()
        answers = await asyncio.gather(*asked)
    await wire.close()
    assert [status for status, _ in answers] == [200] * 6
    assert server.most_open == 2 and len(server.connections) == 2


async def test_a_request_given_up_closes_its_connection_and_frees_its_place(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def silent_first(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if len(server.connections) == 1:
            await reader.read()  # never answers; returns when the client closes
            server.connections[0].closed_by_client.set()
            return False
        return await always_ok(number, reader, writer)

    server = await serve(silent_first)
    wire = client(limit=1)
    async with asyncio.timeout(BOUND):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await ask(wire, server.url)
        await server.connections[0].closed_by_client.wait()
        assert await ask(wire, server.url) == (200, b'{"ok":true}')  # the one place was given back
    await wire.close()


async def test_an_answer_that_is_not_http_or_ends_early_is_a_wire_error(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    async def broken(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if len(server.connections) == 1:
            writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        return False

    server = await serve(broken)
    wire = client()
    async with asyncio.timeout(BOUND):
        with pytest.raises(WireError, match=r"not HTTP/1\.1"):
            await ask(wire, server.url)
        with pytest.raises(WireError, match="in the middle of its answer"):
            await ask(wire, server.url)
    await wire.close()


async def test_a_slow_reader_stops_the_connection_reading(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    size, blocked = 64 * MB, asyncio.Event()
    sent = 0

    async def firehose(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        nonlocal sent
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
        block = b"x" * (256 * 1024)
        while sent < size:
            writer.write(block)
            sent += len(block)
            draining = asyncio.ensure_future(writer.drain())
            await asyncio.sleep(0)
            if not draining.done():
                blocked.set()  # the client's window is full
            await draining
        return True

    server = await serve(firehose)
    wire = client()
    async with asyncio.timeout(BOUND):
        response = await wire.request("POST", server.url, {}, b"{}")
        await blocked.wait()
        held = sent
        read = len(await response.read())
    await wire.close()
    assert held < 24 * MB  # the kernel's buffers and HIGH_WATER, not the 64 MB
    assert read == size


async def test_a_gzip_bomb_inflates_only_as_fast_as_it_is_read(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    bomb = gzip.compress(bytes(256 * MB), compresslevel=9)  # about 250 KB

    async def bomber(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(bomb, "Content-Encoding: gzip\r\n"))
        await writer.drain()
        return True

    server = await serve(bomber)
    wire = client()
    async with asyncio.timeout(BOUND):
        response = await wire.request("POST", server.url, {}, b"{}")
        tracemalloc.start()
        try:
            got = 0
            while got < 4 * MB:
                got += len(await response.content.readany())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        response.close()
    await wire.close()
    assert peak < 4 * MB  # what was read, a step at a time: never the 256 MB


async def test_a_gzip_answer_is_inflated_whole(serve: Callable[[Handler], Awaitable[RawServer]]) -> None:
    text = b"".join(b"line %d of a compressed answer\n" % i for i in range(100_000))

    async def gzipped(number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(gzip.compress(text), "Content-Encoding: gzip\r\n"))
        await writer.drain()
        return True

    server = await serve(gzipped)
    wire = client()
    async with asyncio.timeout(BOUND):
        assert await ask(wire, server.url) == (200, text)
    await wire.close()
