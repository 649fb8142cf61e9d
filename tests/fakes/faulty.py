"""A loopback upstream that misbehaves on purpose, below HTTP: it writes the bytes it is told to, when it is told to.

`FaultyUpstream` reads each request (head and body) and answers with a `Behaviour`, queued with
`push`, chosen per request by `script`, or `default`: silence, a trickle of a few bytes at a time,
a connection reset, a huge body generated block by block (never held whole), a gzip bomb, exact
raw bytes. It counts what it sent and when the gateway closed its end, so tests can tell that
the gateway gave up on the connection rather than drained it. `overflowing_listener` is a port
whose accept queue is full: a connection to it never completes.

Every behaviour ends when the gateway closes the connection or the server stops; its pacing
sleeps are the fault itself, never a test's wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache

import orjson

BLOCK = 64 * 1024


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ")


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    sent: int = 0  # bytes written to this connection
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # the gateway closed its end

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        self.sent += len(data)
        await self.writer.drain()


Behaviour = Callable[[Connection], Awaitable[None]]


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def silence() -> Behaviour:
    """Accept the request and say nothing, ever."""

    async def act(conn: Connection) -> None:
        await conn.gone.wait()

    return act


def trickle(data: bytes, *, step: int = 5, every: float = 0.02, prefix: bytes = b"") -> Behaviour:
    """Write `prefix`, then `data` over and over, `step` bytes every `every` seconds (5 bytes/s and friends)."""

    async def act(conn: Connection) -> None:
        if prefix:
            await conn.write(prefix)
        position = 0
        while not conn.gone.is_set():
            await conn.write(data[position : position + step])
            position = (position + step) % len(data)
            await asyncio.sleep(every)

    return act


def endless_headers() -> Behaviour:
    """A status line, then headers that never end, a few bytes at a time."""
    return trickle(b"X-Padding: " + b"a" * 64 + b"\r\n", prefix=b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")


def stall_after(data: bytes, status: int = 200, content_type: str = "text/event-stream") -> Behaviour:
    """A good start (`data`, in a chunked body), then silence."""

    async def act(conn: Connection) -> None:
        await conn.write(head(status, {"Content-Type": content_type, "Transfer-Encoding": "chunked"}) + _chunk(data))
        await conn.gone.wait()

    return act


def reset(after: bytes = b"") -> Behaviour:
    """Write `after` (maybe nothing), then reset the connection (RST, not a clean close)."""

    async def act(conn: Connection) -> None:
        if after:
            await conn.write(after)
        sock = conn.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.writer.transport.abort()

    return act


def reset_mid_stream(start: bytes) -> Behaviour:
    """Headers and the start of a stream (chunked), then a reset."""
    return reset(head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}) + _chunk(start))


def answer(status: int, body: bytes, content_type: str = "application/json", extra: dict[str, str] | None = None) -> Behaviour:
    """A complete, well-formed HTTP answer with exactly `body`."""
    return huge(status, lambda: iter([body]), content_type, extra, length=len(body))


def huge(
    status: int,
    blocks: Callable[[], Iterator[bytes]],
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
    length: int | None = None,
) -> Behaviour:
    """A body written block by block as it is generated: with a Content-Length when `length` is given, else chunked."""

    async def act(conn: Connection) -> None:
        headers = {"Content-Type": content_type, "Connection": "close", **(extra or {})}
        headers |= {"Content-Length": str(length)} if length is not None else {"Transfer-Encoding": "chunked"}
        await conn.write(head(status, headers))
        with contextlib.suppress(ConnectionError):
            for block in blocks():
                await conn.write(block if length is not None else _chunk(block))
            if length is None:
                await conn.write(b"0\r\n\r\n")
        conn.writer.close()

    return act


def json_error_blocks(size: int, message: str = "the server had an error") -> Callable[[], Iterator[bytes]]:
    """An OpenAI-shaped error body padded to `size` bytes, generated in blocks."""

    def blocks() -> Iterator[bytes]:
        start = b'{"error": {"message": "' + message.encode() + b'", "type": "server_error", "padding": "'
        yield start
        left = size - len(start) - 4
        while left > 0:
            yield b"x" * min(BLOCK, left)
            left -= BLOCK
        yield b'"}}'

    return blocks


def zeros(size: int) -> Callable[[], Iterator[bytes]]:
    return lambda: (b"0" * min(BLOCK, size - offset) for offset in range(0, size, BLOCK))


@cache
def gzip_bomb(size: int) -> bytes:
    """A gzip body that inflates to `size` bytes of spaces (about a thousandth of it compressed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * BLOCK
    parts = [compressor.compress(block) for _ in range(size // BLOCK)]
    return b"".join(parts) + compressor.flush()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class FaultyUpstream:
    def __init__(self) -> None:
        self.queue: list[Behaviour] = []
        self.script: Callable[[Request], Behaviour] | None = None
        self.default: Behaviour = answer(500, orjson.dumps({"error": {"message": "faulty: nothing scripted", "type": "server_error"}}))
        self.requests: list[Request] = []
        self.connections: list[Connection] = []
        self.open = 0  # connections open now
        self.most_open = 0  # the most open at once
        self.finished = 0  # connections over
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *behaviours: Behaviour) -> None:
        self.queue.extend(behaviours)

    async def start(self) -> FaultyUpstream:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in self.connections:
                conn.gone.set()
                conn.writer.close()
            await self._server.wait_closed()

    async def wait_finished(self, count: int) -> None:
        """Until `count` connections are over (the caller bounds the wait)."""
        while self.finished < count:
            self._changed.clear()
            await self._changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(reader, writer)
        self.connections.append(conn)
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            behaviour = self.queue.pop(0) if self.queue else self.script(request) if self.script else self.default
            watcher = asyncio.ensure_future(_until_closed(conn))
            try:
                await behaviour(conn)
            except ConnectionError:
                conn.gone.set()
            finally:
                watcher.cancel()
        finally:
            self.open -= 1
            writer.close()
            self.finished += 1
            self._changed.set()


async def _until_closed(conn: Connection) -> None:
    """Set `gone` when the other end closes (reads EOF or an error)."""
    with contextlib.suppress(ConnectionError):
        while await conn.reader.read(BLOCK):
            pass
    conn.gone.set()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    first, *lines = raw.decode("latin-1").split("\r\n")
    method, path, _ = first.split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(method, path, headers, body)


@contextlib.asynccontextmanager
async def overflowing_listener() -> AsyncIterator[str]:
    """A base URL whose listening socket never accepts and whose accept queue is full (new connections stall)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(16):  # listen(0) queues one or two; stop at the first that does not connect
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            if filler.connect_ex(("127.0.0.1", port)) not in (0, 115):  # EINPROGRESS
                break
            _, writable, _ = await asyncio.get_running_loop().run_in_executor(None, _writable, filler)
            if not writable:
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _writable(sock: socket.socket) -> tuple[list[socket.socket], list[socket.socket], list[socket.socket]]:
    import select

    return select.select([], [sock], [], 0.3)
