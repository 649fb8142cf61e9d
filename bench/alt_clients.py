"""The upstream clients the alternative relays can use (bench/alternatives.py), one interface:
`whole(body)` → (status, the answer's bytes, read to MAX_ANSWER), `stream(body)` → (status, its chunks)
as they arrive; leaving `stream` early (the client went away) closes that connection, a finished
exchange goes back to the keep-alive pool.

- `aiohttp`: one ClientSession, as providers/http.py has (TCPConnector, sock_connect timeout, auto_decompress);
- `pyreqwest`: the Rust reqwest client (hyper, rustls), its own tokio thread; a stream is read one HTTP
  chunk at a time (`read_chunk`; `read(n)` waits for n bytes), with the read-ahead buffer off;
- `raw`: an asyncio Protocol per connection with httptools' response parser, a LIFO pool of idle
  connections, the request head pre-encoded: plain HTTP only (no TLS, proxy or decompression).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from bench.alt_job import CHAT_PATH, CONNECT_TIMEOUT, MAX_ANSWER, UPSTREAM_HEADERS, TooLarge

MAX_CONNECTIONS = 100
Chunks = tuple[int, AsyncIterator[bytes]]


class Client(Protocol):
    async def whole(self, body: bytes) -> tuple[int, bytes]: ...

    def stream(self, body: bytes) -> AbstractAsyncContextManager[Chunks]: ...

    async def close(self) -> None: ...


def _grow(size: int, more: int) -> int:
    size += more
    if size > MAX_ANSWER:
        raise TooLarge("an answer over max_response_mb")
    return size


class AiohttpClient:
    def __init__(self, base: str) -> None:
        import aiohttp

        self.url = base + CHAT_PATH
        connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ttl_dns_cache=300, enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
        self.session = aiohttp.ClientSession(timeout=timeout, connector=connector, auto_decompress=True)

    async def whole(self, body: bytes) -> tuple[int, bytes]:
        async with self.session.post(self.url, data=body, headers=UPSTREAM_HEADERS) as response:
            chunks: list[bytes] = []
            size = 0
            while chunk := await response.content.readany():
                size = _grow(size, len(chunk))
                chunks.append(chunk)
            return response.status, b"".join(chunks)

    @asynccontextmanager
    async def stream(self, body: bytes) -> AsyncIterator[Chunks]:
        async with self.session.post(self.url, data=body, headers=UPSTREAM_HEADERS) as response:
            yield response.status, response.content.iter_any()

    async def close(self) -> None:
        await self.session.close()


class PyreqwestClient:
    def __init__(self, base: str) -> None:
        from pyreqwest.client import ClientBuilder

        self.url = base + CHAT_PATH
        builder = ClientBuilder().connect_timeout(timedelta(seconds=CONNECT_TIMEOUT)).max_connections(MAX_CONNECTIONS)
        self.client = builder.follow_redirects(False).tcp_nodelay(True).build()

    async def whole(self, body: bytes) -> tuple[int, bytes]:
        request = self.client.post(self.url).headers(UPSTREAM_HEADERS).body_bytes(body).build_streamed()
        async with request as response:
            reader = response.body_reader
            chunks: list[bytes] = []
            size = 0
            while (chunk := await reader.read_chunk()) is not None:
                size = _grow(size, len(chunk))
                chunks.append(bytes(chunk))
            return response.status, b"".join(chunks)

    @asynccontextmanager
    async def stream(self, body: bytes) -> AsyncIterator[Chunks]:
        # Its default read-ahead (64 KB) holds the response back until that much arrived or the body
        # ended: a short stream would reach the client whole at its end. 0 hands over each chunk.
        request = self.client.post(self.url).headers(UPSTREAM_HEADERS).body_bytes(body).streamed_read_buffer_limit(0).build_streamed()
        async with request as response:
            reader = response.body_reader

            async def chunks() -> AsyncIterator[bytes]:
                while (chunk := await reader.read_chunk()) is not None:
                    yield bytes(chunk)

            yield response.status, chunks()

    async def close(self) -> None:
        await self.client.close()


HIGH_WATER = 1024 * 1024  # buffered answer bytes above which the connection stops reading (backpressure)


class _Connection(asyncio.Protocol):
    """One upstream connection: httptools parses the answers, which queue here until read."""

    def __init__(self) -> None:
        import httptools

        self.parser = httptools.HttpResponseParser(self)
        self.error = httptools.HttpParserError
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.status = 0
        self.keep_alive = False
        self.complete = False
        self.closed: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except self.error as error:
            self.closed = error
            assert self.transport is not None
            self.transport.close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = exc or ConnectionResetError("the upstream closed the connection")
        self._wake()

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # read here: once the message ends the parser has reset

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        self.complete = True

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def _wait(self) -> None:
        if self.closed is not None:
            raise ConnectionError(f"upstream connection lost: {self.closed!r}")
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter

    def send(self, data: bytes) -> None:
        self.chunks.clear()
        self.buffered, self.status, self.complete = 0, 0, False
        assert self.transport is not None
        self.transport.write(data)

    async def head(self) -> int:
        while not self.status and not self.complete:
            await self._wait()
        return self.status

    async def next_chunk(self) -> bytes | None:
        while not self.chunks:
            if self.complete:
                return None
            await self._wait()
        chunk = self.chunks.popleft() if len(self.chunks) == 1 else b"".join(self.chunks)  # all that arrived, as iter_any
        self.chunks.clear()
        self.buffered = 0
        if self.transport is not None and not self.transport.is_reading():
            self.transport.resume_reading()
        return chunk

    def reusable(self) -> bool:
        return self.complete and self.closed is None and self.keep_alive


class RawPool:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError("the raw pool speaks plain http only")
        self.host, self.port = parts.hostname, parts.port or 80
        head = [f"POST {CHAT_PATH} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in UPSTREAM_HEADERS.items())]
        self.head = ("\r\n".join(head) + "\r\nContent-Length: ").encode()
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(MAX_CONNECTIONS)

    async def _connect(self) -> _Connection:
        while self.idle:
            connection = self.idle.pop()
            if connection.closed is None:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(loop.create_connection(_Connection, self.host, self.port), CONNECT_TIMEOUT)
        return connection

    @asynccontextmanager
    async def _exchange(self, body: bytes) -> AsyncIterator[_Connection]:
        async with self.slots:
            connection = await self._connect()
            try:
                connection.send(self.head + b"%d\r\n\r\n" % len(body) + body)
                yield connection
            finally:
                if connection.reusable():
                    self.idle.append(connection)
                elif connection.transport is not None:
                    connection.transport.close()  # unread or broken: never handed to the next request

    async def whole(self, body: bytes) -> tuple[int, bytes]:
        async with self._exchange(body) as connection:
            status = await connection.head()
            chunks: list[bytes] = []
            size = 0
            while (chunk := await connection.next_chunk()) is not None:
                size = _grow(size, len(chunk))
                chunks.append(chunk)
            return status, b"".join(chunks)

    @asynccontextmanager
    async def stream(self, body: bytes) -> AsyncIterator[Chunks]:
        async with self._exchange(body) as connection:

            async def chunks() -> AsyncIterator[bytes]:
                while (chunk := await connection.next_chunk()) is not None:
                    yield chunk

            yield await connection.head(), chunks()

    async def close(self) -> None:
        for connection in self.idle:
            if connection.transport is not None:
                with contextlib.suppress(RuntimeError):
                    connection.transport.close()
        self.idle.clear()


CLIENTS: dict[str, type[AiohttpClient] | type[PyreqwestClient] | type[RawPool]] = {
    "aiohttp": AiohttpClient,
    "pyreqwest": PyreqwestClient,
    "raw": RawPool,
}


def make(name: str, base: str) -> Client:
    return CLIENTS[name](base)
