"""The wire client: a provider's keep-alive connections, pooled per origin, and the requests sent on them.

`WireClient.request(method, url, headers, body)` returns the answer (providers/wire.py) once its
headers are in. Per origin (scheme, host and port) at most `limit` connections are open; a request
that finds them all busy waits its turn (first come, first served) and is noted as queued, so a
timeout there names `max_connections` (`queued_in_vain`; aiohttp's client behind a proxy notes the same). Idle connections are reused
newest first and closed once idle for KEEPALIVE_SECONDS. A reused connection the upstream had
closed meanwhile fails before a byte of answer: the request is sent once more, on a new connection.
A request given up before its answer (a timeout, the client gone) closes its connection.

The request line and Host header of a URL are encoded once and remembered (a provider has a few URLs).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import unquote, urlsplit

from babelgate import __version__
from babelgate.providers.wire import ACCEPT_ENCODING, Connection, ConnectTimeout, Response, WireError

KEEPALIVE_SECONDS = 15.0  # an idle connection older than this is closed, not reused (upstreams close theirs after 5-60 s)
MAX_TARGETS = 1024  # URLs whose encoded request line is remembered
DEFAULT_HEADERS = {"user-agent": f"User-Agent: babelgate/{__version__}\r\n", "accept-encoding": f"Accept-Encoding: {ACCEPT_ENCODING}\r\n"}

_connection: ContextVar[str] = ContextVar("connection", default="")  # "", "queued" (all busy when asked), "got"


def sending() -> None:
    """A request of this task is about to ask its client for a connection."""
    _connection.set("")


def note_queued() -> None:
    _connection.set("queued")


def note_connected() -> None:
    _connection.set("got")


def queued_in_vain() -> bool:
    """Did this task's request queue for a connection, all `max_connections` being busy, and never get one?"""
    return _connection.get() == "queued"


class Pool:
    """The connections to one origin."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, limit: int, connect_timeout: float) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.limit = limit
        self.connect_timeout = connect_timeout
        self._idle: list[Connection] = []
        self._open: set[Connection] = set()  # connections counted against the limit
        self._connecting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def send(self, data: bytes) -> Response:
        connection = await self._acquire(reuse=True)
        try:
            return await self._exchange(connection, data)
        except WireError:
            if not connection.reused or connection.received:
                raise
        return await self._exchange(await self._acquire(reuse=False), data)  # the idle connection had been closed

    async def _exchange(self, connection: Connection, data: bytes) -> Response:
        try:
            return await connection.send(data)
        except BaseException:
            connection.close()  # no answer yet: nobody will read this connection's
            raise

    async def _acquire(self, reuse: bool) -> Connection:
        loop = asyncio.get_running_loop()
        while True:
            while reuse and self._idle:
                connection = self._idle.pop()
                if not connection.closed and loop.time() - connection.idle_since < KEEPALIVE_SECONDS:
                    connection.reused = True
                    note_connected()
                    return connection
                self._discard(connection)
                connection.close()
            if len(self._open) + self._connecting < self.limit:
                break
            await self._wait_turn(loop)
        self._connecting += 1
        try:
            connection = await self._connect(loop)
        finally:
            self._connecting -= 1
        self._open.add(connection)
        note_connected()
        return connection

    async def _wait_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        note_queued()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._wake()  # the turn it was given goes to the next in line
            raise

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: Connection(self), self.host, self.port, ssl=self.tls, server_hostname=self.host if self.tls else None
                )
        except TimeoutError:
            self._wake()
            raise ConnectTimeout(f"could not connect within {self.connect_timeout:g} s") from None
        except OSError as error:
            self._wake()
            raise WireError(f"could not connect to {self.host}:{self.port}: {error.strerror or error}") from None
        except BaseException:
            self._wake()
            raise
        return connection

    # Told by the connections.

    def idle(self, connection: Connection) -> None:
        connection.idle_since = asyncio.get_running_loop().time()
        connection.reused = False
        self._idle.append(connection)
        self._wake()

    def lost(self, connection: Connection) -> None:
        if connection in self._idle:
            self._idle.remove(connection)
        self._discard(connection)

    def _discard(self, connection: Connection) -> None:
        if connection in self._open:
            self._open.discard(connection)
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()


class WireClient:
    """A provider's upstream client: one `Pool` per origin its URLs name. `tls` gives the TLS context,
    asked for when an https:// origin is first met (the system's is shared by every provider)."""

    def __init__(self, limit: int, connect_timeout: float, tls: Callable[[], ssl.SSLContext]) -> None:
        self.limit, self.connect_timeout, self.tls = limit, connect_timeout, tls
        self.closed = False
        self._pools: dict[tuple[str, str, int], Pool] = {}
        self._targets: dict[tuple[str, str], tuple[Pool, bytes, dict[str, str]]] = {}

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> Response:
        pool, head, defaults = self._targets.get((method, url)) or self._target(method, url)
        lines = [f"{name}: {value}\r\n" for name, value in headers.items()]
        present = {name.lower() for name in headers}
        lines += [line for name, line in defaults.items() if name not in present]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}\r\n")
        data = head + "".join(lines).encode() + b"\r\n"
        return await pool.send(data + body if body else data)

    def _target(self, method: str, url: str) -> tuple[Pool, bytes, dict[str, str]]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WireError(f"not an http:// or https:// URL: {url}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        key = (parts.scheme, parts.hostname, port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Pool(parts.hostname, port, self.tls() if tls else None, self.limit, self.connect_timeout)
        host = parts.netloc.rsplit("@", 1)[-1]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        defaults = DEFAULT_HEADERS
        if parts.username is not None:  # user:password@ in the URL is HTTP Basic auth, as aiohttp sent it
            user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            defaults = {**defaults, "authorization": f"Authorization: Basic {base64.b64encode(user_pass).decode()}\r\n"}
        target = (pool, f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n".encode(), defaults)
        if len(self._targets) < MAX_TARGETS:
            self._targets[(method, url)] = target
        return target

    async def close(self) -> None:
        self.closed = True
        for pool in self._pools.values():
            pool.close()
