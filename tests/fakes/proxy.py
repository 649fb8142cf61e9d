"""Loopback outbound proxies that record what passed through them: HTTP(S) and SOCKS5.

`FakeHttpProxy` speaks HTTP/1.1 proxying as RFC 9110 describes it: `CONNECT host:port` opens
a tunnel (TLS to the origin passes through unread), and a request in absolute form
(`POST http://host:port/path HTTP/1.1`) is forwarded to the origin in origin form. Given a
server `ssl.SSLContext` it is an `https://` proxy (the client speaks TLS to the proxy first).
`FakeSocks5Proxy` speaks SOCKS5 (RFC 1928) with no authentication and the CONNECT command.

Each connection is recorded (`seen`: the request line or SOCKS target, and the proxy-facing
headers). Both proxies only ever connect to 127.0.0.1: any other target is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field


@dataclass
class Passed:
    method: str  # CONNECT, POST, GET... or SOCKS5
    target: str  # host:port for CONNECT and SOCKS5, the absolute URL otherwise
    headers: dict[str, str] = field(default_factory=dict)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _splice(a: tuple[asyncio.StreamReader, asyncio.StreamWriter], b: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost")


class _Server:
    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.seen: list[Passed] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> _Server:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._track, sock=sock, ssl=self.ssl_context)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class FakeHttpProxy(_Server):
    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _version = line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)}
        self.seen.append(Passed(method, target, headers))
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            if not _loopback(host):
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            origin = await asyncio.open_connection("127.0.0.1", int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _splice((reader, writer), origin)
            return
        scheme, _, rest = target.partition("://")
        authority, _, path = rest.partition("/")
        host, _, port = authority.rpartition(":")
        if scheme != "http" or not _loopback(host):
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        kept = [h for h in header_lines if h and not h.lower().startswith(("proxy-authorization:", "proxy-connection:"))]
        origin = await asyncio.open_connection("127.0.0.1", int(port or 80))
        origin[1].write(f"{method} /{path} HTTP/1.1\r\n".encode("latin-1") + "\r\n".join(kept).encode("latin-1") + b"\r\n\r\n")
        await origin[1].drain()
        await _splice((reader, writer), origin)


class FakeSocks5Proxy(_Server):
    @property
    def url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(b"\x05\x00")  # no authentication
        _ver, command, _rsv, kind = await reader.readexactly(4)
        if kind == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            writer.write(b"\x05\x08\x00\x01" + bytes(6))  # address type not supported
            return
        port = int.from_bytes(await reader.readexactly(2), "big")
        self.seen.append(Passed("SOCKS5", f"{host}:{port}"))
        if command != 1 or not _loopback(host):
            writer.write(b"\x05\x02\x00\x01" + bytes(6))  # not allowed by ruleset
            return
        origin = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x05\x00\x00\x01" + bytes([127, 0, 0, 1]) + port.to_bytes(2, "big"))
        await writer.drain()
        await _splice((reader, writer), origin)
