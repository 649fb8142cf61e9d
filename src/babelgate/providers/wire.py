"""One upstream connection of the wire client (providers/wire_pool.py): an asyncio Protocol whose
answers httptools parses, and the answer it hands over.

Why not aiohttp's client: a bare relay spends 520 µs a request with aiohttp's client and 257 with
this design, measured side by side (`python -m bench.alternatives`, docs/BENCHMARKS.md). Every
promise aiohttp's client kept is kept here:

- the body is read as it arrives (`Body.readany`, or `read_nowait` for what is already here), and
  a connection stops reading while more than HIGH_WATER bytes wait for the reader (backpressure);
- gzip and deflate answers are inflated INFLATE_STEP bytes at a time, only while the reader keeps
  up, so a gzip bomb never inflates beyond HIGH_WATER ahead of the limits the reader keeps
  (`max_response_mb`, `max_event_mb`);
- an answer that is not HTTP, or a connection that closes mid-answer, is a `WireError` on the
  reader's next read; a body delimited by the connection's end ends with it.

A connection goes back to its pool the moment its answer is complete (what the reader has not read
yet is held by the `Body`); an answer given up before its end closes the connection.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy

if TYPE_CHECKING:
    from babelgate.providers.wire_pool import Pool

HIGH_WATER = 256 * 1024  # body bytes waiting for the reader above which the connection stops reading
INFLATE_STEP = 64 * 1024  # bytes of inflated output produced at a time
DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": 32 + zlib.MAX_WBITS}
ACCEPT_ENCODING = "gzip, deflate"


class WireError(ConnectionError):
    """The upstream connection failed: refused, reset, closed mid-answer, or an answer that is not HTTP."""


class ConnectTimeout(WireError):
    """No connection within `timeouts.connect`."""


class Body:
    """An answer's body as it arrives: `readany` waits for what came, `read_nowait` takes it without waiting."""

    def __init__(self, connection: Connection, encoding: str | None) -> None:
        self._connection = connection
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._eof = False  # the whole body is in `_chunks` (or was read)
        self._ended = False  # the upstream's message is complete (the inflater may still hold some)
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._backlog = b""  # compressed bytes not inflated yet
        self._inflater: Any = None
        if encoding and encoding.lower() != "identity":
            wbits = DECODERS.get(encoding.lower())
            if wbits is None:
                self._error = WireError(f"the upstream answered in an encoding babelgate did not ask for ({encoding})")
            else:
                self._inflater = zlib.decompressobj(wbits)

    # Fed by the connection.

    def feed(self, data: bytes) -> None:
        if self._inflater is None:
            self._chunks.append(data)
            self._size += len(data)
        else:
            self._backlog = self._backlog + data if self._backlog else data
            self._inflate()
        if self._size > HIGH_WATER or self._backlog:
            self._connection.pause()
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._inflate()
        self._wake()

    def fail(self, error: BaseException) -> None:
        if not self._eof:
            self._error = error
            self._wake()

    # Read by the upstream's reader.

    def at_eof(self) -> bool:
        return self._eof and not self._chunks

    def read_nowait(self) -> bytes:
        """What has arrived and not been read (b"" when nothing has, or at the end)."""
        if self._error is not None:
            raise self._error
        if not self._chunks:
            return b""
        data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        if self._backlog:
            self._inflate()
        if self._size <= HIGH_WATER and not self._backlog:
            self._connection.resume()
        return data

    async def readany(self) -> bytes:
        """What has arrived, waiting for some when nothing has; b"" at the end."""
        while not self._chunks and not self._eof and self._error is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.read_nowait()

    async def read(self) -> bytes:
        parts = []
        while chunk := await self.readany():
            parts.append(chunk)
        return b"".join(parts)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _inflate(self) -> None:
        """Inflate the backlog while the reader keeps up; at the message's end, the rest."""
        inflater = self._inflater
        if inflater is None:
            self._eof = self._ended
            return
        try:
            while self._backlog and self._size <= HIGH_WATER:
                out = inflater.decompress(self._backlog, INFLATE_STEP)
                self._backlog = inflater.unconsumed_tail
                if out:
                    self._chunks.append(out)
                    self._size += len(out)
                elif not self._backlog or inflater.eof:
                    self._backlog = b""
            if self._ended and not self._backlog:
                if tail := inflater.flush():
                    self._chunks.append(tail)
                    self._size += len(tail)
                self._eof = True
        except zlib.error as error:
            self._error = WireError(f"the upstream sent a body that does not decompress: {error}")
            self._connection.close()


class Response:
    """An upstream's answer: status, headers and the `Body`; `close()` gives up what is left of it."""

    def __init__(self, status: int, headers: CIMultiDictProxy[str], content: Body, connection: Connection) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self._connection = connection

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    def close(self) -> None:
        """Done with the answer: a connection still carrying it is closed, a finished one is already back in its pool."""
        if self._connection.answer is self:
            self._connection.close()

    release = close

    async def read(self) -> bytes:
        return await self.content.read()

    async def text(self) -> str:
        return (await self.read()).decode("utf-8", "replace")

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, parses its answer, then offers itself to the pool again."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.answer: Response | None = None  # the answer being received
        self.head: asyncio.Future[Response] | None = None  # resolved when the answer's headers are in
        self.closed = False
        self.reused = False  # came from the pool's idle connections (the upstream may have closed it meanwhile)
        self.received = False  # any byte of the current answer
        self.idle_since = 0.0
        self._paused = False
        self._keep_alive = False
        self._headers: list[tuple[str, str]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self.head = asyncio.get_running_loop().create_future()
        self.received = False
        self._headers = []
        self.transport.write(data)
        return self.head

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    # asyncio's callbacks

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(WireError(f"the upstream sent an answer that is not HTTP/1.1 ({error})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self.answer
        if answer is not None and _ends_with_connection(answer.headers) and exc is None:
            answer.content.end()  # a body without a length runs to the connection's end
            self.answer = None
        else:
            detail = f": {exc}" if exc else ""
            midway = "in the middle of its answer" if self.received else "without answering"
            self._fail(WireError(f"the upstream closed the connection {midway}{detail}"))
        self.pool.lost(self)

    # httptools' callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an informational answer (100 Continue): the real one follows
            self._headers = []
            return
        self._keep_alive = self.parser.should_keep_alive()
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        self.answer = Response(status, headers, Body(self, headers.get("Content-Encoding")), self)
        if self.head is not None and not self.head.done():
            self.head.set_result(self.answer)

    def on_body(self, body: bytes) -> None:
        if self.answer is not None:
            self.answer.content.feed(body)

    def on_message_complete(self) -> None:
        answer = self.answer
        if answer is None:  # the end of an informational answer
            return
        self.answer = None
        answer.content.end()
        if self._keep_alive and not self.closed:
            self.pool.idle(self)
        else:
            self.close()

    def _fail(self, error: WireError) -> None:
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
        if self.answer is not None:
            self.answer.content.fail(error)
            self.answer = None


def _ends_with_connection(headers: CIMultiDictProxy[str]) -> bool:
    """Is this answer's body delimited by the connection's end (neither a length nor chunks)?"""
    return "Content-Length" not in headers and "chunked" not in headers.get("Transfer-Encoding", "").lower()
